"""``tfpilot webhook serve``: the webhook receiver under uvicorn."""

from __future__ import annotations

import click


@click.group("webhook")
def webhook() -> None:
    """The GitHub webhook receiver of the infra repository.

    \b
    Example:
      tfpilot webhook serve --host 0.0.0.0 --port 8080
    """


@webhook.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free one).",
)
def serve(host: str, port: int) -> None:
    """Serve POST /github (verified, de-duplicated deliveries) with uvicorn.

    \b
    Example:
      tfpilot webhook serve --port 8080    # GitHub's webhook URL: https://HOST/github
    """
    import uvicorn

    from tfpilot_core.cli.app import app
    from tfpilot_runner_github.webhook import create_webhook_app

    uvicorn.run(
        create_webhook_app(app().platform),
        host=host,
        port=port,
        log_level="warning",
        # As `tfpilot serve`: httptools and uvloop where installed (this plugin depends on both
        # where they exist), else h11 and asyncio.
        http="auto",
        loop="auto",
    )
