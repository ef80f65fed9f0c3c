"""Redis response cache for deterministic requests.

Key: `loadgate:v1:` + SHA-256 of the canonical JSON of the upstream request (model, messages,
max_tokens, temperature and any other field sent), so two requests share an entry only when the
provider would see the same call. Only deterministic requests are cached: temperature at or below
`CACHE_MAX_TEMPERATURE` (0 by default; a request without a temperature uses the provider's
default of 1 and is not cached). Entries live `CACHE_TTL_SECONDS`.

Redis is optional: every operation has a short timeout, and any Redis failure is counted and
treated as a miss, so a dead or slow Redis costs at most that timeout and never a 5xx. The
client reconnects by itself when Redis comes back.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any, Literal

import orjson
import redis.asyncio as redis_asyncio
from redis.exceptions import RedisError

from gateway.errors import encode_json
from gateway.settings import GatewaySettings

log = logging.getLogger("gateway.cache")

KEY_PREFIX = "loadgate:v1:"
CacheOutcome = Literal["hit", "miss", "bypass", "error"]


def cache_key(payload: dict[str, Any]) -> str:
    return KEY_PREFIX + hashlib.sha256(encode_json(payload, sort_keys=True)).hexdigest()


def is_cacheable(payload: dict[str, Any], max_temperature: float = 0.0) -> bool:
    temperature = payload.get("temperature")
    streaming = payload.get("stream") is True
    return isinstance(temperature, int | float) and temperature <= max_temperature and not streaming


class ResponseCache:
    """Get/set of upstream bodies by request key, failing soft."""

    def __init__(
        self, client: redis_asyncio.Redis | None, ttl_seconds: int, timeout: float
    ) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._timeout = timeout

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> ResponseCache:
        if settings.redis_url is None:
            return cls(None, settings.cache_ttl_seconds, settings.cache_timeout_seconds)
        client = redis_asyncio.Redis.from_url(
            str(settings.redis_url),
            socket_timeout=settings.cache_timeout_seconds,
            socket_connect_timeout=settings.cache_timeout_seconds,
        )
        return cls(client, settings.cache_ttl_seconds, settings.cache_timeout_seconds)

    @property
    def enabled(self) -> bool:
        return self._client is not None

    async def get(self, key: str) -> tuple[dict[str, Any] | None, CacheOutcome]:
        if self._client is None:
            return None, "bypass"
        try:
            raw = await asyncio.wait_for(self._client.get(key), self._timeout)
        except (RedisError, OSError, TimeoutError) as exc:
            log.debug("cache get failed: %s", type(exc).__name__)
            return None, "error"
        if raw is None:
            return None, "miss"
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None, "error"
        return (body, "hit") if isinstance(body, dict) else (None, "error")

    async def set(self, key: str, body: dict[str, Any]) -> bool:
        if self._client is None:
            return False
        try:
            await asyncio.wait_for(
                self._client.set(key, orjson.dumps(body), ex=self._ttl),
                self._timeout,
            )
        except (RedisError, OSError, TimeoutError) as exc:
            log.debug("cache set failed: %s", type(exc).__name__)
            return False
        return True

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
