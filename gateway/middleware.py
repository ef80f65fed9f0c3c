"""Pure-ASGI middleware: request ids, load shedding, one log line per request."""

from __future__ import annotations

import json
import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import OverloadedError
from gateway.metrics import GatewayMetrics

log = logging.getLogger("gateway.access")

SHED_PREFIX = "/v1/"
KNOWN_ROUTES = frozenset({"/v1/infer", "/v1/chat/completions"})


def _incoming_request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id" and 0 < len(value) <= 128:
            return str(value.decode("latin-1"))
    return uuid.uuid4().hex


class RequestMiddleware:
    """Assigns a request id, sheds load beyond `max_concurrency`, logs and counts each request."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics, max_concurrency: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_concurrency = max_concurrency
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        path: str = scope["path"]
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        if not path.startswith(SHED_PREFIX):  # probes and metrics: never shed, never counted
            await self.app(scope, receive, send_with_id)
            return
        try:
            if self.in_flight >= self.max_concurrency:
                self.metrics.shed.inc()
                await _send_overloaded(send_with_id, request_id)
            else:
                self.in_flight += 1
                self.metrics.in_flight.inc()
                try:
                    await self.app(scope, receive, send_with_id)
                finally:
                    self.in_flight -= 1
                    self.metrics.in_flight.dec()
        finally:
            latency_ms = (time.perf_counter() - started) * 1000
            route = path if path in KNOWN_ROUTES else "/v1/other"
            self.metrics.requests.labels(route=route, status=str(status)).inc()
            log.info(
                "request id=%s method=%s path=%s status=%d latency_ms=%.1f cache=%s",
                request_id,
                scope["method"],
                route,
                status,
                latency_ms,
                state.get("cache", "-"),
            )


async def _send_overloaded(send: Send, request_id: str) -> None:
    body = json.dumps({"error": OverloadedError.public_message, "request_id": request_id}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": OverloadedError.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"1"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
