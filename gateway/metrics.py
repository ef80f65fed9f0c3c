"""Prometheus metrics of one gateway app (a registry per app, so tests can build many)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.in_flight = Gauge(
            "gateway_in_flight_requests", "Requests being served now", registry=self.registry
        )
        self.requests = Counter(
            "gateway_requests",
            "Requests answered, by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.shed = Counter(
            "gateway_shed_requests", "Requests refused by load shedding", registry=self.registry
        )
        self.upstream_latency = Histogram(
            "gateway_upstream_latency_seconds",
            "Latency of successful upstream calls",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.cache = Counter(
            "gateway_cache_lookups", "Cache lookups by outcome", ["outcome"], registry=self.registry
        )
        self.draining = Gauge(
            "gateway_draining", "1 while the gateway is shutting down", registry=self.registry
        )
