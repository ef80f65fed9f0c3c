"""A lean HTTP/1.1 keep-alive client for the gateway's one hot call: a POST, its whole answer.

aiohttp's client does much per request that this call does not need (a cookie jar, tracing
hooks, redirects, a request and a response object with multidicts, timers per phase). This one
writes the request head and body in one `write`, parses the answer with httptools (the parser
uvicorn serves with), and keeps connections alive on a stack (the most recently used first, so
idle ones age out). TLS works as asyncio provides it. Streams go through aiohttp, and pool slots
are taken by the caller (`gateway.pool`).

Failures are `H1Error`s whose `kind` says what happened: `connect`, `connect_timeout`,
`read_timeout`, `too_large` (the body passed `max_body_bytes`: the connection is dropped at once,
so a bad provider cannot grow the gateway's memory), or `protocol` (the answer was malformed or
the connection closed before it was complete). A request cancelled by its caller closes its
connection, which is how the provider learns that nobody is waiting.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Literal, cast

import httptools

ErrorKind = Literal["connect", "connect_timeout", "read_timeout", "too_large", "protocol"]
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024


class H1Error(Exception):
    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class _Connection(asyncio.Protocol):
    """One connection; `answer` is the future of the exchange in progress."""

    def __init__(self, max_body_bytes: int) -> None:
        self.transport: asyncio.Transport | None = None
        self.max_body_bytes = max_body_bytes
        self.size = 0
        self.parser = httptools.HttpResponseParser(self)
        self.answer: asyncio.Future[bool] | None = None
        self.retry_after: str | None = None
        self.body: list[bytes] = []
        self.closed = False
        self.idle_since = 0.0

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(H1Error("protocol", f"malformed answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(H1Error("protocol", "connection closed before the answer was complete"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"retry-after":
            self.retry_after = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.max_body_bytes:
            self._fail(H1Error("too_large", f"answer larger than {self.max_body_bytes} bytes"))
            self.close()
            return
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_result(self.parser.should_keep_alive())

    # the exchange
    def send(self, data: bytes, answer: asyncio.Future[bool]) -> None:
        self.answer, self.retry_after, self.body, self.size = answer, None, [], 0
        assert self.transport is not None
        self.transport.write(data)

    def status(self) -> int:
        return int(self.parser.get_status_code())

    def _fail(self, error: H1Error) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(error)

    def expire(self) -> None:
        self._fail(H1Error("read_timeout", "no complete answer within the read timeout"))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class H1Pool:
    """Keep-alive connections to one origin (`scheme://host:port`)."""

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        max_keepalive: int,
        keepalive_s: float = 15.0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self._host, self._port = host, port
        self._max_body_bytes = max_body_bytes
        self._ssl = ssl.create_default_context() if scheme == "https" else None
        self._idle: list[_Connection] = []
        self._max_keepalive = max_keepalive
        self._keepalive_s = keepalive_s
        default = 443 if scheme == "https" else 80
        self.authority = host if port == default else f"{host}:{port}"

    @property
    def idle(self) -> int:
        return len(self._idle)

    def head(self, path: str, headers: list[tuple[str, str]]) -> bytes:
        """The request head up to `Content-Length: ` (the caller appends the length)."""
        lines = [f"POST {path} HTTP/1.1", f"Host: {self.authority}"]
        lines += [f"{name}: {value}" for name, value in headers]
        return ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")

    async def post(
        self,
        head: bytes,
        body: bytes,
        connect_timeout: float | None,
        read_timeout: float | None,
    ) -> tuple[int, str | None, bytes]:
        """Send `head` + length + `body`; returns (status, Retry-After, body)."""
        connection = self._reuse() or await self._connect(connect_timeout)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bool] = loop.create_future()
        connection.send(b"%b%d\r\n\r\n%b" % (head, len(body), body), answer)
        timer = loop.call_later(read_timeout, connection.expire) if read_timeout else None
        try:
            keep_alive = await answer
        except BaseException:
            connection.close()  # cancelled or failed: the connection cannot be reused
            raise
        finally:
            if timer is not None:
                timer.cancel()
        result = connection.status(), connection.retry_after, b"".join(connection.body)
        if keep_alive and not connection.closed and len(self._idle) < self._max_keepalive:
            connection.answer, connection.body = None, []
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.close()
        return result

    def _reuse(self) -> _Connection | None:
        oldest = time.monotonic() - self._keepalive_s
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed and connection.idle_since >= oldest:
                return connection
            connection.close()
        return None

    async def _connect(self, timeout: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        opening = loop.create_connection(
            lambda: _Connection(self._max_body_bytes),
            self._host,
            self._port,
            ssl=self._ssl,
            server_hostname=self._host if self._ssl else None,
        )
        try:
            _, connection = await asyncio.wait_for(opening, timeout)
        except TimeoutError:
            raise H1Error("connect_timeout", f"connect to {self.authority} timed out") from None
        except OSError as exc:
            raise H1Error("connect", f"cannot connect to {self.authority}: {exc}") from exc
        return connection

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()
