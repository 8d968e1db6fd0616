"""Helpers of the MCP tests: the ``mcp`` package's own client talking to ``tfpilot mcp serve``
in a subprocess.

The store is seeded with the twelve requests of ``tests/query/query_world.py`` (projects shop,
billing and search); users and grants are those of that world.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests" / "query"))

from query_world import CONFIG, IDS, seed  # noqa: E402

__all__ = ["CONFIG", "IDS", "TFPILOT", "World", "json_of", "seed", "text_of"]

TFPILOT = str(Path(sys.executable).parent / "tfpilot")


class World:
    """Where the seeded configuration lives, and a way to run a client session against it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.config = root / "tfpilot.toml"
        self.ids = IDS

    def env(self, user: str) -> dict[str, str]:
        return {
            "HOME": str(self.root),
            "TFPILOT_HOME": str(self.home),
            "TFPILOT_CONFIG": str(self.config),
            "TFPILOT_USER": user,
            "CHECKPOINT_DISABLE": "1",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        }

    def session(self, user: str, steps: Callable[[Any], Any], args: Sequence[str] = ()) -> Any:
        """Start the server as ``user``, initialize, run ``await steps(session)``, stop."""
        from mcp.client.session import ClientSession
        from mcp.client.stdio import StdioServerParameters, stdio_client

        params = StdioServerParameters(
            command=TFPILOT, args=["mcp", "serve", *args], env=self.env(user), cwd=self.root
        )

        async def main() -> Any:
            async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                with anyio.fail_after(60):
                    return await steps(session)

        return anyio.run(main)


def text_of(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


def json_of(result: Any) -> Any:
    assert not result.is_error, text_of(result)
    return json.loads(text_of(result))
