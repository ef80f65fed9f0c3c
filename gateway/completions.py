"""Answering a completion: Redis cache, then single-flight, then the provider.

Single-flight: identical deterministic requests in flight at the same moment share one upstream
call. The first one starts the call as its own task; the others await the same task (shielded,
so a caller that disconnects cancels neither the call nor the other callers), and the answer is
stored in the cache once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.cache import CacheOutcome, ResponseCache, cache_key, is_cacheable
from gateway.errors import PoolExhaustedError
from gateway.metrics import GatewayMetrics
from gateway.upstream import UpstreamClient

Completion = dict[str, Any]


class CompletionService:
    def __init__(
        self,
        upstream: UpstreamClient,
        cache: ResponseCache,
        metrics: GatewayMetrics,
        max_temperature: float,
    ) -> None:
        self._upstream = upstream
        self._cache = cache
        self._metrics = metrics
        self._max_temperature = max_temperature
        self._in_flight: dict[str, asyncio.Task[Completion]] = {}

    async def complete(self, payload: dict[str, Any]) -> tuple[Completion, str]:
        """The completion and how it was obtained (cache outcome, `+shared` if de-duplicated)."""
        if not is_cacheable(payload, self._max_temperature):
            return await self._call(payload), "bypass"
        key = cache_key(payload)
        outcome: CacheOutcome = "bypass"
        if self._cache.enabled:
            cached, outcome = await self._cache.get(key)
            self._metrics.cache.labels(outcome=outcome).inc()
            if cached is not None:
                return cached, outcome
        task = self._in_flight.get(key)
        if task is not None:
            self._metrics.deduplicated.inc()
            return await asyncio.shield(task), f"{outcome}+shared"
        task = asyncio.create_task(self._call_and_store(key, payload))
        self._in_flight[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(task), outcome

    def _forget(self, key: str, task: asyncio.Task[Completion]) -> None:
        if self._in_flight.get(key) is task:
            del self._in_flight[key]
        if not task.cancelled():
            task.exception()  # retrieved: callers that went away must not leave it unobserved

    async def _call(self, payload: dict[str, Any]) -> Completion:
        try:
            completion, elapsed = await self._upstream.chat_completion(payload)
        except PoolExhaustedError:
            self._metrics.pool_timeouts.inc()
            raise
        self._metrics.upstream_latency.observe(elapsed)
        return completion

    async def _call_and_store(self, key: str, payload: dict[str, Any]) -> Completion:
        completion = await self._call(payload)
        await self._cache.set(key, completion)
        return completion
