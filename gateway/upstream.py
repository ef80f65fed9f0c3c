"""The provider as the gateway sees it: one seam, `Upstream`, and the code above it.

    HotPath, CompletionService
    └── UpstreamClient      JSON out and in, provider statuses, error objects, whole SSE events
        └── Upstream        the seam: post(body) -> UpstreamAnswer, stream(body) -> UpstreamStream
            ├── PooledUpstream (gateway.pool): production, the lean HTTP/1.1 client and aiohttp
            └── a test double: the provider in-process, for unit tests

An `Upstream` sends a request body to the provider's chat-completions endpoint (its URL, its
token and its timeouts are its own) and gives back what the provider said: the status, its
Retry-After and the body, whole or as chunks. It raises nothing but `GatewayError`s: a timeout,
an exhausted pool, a refused or reset connection, an answer too large are mapped once, where they
happen. What a status or a body means is decided above it, here; so a test double plugged in at
the seam runs every line that production runs above it (before, tests injected an httpx
transport and took a branch production never took).
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, NamedTuple, Protocol

import orjson

from gateway.errors import (
    GatewayError,
    UpstreamFailedError,
    UpstreamRateLimitedError,
    encode_json,
)
from gateway.sse import EventFramer

MAX_RETRY_AFTER_S = 3600


class UpstreamAnswer(NamedTuple):
    """A whole answer: the provider's status, its Retry-After header (if any) and its body."""

    status: int
    retry_after: str | None
    body: bytes


class UpstreamStream(NamedTuple):
    """A streamed answer: status and Retry-After at once, the body as chunks as they arrive.
    Iterating `chunks` raises `GatewayError` when the transfer fails midway."""

    status: int
    retry_after: str | None
    chunks: AsyncIterator[bytes]


class Upstream(Protocol):
    """The provider's chat-completions endpoint. Every failure is a `GatewayError`."""

    async def post(self, body: bytes) -> UpstreamAnswer:
        """POST `body`; the whole answer."""
        ...

    def stream(self, body: bytes) -> AbstractAsyncContextManager[UpstreamStream]:
        """POST `body` and open its answer; leaving the context closes it (and, unfinished,
        tells the provider that nobody is reading)."""
        ...

    def connections_in_use(self) -> int:
        """Connections (or calls) busy now, for `gateway_upstream_pool_connections_in_use`."""
        ...

    def connections_idle(self) -> int:
        """Keep-alive connections waiting, for `gateway_upstream_pool_connections_idle`."""
        ...

    async def aclose(self) -> None: ...


def _retry_after(raw: str | None) -> int:
    """The provider's Retry-After in whole seconds, clamped to 1..`MAX_RETRY_AFTER_S`; 1 when
    it is not a number (`inf` used to crash the request, `1e300` to send 301 digits on)."""
    try:
        seconds = float(raw or "")
    except ValueError:
        return 1
    if not math.isfinite(seconds):
        return 1
    return min(MAX_RETRY_AFTER_S, max(1, round(seconds)))


def _status_error(status: int, retry_after: str | None) -> GatewayError | None:
    if status < 400:
        return None
    if status == 429:
        return UpstreamRateLimitedError("upstream 429", retry_after=_retry_after(retry_after))
    return UpstreamFailedError(f"upstream status {status}")


class UpstreamClient:
    """Chat completions over an `Upstream`: what the gateway's routes call."""

    def __init__(self, upstream: Upstream, max_event_bytes: int) -> None:
        self._upstream = upstream
        self._max_event_bytes = max_event_bytes

    async def aclose(self) -> None:
        await self._upstream.aclose()

    async def chat_completion(self, payload: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """POST a chat completion; returns the decoded body and the upstream latency in seconds."""
        body = encode_json(payload)
        started = time.perf_counter()
        status, retry_after, content = await self._upstream.post(body)
        elapsed = time.perf_counter() - started
        error = _status_error(status, retry_after)
        if error is not None:
            raise error
        try:
            completion = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise UpstreamFailedError("upstream body is not JSON") from exc
        if not isinstance(completion, dict):
            raise UpstreamFailedError("upstream body is not a JSON object")
        if completion.get("error") is not None:  # a 200 carrying an error: the provider's text
            raise UpstreamFailedError("upstream error object in a 200 answer")
        return completion, elapsed

    @asynccontextmanager
    async def stream_chat_completion(
        self, payload: dict[str, Any]
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        """Open a streamed completion; yields its whole events as they arrive.

        Errors before the first byte (status, connect) raise `GatewayError`; leaving the context
        closes the upstream answer, which cancels the provider's work if it was not finished.
        """
        async with self._upstream.stream(encode_json(payload)) as answer:
            error = _status_error(answer.status, answer.retry_after)
            if error is not None:
                raise error
            yield _events(answer.chunks, EventFramer(self._max_event_bytes))


async def _events(chunks: AsyncIterator[bytes], framer: EventFramer) -> AsyncIterator[bytes]:
    """The stream's whole events; error events and events past the bound raise `GatewayError`
    (as does the transfer itself, failing midway)."""
    async for chunk in chunks:
        events = framer.feed(chunk)
        if events:
            yield events
        if framer.error is not None:
            raise framer.error
    rest = framer.rest()
    if rest:
        yield rest
    if framer.error is not None:
        raise framer.error
