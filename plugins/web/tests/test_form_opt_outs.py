"""Opt-outs in the request form, in process: the preview offers one for a finding whose rule may
be opted out of, shows the core's problems beside the rule's field, and the create records it as
the CLI does (``{"rule_id", "justification"}``). The browser test is in
``test_opt_out_browser.py``."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tfpilot_core.platform import Platform

from .conftest import MODULE_TF, MODULE_TOML
from .test_pages import HTML, csrf_of, log_in

MODULE = "test/bucket"
RULE = "public_access.blocked"
WHY = "A public demo web server for the conference booth, torn down on Friday."


@pytest.fixture
def module_dir(tmp_path: Path, register_plugin: Callable[..., str]) -> Path:
    """The test module with a ``public_access`` input, judged by the built-in policy rules
    (registered here, before the ``platform`` fixture builds its platform)."""
    from tfpilot_policy_builtin import plugin as builtin_plugin

    register_plugin(builtin_plugin, name="policy_builtin")
    path = tmp_path / "modules" / "test" / "bucket"
    path.mkdir(parents=True)
    public = 'variable "public_access" {\n  type    = bool\n  default = false\n}\n'
    (path / "variables.tf").write_text(MODULE_TF + public)
    (path / "tfpilot.module.toml").write_text(MODULE_TOML)
    return path


def _form(client: Any) -> dict[str, str]:
    page = client.get(f"/catalog/{MODULE}", headers=HTML).text
    return {
        "csrf_token": csrf_of(page),
        "environment": "dev",
        "project": "shop",
        "input.name": "site",
        "input.public_access": "true",
    }


def test_the_preview_offers_an_opt_out_and_shows_the_cores_verdict(
    client: Any, tokens: dict[str, str]
) -> None:
    log_in(client, tokens["dev"])
    form = _form(client)
    blocked = client.post(f"/catalog-preview/{MODULE}", data=form).text
    assert 'data-testid="preview-blocked"' in blocked
    assert f'name="opt_out.{RULE}"' in blocked and "Request an opt-out of" in blocked
    # A rule that is not a security default offers nothing (tags, cost... are configuration).
    offered = re.findall(r'name="opt_out\.([^"]+)"', blocked)
    assert offered == [RULE]

    short = client.post(f"/catalog-preview/{MODULE}", data={**form, f"opt_out.{RULE}": "demo"})
    assert 'data-testid="opt-out-error"' in short.text and "10 characters" in short.text
    assert 'aria-invalid="true"' in short.text and ">demo</textarea>" in short.text

    fine = client.post(f"/catalog-preview/{MODULE}", data={**form, f"opt_out.{RULE}": WHY})
    assert 'data-testid="preview-blocked"' not in fine.text
    assert "opted out by dev" in fine.text and 'data-testid="opt-out-error"' not in fine.text


def test_create_with_an_opt_out_from_the_form(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    log_in(client, tokens["dev"])
    form = _form(client)
    refused = client.post(
        f"/catalog/{MODULE}", data={**form, f"opt_out.{RULE}": "demo"}, headers=HTML
    )
    assert refused.status_code == 422
    assert f"opt-out of {RULE}" in refused.text and "10 characters" in refused.text
    # The justification typed goes back to the preview with the page.
    assert f'<input type="hidden" name="opt_out.{RULE}" value="demo">' in refused.text

    created = client.post(
        f"/catalog/{MODULE}",
        data={**form, f"opt_out.{RULE}": WHY, "plan_now": ""},
        headers=HTML,
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    request = platform.get(created.headers["location"].rsplit("/", 1)[-1])
    assert [(o.rule_id, o.justification, o.actor) for o in request.opt_outs] == [(RULE, WHY, "dev")]


def test_the_chat_assistant_asks_for_the_opt_out_too(
    client: Any, platform: Platform, tokens: dict[str, str]
) -> None:
    """The chat page replays the core's assistant, so its opt-out question is asked there too;
    a refused justification is said and the question asked again."""
    log_in(client, tokens["dev"])
    page = client.get("/chat", headers=HTML).text
    started = client.post(
        "/chat/new", data={"csrf_token": csrf_of(page)}, headers=HTML, follow_redirects=False
    )
    url = started.headers["location"]
    answers = {
        "describe": "a bucket",
        "module": MODULE,
        "environment": "dev",
        "project": "shop",
        "input:name": "site",
        "input:public_access": "true",
        f"opt_out:{RULE}": ["demo", WHY],
        "confirm": "yes",
    }
    asked: list[str] = []
    for _ in range(30):
        page = client.get(url, headers=HTML).text
        found = re.search(r'name="key" value="([^"]+)"', page)
        if found is None:
            break
        key = found.group(1)
        asked.append(key)
        given = answers.get(key, "")
        answer = given.pop(0) if isinstance(given, list) else given
        client.post(url, data={"csrf_token": csrf_of(page), "key": key, "answer": answer})
    assert asked.count(f"opt_out:{RULE}") == 2, asked
    assert "opt_outs[0].justification" in page
    created = re.search(r'data-testid="created">Created <a href="/requests/([^"]+)"', page)
    assert created, page[-2000:]
    request = platform.get(created.group(1))
    assert [(o.rule_id, o.justification) for o in request.opt_outs] == [(RULE, WHY)]
