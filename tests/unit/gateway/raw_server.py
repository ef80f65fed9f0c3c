"""A bare TCP server on loopback that answers with exactly the bytes a test gives.

For what a well-behaved server cannot do: malformed or oversized answers, a stream cut in the
middle, a provider's own headers. It also keeps every request it received, head and body, so a
test sees what the gateway put on the wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class RawServer:
    port: int
    requests: list[bytes] = field(default_factory=list)
    """Each request received: its head and its body (read by Content-Length)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@asynccontextmanager
async def raw_server(answer: bytes, close: bool = False) -> AsyncIterator[RawServer]:
    """Reads one request per connection and writes `answer` as is; then keeps the connection
    open, or closes it when `close` (an answer cut short)."""
    writers: list[asyncio.StreamWriter] = []
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        head = await reader.readuntil(b"\r\n\r\n")
        received.append(head + await reader.readexactly(_content_length(head)))
        writer.write(answer)
        await writer.drain()
        if close:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield RawServer(server.sockets[0].getsockname()[1], received)
    finally:
        server.close()
        for writer in writers:
            writer.close()
            await writer.wait_closed()
        await server.wait_closed()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0
