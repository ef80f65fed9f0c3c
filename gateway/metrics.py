"""Prometheus metrics of one gateway app (a registry per app, so tests can build many)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.in_flight = Gauge(
            "gateway_in_flight_requests", "Requests being served now", registry=r
        )
        self.requests = Counter(
            "gateway_requests",
            "Requests answered, by route and status",
            ["route", "status"],
            registry=r,
        )
        self.shed = Counter(
            "gateway_shed_requests", "Requests refused by load shedding", registry=r
        )
        self.refused_draining = Counter(
            "gateway_refused_draining_requests", "Requests refused while draining", registry=r
        )
        self.upstream_latency = Histogram(
            "gateway_upstream_latency_seconds",
            "Latency of successful upstream calls",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.cache = Counter(
            "gateway_cache_lookups", "Cache lookups by outcome", ["outcome"], registry=r
        )
        self.deduplicated = Counter(
            "gateway_deduplicated_requests",
            "Requests answered by an identical request already in flight",
            registry=r,
        )
        self.pool_timeouts = Counter(
            "gateway_upstream_pool_timeouts",
            "Requests refused: no upstream connection free",
            registry=r,
        )
        self.pool_in_use = Gauge(
            "gateway_upstream_pool_connections_in_use", "Upstream connections in use", registry=r
        )
        self.pool_idle = Gauge(
            "gateway_upstream_pool_connections_idle",
            "Upstream keep-alive connections idle",
            registry=r,
        )
        self.draining = Gauge(
            "gateway_draining", "1 while the gateway is shutting down", registry=r
        )

    def watch_pool(self, in_use: Callable[[], float], idle: Callable[[], float]) -> None:
        """Read the pool's numbers at scrape time."""
        self.pool_in_use.set_function(in_use)
        self.pool_idle.set_function(idle)
