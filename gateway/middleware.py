"""Pure-ASGI middleware: request ids, client keys, bodies, admission, a log line a request."""

from __future__ import annotations

import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.accesslog import AccessLog
from gateway.auth import UNAUTHORIZED_MESSAGE, ClientAuth
from gateway.body import (
    MAX_BODY_BYTES,
    BodyReader,
    BodyTimeoutError,
    BodyTooLargeError,
    ClientDisconnectedError,
)
from gateway.errors import OverloadedError
from gateway.hotpath import send_json
from gateway.metrics import GatewayMetrics

API_PREFIX = "/v1/"
KNOWN_ROUTES = frozenset({"/v1/infer", "/v1/chat/completions"})
DRAINING_MESSAGE = "gateway is shutting down, retry on another instance"
CLIENT_CLOSED = 499
"""Logged when the client left before its body was complete (nginx's code; never sent)."""
CLOSE = [(b"connection", b"close")]
SAFE_ID_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
MAX_ID_LENGTH = 64


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
    """The client's X-Request-ID if it is [A-Za-z0-9._-]{1,64}, else a new one: it goes into
    log lines as is, so anything else (spaces, `=`, newlines) could forge their fields."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            if 0 < len(value) <= MAX_ID_LENGTH and not value.translate(None, SAFE_ID_BYTES):
                return str(value.decode("ascii"))
            break
    return uuid.uuid4().hex


class RequestMiddleware:
    """Assigns a request id, checks the client's key, reads the body, refuses API requests
    beyond capacity or while draining, and logs each."""

    def __init__(
        self,
        app: ASGIApp,
        metrics: GatewayMetrics,
        admission: Admission,
        access_log: AccessLog,
        auth: ClientAuth,
        bodies: BodyReader,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.admission = admission
        self.access_log = access_log
        self.auth = auth
        self.bodies = bodies

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

        if not path.startswith(API_PREFIX):  # probes, metrics, docs: never shed, never counted
            if self.auth.protects(path) and not self.auth.allows(scope["headers"]):
                await _unauthorized(send_with_id, request_id)
            else:
                await self.app(scope, receive, send_with_id)
            return
        try:
            await self._serve_api(scope, receive, send_with_id, request_id)
        except ClientDisconnectedError:
            status = CLIENT_CLOSED
        finally:
            latency_ms = (time.perf_counter() - started) * 1000
            route = path if path in KNOWN_ROUTES else "/v1/other"
            self.metrics.requests.labels(route=route, status=str(status)).inc()
            self.access_log.line(
                request_id, scope["method"], route, status, latency_ms, state.get("cache", "-")
            )

    async def _serve_api(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        """Key, then the whole body (no slot held while it arrives), then admission."""
        if self.auth.enabled and not self.auth.allows(scope["headers"]):
            await _unauthorized(send, request_id)
            return
        try:
            scope["state"]["body"] = await self.bodies.read(receive)
        except BodyTimeoutError as exc:
            await send_json(send, 408, {"error": str(exc), "request_id": request_id}, CLOSE)
            return
        except BodyTooLargeError:
            detail = {"detail": f"body larger than {MAX_BODY_BYTES} bytes"}
            await send_json(send, 413, detail, CLOSE)
            return
        admission = self.admission
        if admission.draining:
            self.metrics.refused_draining.inc()
            await _refuse(send, request_id, DRAINING_MESSAGE, close=True)
        elif admission.in_flight >= admission.max_concurrency:
            self.metrics.shed.inc()
            await _refuse(send, request_id, OverloadedError.public_message, close=False)
        else:
            admission.in_flight += 1
            try:
                await self.app(scope, receive, send)
            finally:
                admission.in_flight -= 1


async def _unauthorized(send: Send, request_id: str) -> None:
    body = {"error": UNAUTHORIZED_MESSAGE, "request_id": request_id}
    await send_json(send, 401, body, [(b"www-authenticate", b"Bearer")])


async def _refuse(send: Send, request_id: str, message: str, close: bool) -> None:
    headers = [(b"retry-after", b"1"), *(CLOSE if close else [])]
    await send_json(send, 503, {"error": message, "request_id": request_id}, headers)
