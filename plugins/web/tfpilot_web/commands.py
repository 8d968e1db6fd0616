"""``tfpilot serve`` and ``tfpilot tokens``.

Imported whenever ``tfpilot`` starts (the commands are registered then), so FastAPI, uvicorn and
the app are imported inside the command functions.
"""

from __future__ import annotations

import click

from tfpilot_core.cli.app import app, emit, json_option, table


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free one).",
)
@click.option(
    "--log-level",
    "server_log_level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    help="uvicorn's log level (access log at info).",
)
def serve_command(host: str, port: int, server_log_level: str) -> None:
    """Serve the HTTP API (/api, /openapi.json) and the web UI.

    \b
    Examples:
      tfpilot serve --port 8000
      tfpilot serve --host 0.0.0.0 --port 8080 --log-level warning   # behind a proxy
    """
    import uvicorn

    from tfpilot_web.app import create_app
    from tfpilot_web.serving import server_stack, uvicorn_options

    application = create_app(app().platform)
    http, loop = server_stack()
    click.echo(
        f"tfpilot serving on http://{host}:{port} (API docs at /docs; {http}, {loop})", err=True
    )
    from tfpilot_web.server_log import uvicorn_log_config

    uvicorn.run(
        application,
        host=host,
        port=port,
        log_level=server_log_level,
        # Every line uvicorn writes (errors, and the access log's query strings) is scrubbed.
        log_config=uvicorn_log_config(),
        # The client address is decided by the app from [plugins.web] trusted_proxies
        # (tfpilot_web.auth.client_address), never by uvicorn from a header a client can send.
        proxy_headers=False,
        # httptools and uvloop where installed (tfpilot_web.serving), else h11 and asyncio.
        **uvicorn_options(),
    )


@click.group("tokens")
def tokens_group() -> None:
    """API tokens for the HTTP API and the web UI's login (admins only).

    \b
    Examples:
      tfpilot --as admin tokens create --user ci-bot --name "deploy pipeline"
      tfpilot --as admin tokens list
    """


@tokens_group.command("create")
@click.option("--user", required=True, help="The tfpilot user the token acts as.")
@click.option("--name", default="", help="What the token is for (shown by `tokens list`).")
@json_option
def tokens_create(user: str, name: str) -> None:
    """Create a token acting as USER; it is printed once and stored only as a hash.

    \b
    Example:
      tfpilot --as admin tokens create --user ci-bot --name "deploy pipeline"
    """
    from tfpilot_web.auth import create_token

    state = app()
    token, token_id = create_token(state.platform, state.whoami(), user=user, name=name)
    emit(
        {"id": token_id, "user": user, "name": name, "token": token},
        lambda: click.echo(f"{token}\n(token {token_id} for {user}: shown once, store it now)"),
    )


@tokens_group.command("list")
@json_option
def tokens_list() -> None:
    """Every token: id, user, name, creator and time (never the token).

    With --json: {"items": [tokens], "next_cursor": null}.

    \b
    Example:
      tfpilot --as admin --json tokens list | jq -r '.items[].id'
    """
    from tfpilot_core.cli.app import list_envelope
    from tfpilot_web.auth import list_tokens

    state = app()
    rows = list_tokens(state.platform, state.whoami())
    emit(
        list_envelope(rows),
        lambda: table(
            ["id", "user", "name", "created by", "created at"],
            [[r["id"], r["user"], r["name"], r["created_by"], r["created_at"]] for r in rows],
        ),
    )


@tokens_group.command("revoke")
@click.argument("token_id")
@json_option
def tokens_revoke(token_id: str) -> None:
    """Revoke the token with TOKEN_ID (its sessions end too).

    \b
    Example:
      tfpilot --as admin tokens revoke 3f9a2c7d1e0b
    """
    from tfpilot_web.auth import revoke_token

    state = app()
    revoked = revoke_token(state.platform, state.whoami(), token_id)
    emit(revoked, lambda: click.echo(f"revoked token {revoked['id']} of {revoked['user']}"))
