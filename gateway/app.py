"""The gateway application: `create_app(settings)` wires settings, upstream, cache and routes."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TextIO

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.accesslog import AccessLog
from gateway.auth import ClientAuth
from gateway.body import BodyReader
from gateway.cache import ResponseCache
from gateway.completions import CompletionService
from gateway.errors import GatewayError
from gateway.hotpath import HotPath
from gateway.metrics import GatewayMetrics
from gateway.middleware import Admission, RequestMiddleware
from gateway.openapi import document_hot_paths
from gateway.pool import PooledUpstream
from gateway.routes import router
from gateway.settings import GatewaySettings
from gateway.upstream import Upstream, UpstreamClient

log = logging.getLogger("gateway")


@dataclass
class GatewayState:
    """What the routes share: built by the lifespan, closed by it."""

    settings: GatewaySettings
    upstream: UpstreamClient
    cache: ResponseCache
    metrics: GatewayMetrics
    admission: Admission
    completions: CompletionService

    def log_upstream_error(self, request_id: str, exc: GatewayError) -> None:
        """What the provider did, for the log only: it never reaches the client."""
        log.warning(
            "upstream error id=%s kind=%s status=%d detail=%s",
            request_id,
            type(exc).__name__,
            exc.status_code,
            exc.detail,
        )


def create_app(
    settings: GatewaySettings,
    upstream: Upstream | None = None,
    access_stream: TextIO | None = None,
) -> FastAPI:
    """Build the gateway. Its provider is `upstream` (by default the pool `PooledUpstream`
    builds from the settings, at start-up); tests plug a fake provider in there and read the
    access log (`access_stream`, standard output by default)."""
    metrics = GatewayMetrics()
    access_log = AccessLog(
        access_stream or sys.stdout, enabled=settings.log_level in ("DEBUG", "INFO")
    )
    admission = Admission(settings.max_concurrency, metrics)
    bodies = BodyReader(settings.request_body_timeout_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        provider = upstream if upstream is not None else PooledUpstream.from_settings(settings)
        client = UpstreamClient(provider, settings.upstream_max_event_bytes)
        cache = ResponseCache.from_settings(settings)
        state = GatewayState(
            settings=settings,
            upstream=client,
            cache=cache,
            metrics=metrics,
            admission=admission,
            completions=CompletionService(client, cache, metrics, settings.cache_max_temperature),
        )
        metrics.watch_pool(provider.connections_in_use, provider.connections_idle)
        app.state.gateway = state
        access_log.start()
        bodies.start()
        log.info(
            "gateway started model=%s upstream=%s cache=%s max_concurrency=%d pool=%d",
            settings.target_model,
            settings.upstream_for_log(),
            "on" if state.cache.enabled else "off",
            settings.max_concurrency,
            settings.upstream_max_connections,
        )
        try:
            yield
        finally:
            admission.start_draining()
            await bodies.stop()
            await access_log.stop()
            await state.upstream.aclose()
            await state.cache.aclose()
            log.info("gateway stopped")

    app = FastAPI(title="loadgate reference gateway", version="0.1.0", lifespan=lifespan)
    app.include_router(router)
    app.state.admission = admission
    app.add_middleware(HotPath, state=lambda: app.state.gateway)
    app.add_middleware(
        RequestMiddleware,
        metrics=metrics,
        admission=admission,
        access_log=access_log,
        auth=ClientAuth.from_settings(settings),
        bodies=bodies,
    )
    document_hot_paths(app)

    @app.get("/metrics", include_in_schema=False)
    async def _metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
