"""``tfpilot mcp serve`` over stdio, driven by the ``mcp`` package's own client in a subprocess."""

from __future__ import annotations

from typing import Any

import pytest
from mcp_helpers import World, json_of, text_of

from tfpilot_mcp.tools import ACTING, NEVER

pytestmark = pytest.mark.slow

READ_TOOLS = {
    "catalog",
    "module_schema",
    "list_requests",
    "show_request",
    "timeline",
    "policy_show",
    "query",
    "ask",
    "draft_request",
}


def test_read_tools_only_by_default_and_never_destructive_ones(world: World) -> None:
    async def steps(session: Any) -> set[str]:
        return {t.name for t in (await session.list_tools()).tools}

    names = world.session("vera", steps)
    assert names == READ_TOOLS
    names = world.session("alice", steps, ["--allow", "create", "--allow", "plan"])
    assert names == READ_TOOLS | {"create_request", "plan_request"}
    assert not any(word in name for name in names for word in NEVER if word not in ACTING)


def test_a_viewer_of_one_project_never_sees_another_projects_requests(world: World) -> None:
    billing = world.ids[6]
    shop = world.ids[4]

    async def steps(session: Any) -> dict[str, Any]:
        return {
            "list": json_of(await session.call_tool("list_requests", {"limit": 100})),
            "billing_list": json_of(
                await session.call_tool("list_requests", {"project": "billing"})
            ),
            "query": json_of(await session.call_tool("query", {"query": {"aggregate": "count"}})),
            "query_billing": json_of(
                await session.call_tool("query", {"query": {"projects": ["billing"]}})
            ),
            "ask": json_of(
                await session.call_tool("ask", {"question": "how many requests are there?"})
            ),
            "show_other": await session.call_tool("show_request", {"request_id": billing}),
            "timeline_other": await session.call_tool("timeline", {"request_id": billing}),
            "show_own": json_of(await session.call_tool("show_request", {"request_id": shop})),
        }

    got = world.session("vera", steps)
    assert got["list"]["count"] == 5
    assert {row["project"] for row in got["list"]["items"]} == {"shop"}
    assert got["billing_list"]["count"] == 0
    assert got["query"]["count"] == 5
    assert got["query_billing"]["count"] == 0
    assert got["ask"]["result"]["count"] == 5
    assert got["ask"]["query"] == {"aggregate": "count"}
    for denied in (got["show_other"], got["timeline_other"]):
        assert denied.is_error
        assert "vera may not read" in text_of(denied)
        assert "created_by" not in text_of(denied)
    assert got["show_own"]["id"] == shop


def test_draft_request_validates_and_previews_without_creating(world: World) -> None:
    async def steps(session: Any) -> dict[str, Any]:
        before = json_of(await session.call_tool("query", {"query": {"aggregate": "count"}}))
        bad = json_of(
            await session.call_tool(
                "draft_request",
                {
                    "module": "sandbox/bucket",
                    "environment": "dev",
                    "project": "shop",
                    "inputs": {"name": "logs", "region": "mars-1", "colour": "red"},
                },
            )
        )
        good = json_of(
            await session.call_tool(
                "draft_request",
                {
                    "module": "sandbox/bucket",
                    "environment": "dev",
                    "project": "shop",
                    "inputs": {"name": "logs"},
                },
            )
        )
        after = json_of(await session.call_tool("query", {"query": {"aggregate": "count"}}))
        schema = json_of(await session.call_tool("module_schema", {"module": "sandbox/bucket"}))
        catalog = json_of(await session.call_tool("catalog", {}))
        policy = json_of(await session.call_tool("policy_show", {}))
        return {
            "before": before,
            "bad": bad,
            "good": good,
            "after": after,
            "schema": schema,
            "catalog": catalog,
            "policy": policy,
        }

    got = world.session("alice", steps)
    assert got["bad"]["valid"] is False
    rules = {(p["field"], p["rule"]) for p in got["bad"]["problems"]}
    assert ("inputs.region", "allowlist") in rules
    assert ("inputs.colour", "unknown_key") in rules
    assert got["good"]["valid"] is True and got["good"]["created"] is False
    assert got["good"]["may_create"] is True
    assert got["good"]["inputs"]["name"].startswith("logs-")
    assert got["good"]["inputs"]["tags"]["tfpilot:project"] == "shop"
    assert got["before"]["count"] == got["after"]["count"] == 12
    # Terraform variables are nullable unless `nullable = false` (issue 29): null is allowed.
    assert got["schema"]["properties"]["region"]["enum"] == ["local-1", "local-2", "local-3", None]
    assert "sandbox/bucket" in {m["name"] for m in got["catalog"]["modules"]}
    assert "dev" in got["policy"]["environments"]


def test_acting_tools_act_as_the_server_identity_under_rbac(world: World) -> None:
    args = {
        "module": "sandbox/bucket",
        "environment": "dev",
        "project": "shop",
        "inputs": {"name": "made-by-agent"},
    }

    async def steps(session: Any) -> Any:
        return await session.call_tool("create_request", args)

    created = json_of(world.session("alice", steps, ["--allow", "create"]))
    assert created["created_by"] == "alice"
    assert created["status"] == "request_created"
    # A viewer's server with create turned on still cannot create: RBAC decides, not the tool.
    refused = world.session("vera", steps, ["--allow", "create"])
    assert refused.is_error
    assert "vera (viewer) may not create" in text_of(refused)
    # Off unless turned on: the tool does not exist.
    off = world.session("alice", steps)
    assert off.is_error
    assert "create_request" in text_of(off)


def test_acting_tools_can_be_turned_on_in_the_configuration(world: World) -> None:
    world.config.write_text(
        world.config.read_text() + '\n[plugins.mcp_server]\nacting_tools = ["plan"]\n'
    )

    async def steps(session: Any) -> set[str]:
        return {t.name for t in (await session.list_tools()).tools}

    assert world.session("alice", steps) == READ_TOOLS | {"plan_request"}


def test_requests_written_before_end_of_input_are_all_answered(world: World) -> None:
    # A client that writes its messages and closes stdin at once (as shell pipes do) gets an
    # answer to each request: end of input waits for the answers (this raced before).
    import json
    import subprocess

    from mcp_helpers import TFPILOT

    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "pipe", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
         "params": {"name": "query", "arguments": {"query": {"aggregate": "count"}}}},
    ]  # fmt: skip
    payload = "".join(json.dumps(line) + "\n" for line in lines)
    for _ in range(3):
        out = subprocess.run(
            [TFPILOT, "mcp", "serve"],
            input=payload,
            capture_output=True,
            text=True,
            env=world.env("vera"),
            cwd=world.root,
            timeout=60,
            check=True,
        )
        answers = {m["id"]: m for m in map(json.loads, out.stdout.splitlines())}
        assert sorted(answers) == [1, 2, 3]
        assert len(answers[2]["result"]["tools"]) == 9
        assert json.loads(answers[3]["result"]["content"][0]["text"])["count"] == 5
