"""The provider client: the only module that talks httpx.

One pooled transport per process (`gateway.transport`: the lean HTTP/1.1 client of
`gateway.h1` for whole answers, aiohttp for streams), created by the app lifespan with explicit
pool limits and timeouts, shared by every request and closed at shutdown.
Requests are httpx `Request`s sent straight to the transport with a prebuilt URL and headers:
httpx's `AsyncClient` layer (URL merging, cookie and auth hooks, header copies) cost about a
third of the gateway's CPU per request here, and the gateway needs none of it. Tests inject any
httpx transport (`MockTransport`, `ASGITransport`). Every failure is translated here into a
`GatewayError`, so routes never see transport details.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson

from gateway.errors import (
    GatewayError,
    PoolExhaustedError,
    UpstreamFailedError,
    UpstreamRateLimitedError,
    UpstreamTimeoutError,
    encode_json,
)
from gateway.settings import GatewaySettings
from gateway.sse import EventFramer
from gateway.transport import AiohttpTransport, AnswerTooLargeError

CHAT_COMPLETIONS_PATH = "/v1/chat/completions"
MAX_RETRY_AFTER_S = 3600


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


def _translate(exc: httpx.HTTPError) -> GatewayError:
    if isinstance(exc, httpx.PoolTimeout):
        return PoolExhaustedError("upstream pool timeout", retry_after=1)
    if isinstance(exc, AnswerTooLargeError):
        return UpstreamFailedError(str(exc))
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeoutError(type(exc).__name__)
    return UpstreamFailedError(type(exc).__name__)


def _status_error(status: int, retry_after: str | None) -> GatewayError | None:
    if status < 400:
        return None
    if status == 429:
        return UpstreamRateLimitedError("upstream 429", retry_after=_retry_after(retry_after))
    return UpstreamFailedError(f"upstream status {status}")


class UpstreamClient:
    """Calls the provider's OpenAI-compatible API over one pooled connection pool."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        base_url: str,
        headers: dict[str, str],
        timeout: httpx.Timeout,
        max_answer_bytes: int,
        max_event_bytes: int,
    ) -> None:
        self._transport = transport
        self._max_answer_bytes = max_answer_bytes
        self._max_event_bytes = max_event_bytes
        self._url = httpx.URL(base_url.rstrip("/") + CHAT_COMPLETIONS_PATH)
        self._headers = httpx.Headers(headers)
        self._header_list = list(headers.items())
        self._timeouts = timeout.as_dict()
        self._extensions = {"timeout": self._timeouts}
        self._name = httpx.Request("POST", self._url)
        """Names every call in transport errors (the fast path builds no request per call)."""
        self.pool = transport if isinstance(transport, AiohttpTransport) else None
        """The pooled transport, for pool metrics (None when a test injected its own)."""

    @classmethod
    def from_settings(
        cls, settings: GatewaySettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> UpstreamClient:
        if transport is None:
            transport = AiohttpTransport(
                settings.upstream_max_connections,
                settings.upstream_max_keepalive,
                max_answer_bytes=settings.upstream_max_response_bytes,
            )
        timeout = httpx.Timeout(
            connect=settings.upstream_connect_timeout,
            read=settings.upstream_read_timeout,
            write=settings.upstream_connect_timeout,
            pool=settings.upstream_pool_timeout,
        )
        token = settings.provider_auth_token.get_secret_value()
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "Accept-Encoding": "identity",
        }
        return cls(
            transport,
            str(settings.upstream_base_url),
            headers,
            timeout,
            max_answer_bytes=settings.upstream_max_response_bytes,
            max_event_bytes=settings.upstream_max_event_bytes,
        )

    async def aclose(self) -> None:
        await self._transport.aclose()

    def _request(self, payload: dict[str, Any]) -> httpx.Request:
        return httpx.Request(
            "POST",
            self._url,
            headers=self._headers,
            content=encode_json(payload),
            extensions=self._extensions,
        )

    async def _post(self, payload: dict[str, Any]) -> tuple[int, str | None, bytes]:
        """A whole non-streaming exchange: the pool's direct path when the transport is ours."""
        try:
            if self.pool is not None:
                body = encode_json(payload)
                return await self.pool.post(self._name, self._header_list, body, self._timeouts)
            response = await self._transport.handle_async_request(self._request(payload))
            try:
                content = await self._read_bounded(response)
            finally:
                await response.aclose()
            return response.status_code, response.headers.get("retry-after"), content
        except httpx.HTTPError as exc:
            raise _translate(exc) from exc

    async def _read_bounded(self, response: httpx.Response) -> bytes:
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._max_answer_bytes:
                raise UpstreamFailedError(f"answer larger than {self._max_answer_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def _send(self, payload: dict[str, Any]) -> httpx.Response:
        try:
            return await self._transport.handle_async_request(self._request(payload))
        except httpx.HTTPError as exc:
            raise _translate(exc) from exc

    async def chat_completion(self, payload: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """POST a chat completion; returns the decoded body and the upstream latency in seconds."""
        started = time.perf_counter()
        status, retry_after, content = await self._post(payload)
        elapsed = time.perf_counter() - started
        error = _status_error(status, retry_after)
        if error is not None:
            raise error
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise UpstreamFailedError("upstream body is not JSON") from exc
        if not isinstance(body, dict):
            raise UpstreamFailedError("upstream body is not a JSON object")
        if body.get("error") is not None:  # a 200 carrying an error: its text is the provider's
            raise UpstreamFailedError("upstream error object in a 200 answer")
        return body, elapsed

    @asynccontextmanager
    async def stream_chat_completion(
        self, payload: dict[str, Any]
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        """Open a streamed completion; yields its whole events as they arrive.

        Errors before the first byte (status, connect) raise `GatewayError`; leaving the context
        closes the upstream response, which cancels the provider's work if it was not finished.
        """
        response = await self._send(payload)
        try:
            error = _status_error(response.status_code, response.headers.get("retry-after"))
            if error is not None:
                raise error
            yield _events(response.aiter_raw(), EventFramer(self._max_event_bytes))
        finally:
            await response.aclose()


async def _events(chunks: AsyncIterator[bytes], framer: EventFramer) -> AsyncIterator[bytes]:
    """The stream's whole events; transport failures mid-stream, error events and events past
    the bound raise `GatewayError`."""
    try:
        async for chunk in chunks:
            events = framer.feed(chunk)
            if events:
                yield events
            if framer.error is not None:
                raise framer.error
    except httpx.HTTPError as exc:
        raise _translate(exc) from exc
    rest = framer.rest()
    if rest:
        yield rest
    if framer.error is not None:
        raise framer.error
