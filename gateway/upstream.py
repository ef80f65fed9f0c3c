"""The provider client: the only module that talks httpx.

One `httpx.AsyncClient` per process, created by the app lifespan with explicit pool limits and
timeouts, shared by every request and closed at shutdown. Every httpx failure is translated here
into a `GatewayError`, so routes never see transport details.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from gateway.errors import (
    GatewayError,
    PoolExhaustedError,
    UpstreamFailedError,
    UpstreamRateLimitedError,
    UpstreamTimeoutError,
)
from gateway.settings import GatewaySettings

CHAT_COMPLETIONS_PATH = "/v1/chat/completions"


def _retry_after(response: httpx.Response) -> int:
    """The provider's Retry-After in whole seconds (at least 1), defaulting to 1."""
    raw = response.headers.get("retry-after", "")
    try:
        return max(1, round(float(raw)))
    except ValueError:
        return 1


class UpstreamClient:
    """Calls the provider's OpenAI-compatible API over one pooled connection pool."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    @classmethod
    def from_settings(
        cls, settings: GatewaySettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> UpstreamClient:
        limits = httpx.Limits(
            max_connections=settings.upstream_max_connections,
            max_keepalive_connections=settings.upstream_max_keepalive,
        )
        timeout = httpx.Timeout(
            connect=settings.upstream_connect_timeout,
            read=settings.upstream_read_timeout,
            write=settings.upstream_connect_timeout,
            pool=settings.upstream_pool_timeout,
        )
        token = settings.provider_auth_token.get_secret_value()
        client = httpx.AsyncClient(
            base_url=str(settings.upstream_base_url),
            limits=limits,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}"},
            transport=transport,
        )
        return cls(client)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def chat_completion(self, payload: dict[str, Any]) -> tuple[dict[str, Any], float]:
        """POST a chat completion; returns the decoded body and the upstream latency in seconds."""
        started = time.perf_counter()
        try:
            response = await self._client.post(CHAT_COMPLETIONS_PATH, json=payload)
        except httpx.PoolTimeout as exc:
            raise PoolExhaustedError("upstream pool timeout", retry_after=1) from exc
        except httpx.TimeoutException as exc:
            raise UpstreamTimeoutError(type(exc).__name__) from exc
        except httpx.TransportError as exc:
            raise UpstreamFailedError(type(exc).__name__) from exc
        elapsed = time.perf_counter() - started
        _raise_for_status(response)
        try:
            body = response.json()
        except ValueError as exc:
            raise UpstreamFailedError("upstream body is not JSON") from exc
        if not isinstance(body, dict):
            raise UpstreamFailedError("upstream body is not a JSON object")
        return body, elapsed


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    error: GatewayError
    if status == 429:
        error = UpstreamRateLimitedError("upstream 429", retry_after=_retry_after(response))
    else:
        error = UpstreamFailedError(f"upstream status {status}")
    raise error
