"""Stdio for the MCP server that answers every request it read before it stops at end of input.

The SDK's ``stdio_server`` closes the session as soon as stdin reaches end of file, which can
cancel a request that was read but not yet answered: a client that writes its requests and
closes its end (``printf ... | tfpilot mcp serve``) then sometimes gets no answer to the last
one. Here end of input is held back until every request read has been answered (at most
``grace`` seconds), then passed on. Stray writes to fd 1 are sent to stderr, as the SDK does, so
they never corrupt the protocol stream.
"""

from __future__ import annotations

import json
import os
import sys
from io import TextIOWrapper
from typing import Any

import anyio

__all__ = ["run_stdio"]


class _Pending:
    """Ids of requests read and not yet answered."""

    def __init__(self) -> None:
        self.ids: set[Any] = set()
        self.unflushed: list[Any] = []

    @staticmethod
    def _parse(text: str) -> list[dict[str, Any]]:
        try:
            data = json.loads(text)
        except ValueError:
            return []
        items = data if isinstance(data, list) else [data]
        return [m for m in items if isinstance(m, dict)]

    def read(self, line: str) -> None:
        for message in self._parse(line):
            if "method" in message and message.get("id") is not None:
                self.ids.add(json.dumps(message["id"]))

    def written(self, text: str) -> None:
        for message in self._parse(text):
            if "method" not in message and message.get("id") is not None:
                self.unflushed.append(json.dumps(message["id"]))

    def flushed(self) -> None:
        for key in self.unflushed:
            self.ids.discard(key)
        self.unflushed.clear()


class _Input:
    """Lines of stdin; end of file only once every request read was answered."""

    def __init__(self, source: Any, pending: _Pending, grace: float) -> None:
        self._source = source
        self._pending = pending
        self._grace = grace

    def __aiter__(self) -> _Input:
        return self

    async def __anext__(self) -> str:
        line: str = await self._source.readline()
        if line == "":
            with anyio.move_on_after(self._grace):
                while self._pending.ids:
                    await anyio.sleep(0.01)
            raise StopAsyncIteration
        self._pending.read(line)
        return line


class _Output:
    def __init__(self, sink: Any, pending: _Pending) -> None:
        self._sink = sink
        self._pending = pending

    async def write(self, text: str) -> None:
        await self._sink.write(text)
        self._pending.written(text)

    async def flush(self) -> None:
        await self._sink.flush()
        self._pending.flushed()


def run_stdio(server: Any, *, grace: float = 30.0) -> None:
    """Serve ``server`` (an ``MCPServer``) on this process's stdin and stdout until end of input."""
    from mcp.server.stdio import stdio_server

    wire_in = os.dup(0)
    wire_out = os.dup(1)
    # Handlers and libraries that print must not write into the protocol stream.
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    pending = _Pending()
    source = anyio.wrap_file(
        TextIOWrapper(os.fdopen(wire_in, "rb"), encoding="utf-8", errors="replace")
    )
    sink = anyio.wrap_file(TextIOWrapper(os.fdopen(wire_out, "wb"), encoding="utf-8"))

    async def main() -> None:
        # The SDK's low-level server, as MCPServer.run_stdio_async runs it, with our streams.
        lowlevel = server._lowlevel_server
        async with stdio_server(
            stdin=_Input(source, pending, grace), stdout=_Output(sink, pending)
        ) as (read_stream, write_stream):
            await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())

    try:
        anyio.run(main)
    finally:
        sys.stdout.flush()
