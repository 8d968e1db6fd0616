"""The MCP server: tfpilot's tools over the official ``mcp`` package (``MCPServer``), on stdio.

Imported only by ``tfpilot mcp serve`` (it loads ``mcp``). Each tool calls
:class:`tfpilot_mcp.tools.Tools`; tfpilot's errors become MCP tool errors carrying the same
one-line message the CLI prints.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from tfpilot_core.errors import TfpilotError
from tfpilot_core.platform import Platform
from tfpilot_mcp.tools import ACTING, Tools

__all__ = ["build_server"]

_READ = ToolAnnotations(readOnlyHint=True, destructiveHint=False, openWorldHint=False)
_ACT = ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=False)


def _guard(call: Callable[[], dict[str, Any]]) -> str:
    try:
        return json.dumps(call(), indent=2, default=str)
    except TfpilotError as exc:
        raise ToolError(exc.message) from None
    except ValueError as exc:  # pydantic's ValidationError of a malformed query
        raise ToolError(f"invalid arguments: {exc}") from None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tfpilot-mcp")
    except PackageNotFoundError:
        return "0"


def build_server(platform: Platform, actor: str, acting: Collection[str] = ()) -> MCPServer[Any]:
    """An MCP server whose tools act for ``actor``; ``acting`` turns on create and/or plan."""
    unknown = set(acting) - set(ACTING)
    if unknown:
        raise ValueError(f"unknown acting tools: {', '.join(sorted(unknown))}")
    tools = Tools(platform, actor)
    server: MCPServer[Any] = MCPServer(
        name="tfpilot",
        version=_version(),
        instructions=(
            "tfpilot: self-service Terraform requests. Read the catalog and module schemas, "
            "list and show requests, query them, and draft requests (draft_request validates "
            f"and previews policy without creating anything). Acting as {actor}."
        ),
    )

    def catalog() -> str:
        """Every catalog module: name, description, category, risk and inputs."""
        return _guard(tools.catalog)

    def module_schema(module: str) -> str:
        """The JSON Schema of a module's inputs (allowlisted values are enums)."""
        return _guard(lambda: tools.module_schema(module))

    def list_requests(
        environment: str | None = None,
        project: str | None = None,
        module: str | None = None,
        status: str | None = None,
        author: str | None = None,
        limit: int = 50,
    ) -> str:
        """Requests you may read, newest first (filters are optional)."""
        return _guard(
            lambda: tools.list_requests(environment, project, module, status, author, limit)
        )

    def show_request(request_id: str) -> str:
        """One request (sensitive inputs masked)."""
        return _guard(lambda: tools.show_request(request_id))

    def timeline(request_id: str) -> str:
        """A request's events, oldest first."""
        return _guard(lambda: tools.timeline(request_id))

    def policy_show(environment: str | None = None) -> str:
        """The effective policy per environment: rules, levels, parameters."""
        return _guard(lambda: tools.policy_show(environment))

    def query(query: dict[str, Any]) -> str:
        """Run a structured query over requests. Fields (all optional): statuses, environments,
        projects, modules, authors (lists); drift (drifted|none|error|unchecked);
        created_since, created_before, applied_since, drifted_since (ISO 8601); cost (list of
        {measure: total|delta, op: gt|gte|lt|lte, amount}); events (list of {kind, since});
        aggregate (list|count|sum_cost); group_by (module|environment|project|status|author);
        sort (-created|created|-cost|cost|-applied|-drifted); limit."""
        return _guard(lambda: tools.query(query))

    def ask(question: str) -> str:
        """Answer an English question about requests offline; returns the query it ran."""
        return _guard(lambda: tools.ask(question))

    def draft_request(
        module: str, environment: str, project: str, inputs: dict[str, Any] | None = None
    ) -> str:
        """Validate a request's inputs and preview policy. Creates nothing."""
        return _guard(lambda: tools.draft_request(module, environment, project, inputs or {}))

    for fn in (
        catalog,
        module_schema,
        list_requests,
        show_request,
        timeline,
        policy_show,
        query,
        ask,
        draft_request,
    ):
        server.add_tool(fn, annotations=_READ, structured_output=False)

    if "create" in acting:

        def create_request(
            module: str,
            environment: str,
            project: str,
            inputs: dict[str, Any] | None = None,
            idempotency_key: str | None = None,
        ) -> str:
            """Create a request (as the server's identity, under its RBAC)."""
            return _guard(
                lambda: tools.create_request(
                    module, environment, project, inputs or {}, idempotency_key
                )
            )

        server.add_tool(create_request, annotations=_ACT, structured_output=False)
    if "plan" in acting:

        def plan_request(request_id: str) -> str:
            """Plan a request: Terraform plan, policy, cost (as the server's identity)."""
            return _guard(lambda: tools.plan_request(request_id))

        server.add_tool(plan_request, annotations=_ACT, structured_output=False)
    return server
