"""Coalesced writes: a response's headers and body leave in one write; nothing is held long."""

from __future__ import annotations

import asyncio

import pytest

from gateway.protocol import CoalescingTransport

pytestmark = pytest.mark.anyio


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


async def test_headers_and_body_leave_together() -> None:
    """Two writes in one turn of the loop become one write, at once."""
    raw = RecordingTransport()
    transport = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"body")
    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    await asyncio.sleep(0)
    assert raw.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]


async def test_a_lone_write_goes_at_the_end_of_the_turn() -> None:
    """A stream chunk written alone is sent when the loop turns, not kept."""
    raw = RecordingTransport()
    transport = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"data: chunk\n\n")
    assert raw.writes == []
    await asyncio.sleep(0)
    assert raw.writes == [b"data: chunk\n\n"]


async def test_close_flushes_first_and_other_calls_pass_through() -> None:
    """Closing sends what is held, then closes; anything else reaches the real transport."""
    raw = RecordingTransport()
    transport = CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"last")
    transport.close()
    assert raw.writes == [b"last"]
    assert raw.closed
    assert transport.get_extra_info("peername") == "info:peername"
    await asyncio.sleep(0)
    assert raw.writes == [b"last"]  # nothing written twice, nothing after close
