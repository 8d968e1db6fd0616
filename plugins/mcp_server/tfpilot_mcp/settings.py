"""``[plugins.mcp_server]``: what the MCP server exposes beyond the read tools."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class MCPSettings(BaseModel):
    """Settings of ``tfpilot mcp serve``.

    ``acting_tools``: the acting tools to expose (``create``, ``plan``); none by default. They act
    as the identity the server was started with (``--as``, ``$TFPILOT_USER``), under the same
    RBAC as the CLI. Approving, applying and destroying are never exposed, whatever is set.
    """

    model_config = ConfigDict(extra="forbid")

    acting_tools: list[Literal["create", "plan"]] = Field(default_factory=list)
