"""The provider in-process, plugged in at the gateway's upstream seam (`gateway.upstream.Upstream`).

A test gives a `reply` function: it receives each request body the gateway sends and returns a
`Reply`, or an awaitable of one (so a test can hold calls open). Everything above the seam runs as
in production: JSON encoding, provider statuses and Retry-After, error objects, SSE framing,
single-flight, the cache and the routes. What lies below it (connections, timeouts, pool slots,
the mapping of transport failures) is tested against real servers on loopback, in `test_pool.py`
and `test_h1.py`.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.errors import GatewayError
from gateway.upstream import UpstreamAnswer, UpstreamStream


@dataclass(frozen=True)
class Reply:
    """What the provider answers: a status, a Retry-After, a body whole or as `chunks`; or the
    `GatewayError` the pool would raise instead (a timeout, a refused connection)."""

    status: int = 200
    body: bytes = b""
    retry_after: str | None = None
    chunks: Iterable[bytes] | AsyncIterable[bytes] | None = None
    error: GatewayError | None = None

    @classmethod
    def json(cls, value: Any, status: int = 200) -> Reply:
        return cls(status=status, body=orjson.dumps(value))


ReplyFunction = Callable[[bytes], Reply | Awaitable[Reply]]


class FakeProvider:
    """An `Upstream` that answers with `reply(body)` and keeps every body it was sent."""

    def __init__(self, reply: ReplyFunction) -> None:
        self._reply = reply
        self.bodies: list[bytes] = []
        self.in_use = 0
        self.closed = False

    async def post(self, body: bytes) -> UpstreamAnswer:
        self.in_use += 1
        try:
            reply = await self._answer(body)
        finally:
            self.in_use -= 1
        return UpstreamAnswer(reply.status, reply.retry_after, reply.body)

    @asynccontextmanager
    async def stream(self, body: bytes) -> AsyncIterator[UpstreamStream]:
        self.in_use += 1
        try:
            reply = await self._answer(body)
            yield UpstreamStream(reply.status, reply.retry_after, _chunks(reply))
        finally:
            self.in_use -= 1

    def connections_in_use(self) -> int:
        return self.in_use

    def connections_idle(self) -> int:
        return 0

    async def aclose(self) -> None:
        self.closed = True

    async def _answer(self, body: bytes) -> Reply:
        self.bodies.append(body)
        reply = self._reply(body)
        if inspect.isawaitable(reply):
            reply = await reply
        if reply.error is not None:
            raise reply.error
        return reply


async def _chunks(reply: Reply) -> AsyncIterator[bytes]:
    source = reply.chunks if reply.chunks is not None else [reply.body]
    if isinstance(source, AsyncIterable):
        async for chunk in source:
            yield chunk
    else:
        for chunk in source:
            yield chunk
