"""The gateway application: `create_app(settings)` wires settings, upstream, cache and routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.cache import ResponseCache
from gateway.completions import CompletionService
from gateway.errors import GatewayError
from gateway.metrics import GatewayMetrics
from gateway.middleware import Admission, RequestMiddleware
from gateway.routes import router
from gateway.settings import GatewaySettings
from gateway.upstream import UpstreamClient

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


def create_app(
    settings: GatewaySettings, upstream_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """Build the gateway. `upstream_transport` lets tests put a fake provider in-process."""
    metrics = GatewayMetrics()
    admission = Admission(settings.max_concurrency, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        upstream = UpstreamClient.from_settings(settings, upstream_transport)
        cache = ResponseCache.from_settings(settings)
        state = GatewayState(
            settings=settings,
            upstream=upstream,
            cache=cache,
            metrics=metrics,
            admission=admission,
            completions=CompletionService(upstream, cache, metrics, settings.cache_max_temperature),
        )
        pool = upstream.pool
        if pool is not None:
            metrics.watch_pool(lambda: pool.in_use, lambda: pool.idle_connections() or 0)
        app.state.gateway = state
        log.info(
            "gateway started model=%s upstream=%s cache=%s max_concurrency=%d pool=%d",
            settings.target_model,
            settings.upstream_base_url,
            "on" if state.cache.enabled else "off",
            settings.max_concurrency,
            settings.upstream_max_connections,
        )
        try:
            yield
        finally:
            admission.start_draining()
            await state.upstream.aclose()
            await state.cache.aclose()
            log.info("gateway stopped")

    app = FastAPI(title="loadgate reference gateway", version="0.1.0", lifespan=lifespan)
    app.include_router(router)
    app.state.admission = admission
    app.add_middleware(RequestMiddleware, metrics=metrics, admission=admission)

    @app.exception_handler(GatewayError)
    async def _gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
        request_id = getattr(request.state, "request_id", "")
        log.warning(
            "upstream error id=%s kind=%s status=%d detail=%s",
            request_id,
            type(exc).__name__,
            exc.status_code,
            exc.detail,
        )
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        return JSONResponse(
            {"error": exc.public_message, "request_id": request_id},
            status_code=exc.status_code,
            headers=headers,
        )

    @app.get("/metrics", include_in_schema=False)
    async def _metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
