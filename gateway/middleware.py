"""Pure-ASGI middleware: request ids, admission (shedding, draining), a log line a request."""

from __future__ import annotations

import time
import uuid

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.accesslog import AccessLog
from gateway.errors import OverloadedError
from gateway.metrics import GatewayMetrics

API_PREFIX = "/v1/"
KNOWN_ROUTES = frozenset({"/v1/infer", "/v1/chat/completions"})
DRAINING_MESSAGE = "gateway is shutting down, retry on another instance"


class Admission:
    """How many API requests are in flight, the most allowed, and whether the gateway drains."""

    def __init__(self, max_concurrency: int, metrics: GatewayMetrics) -> None:
        self.max_concurrency = max_concurrency
        self.in_flight = 0
        self.draining = False
        metrics.in_flight.set_function(lambda: self.in_flight)
        metrics.draining.set_function(lambda: float(self.draining))

    def start_draining(self) -> None:
        self.draining = True


def _incoming_request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id" and 0 < len(value) <= 128:
            return str(value.decode("latin-1"))
    return uuid.uuid4().hex


class RequestMiddleware:
    """Assigns a request id, refuses API requests beyond capacity or while draining, logs each."""

    def __init__(
        self, app: ASGIApp, metrics: GatewayMetrics, admission: Admission, access_log: AccessLog
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.admission = admission
        self.access_log = access_log

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
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        if not path.startswith(API_PREFIX):  # probes and metrics: never refused, never counted
            await self.app(scope, receive, send_with_id)
            return
        admission = self.admission
        try:
            if admission.draining:
                self.metrics.refused_draining.inc()
                await _refuse(send_with_id, request_id, DRAINING_MESSAGE, close=True)
            elif admission.in_flight >= admission.max_concurrency:
                self.metrics.shed.inc()
                await _refuse(send_with_id, request_id, OverloadedError.public_message, close=False)
            else:
                admission.in_flight += 1
                try:
                    await self.app(scope, receive, send_with_id)
                finally:
                    admission.in_flight -= 1
        finally:
            latency_ms = (time.perf_counter() - started) * 1000
            route = path if path in KNOWN_ROUTES else "/v1/other"
            self.metrics.requests.labels(route=route, status=str(status)).inc()
            self.access_log.line(
                request_id, scope["method"], route, status, latency_ms, state.get("cache", "-")
            )


async def _refuse(send: Send, request_id: str, message: str, close: bool) -> None:
    body = orjson.dumps({"error": message, "request_id": request_id})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"1"),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})
