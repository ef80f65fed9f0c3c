"""The provider client: the only module that talks httpx.

One `httpx.AsyncClient` per process, created by the app lifespan with explicit pool limits and
timeouts over the aiohttp-backed transport (`gateway.transport`), shared by every request and
closed at shutdown. Every httpx failure is translated here into a `GatewayError`, so routes never
see transport details.
"""

from __future__ import annotations

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
)
from gateway.settings import GatewaySettings
from gateway.transport import AiohttpTransport

CHAT_COMPLETIONS_PATH = "/v1/chat/completions"


def _retry_after(response: httpx.Response) -> int:
    """The provider's Retry-After in whole seconds (at least 1), defaulting to 1."""
    raw = response.headers.get("retry-after", "")
    try:
        return max(1, round(float(raw)))
    except ValueError:
        return 1


def _translate(exc: httpx.HTTPError) -> GatewayError:
    if isinstance(exc, httpx.PoolTimeout):
        return PoolExhaustedError("upstream pool timeout", retry_after=1)
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeoutError(type(exc).__name__)
    return UpstreamFailedError(type(exc).__name__)


def _status_error(response: httpx.Response) -> GatewayError | None:
    status = response.status_code
    if status < 400:
        return None
    if status == 429:
        return UpstreamRateLimitedError("upstream 429", retry_after=_retry_after(response))
    return UpstreamFailedError(f"upstream status {status}")


class UpstreamClient:
    """Calls the provider's OpenAI-compatible API over one pooled connection pool."""

    def __init__(self, client: httpx.AsyncClient, transport: AiohttpTransport | None) -> None:
        self._client = client
        self.pool = transport
        """The pooled transport, for pool metrics (None when a test injected its own)."""

    @classmethod
    def from_settings(
        cls, settings: GatewaySettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> UpstreamClient:
        pool = None
        if transport is None:
            pool = AiohttpTransport(
                settings.upstream_max_connections, settings.upstream_max_keepalive
            )
            transport = pool
        timeout = httpx.Timeout(
            connect=settings.upstream_connect_timeout,
            read=settings.upstream_read_timeout,
            write=settings.upstream_connect_timeout,
            pool=settings.upstream_pool_timeout,
        )
        token = settings.provider_auth_token.get_secret_value()
        client = httpx.AsyncClient(
            base_url=str(settings.upstream_base_url),
            limits=httpx.Limits(
                max_connections=settings.upstream_max_connections,
                max_keepalive_connections=settings.upstream_max_keepalive,
            ),
            timeout=timeout,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Accept-Encoding": "identity",
            },
            transport=transport,
        )
        return cls(client, pool)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def chat_completion(self, payload: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """POST a chat completion; returns the decoded body and the upstream latency in seconds."""
        started = time.perf_counter()
        try:
            response = await self._client.post(CHAT_COMPLETIONS_PATH, content=orjson.dumps(payload))
        except httpx.HTTPError as exc:
            raise _translate(exc) from exc
        elapsed = time.perf_counter() - started
        error = _status_error(response)
        if error is not None:
            raise error
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise UpstreamFailedError("upstream body is not JSON") from exc
        if not isinstance(body, dict):
            raise UpstreamFailedError("upstream body is not a JSON object")
        return body, elapsed

    @asynccontextmanager
    async def stream_chat_completion(
        self, payload: dict[str, Any]
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        """Open a streamed completion; yields its raw bytes as they arrive.

        Errors before the first byte (status, connect) raise `GatewayError`; leaving the context
        closes the upstream response, which cancels the provider's work if it was not finished.
        """
        request = self._client.build_request(
            "POST", CHAT_COMPLETIONS_PATH, content=orjson.dumps(payload)
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise _translate(exc) from exc
        try:
            error = _status_error(response)
            if error is not None:
                raise error
            yield _translated(response.aiter_raw())
        finally:
            await response.aclose()


async def _translated(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The stream's bytes, with transport failures mid-stream turned into `GatewayError`."""
    try:
        async for chunk in chunks:
            yield chunk
    except httpx.HTTPError as exc:
        raise _translate(exc) from exc
