"""The open-model generator's HTTP/1.1 client: keep-alive POSTs, at as little CPU per request as
Python allows, because the generator's CPU per request is what limits its rate.

aiohttp's client spent most of the generator's CPU: a request and a response object with
multidicts, a cookie jar, tracing hooks, timers per phase, a task per request. Here a request is
bytes prepared once (`prepare`: head and body, so a send is one `write`), the answer is parsed
by httptools (the parser uvicorn serves with) in a protocol's callbacks, `request` returns a
future that the protocol resolves with what the caller's `finish` made of the answer (no task,
no coroutine), and one sweeper task times out what overran `timeout_s` instead of a timer armed
and cancelled per request. Headers are kept as the raw head and parsed only when asked for
(`RawHeaders`). Idle connections wait on a stack (the most recently used first), at most
`max_connections` of them; the caller bounds what is in flight. New connections are opened at
most `MAX_CONNECTING` at a time, and requests beyond wait for one (or for one that comes free),
first come first served.

Answers are what the server said: a redirect is an answer (never followed), a `Connection:
close` or HTTP/1.0 answer closes its connection, and an answer without a length ends when the
server closes. A `200 text/event-stream` answer is handed line by line to the sink `opener`
returns, as the lines arrive, and never kept; any other body is kept whole. A hostile server
cannot grow the generator's memory: a body past `max_body_bytes`, a stream past
`max_stream_bytes` or a stream line past `MAX_LINE_BYTES` ends the exchange with
`answer_too_large` and drops the connection.

A reused connection that the server closed as it was reused, before a byte of the answer came
back, is retried once on a new connection (the server's idle close and our send crossed); every
other failure is an `H1Error` whose `kind` names it as aiohttp's client did, so samples read as
before: `Timeout`, `ClientConnectorError` (cannot connect), `ClientConnectorCertificateError`
(TLS certificate refused), `ServerDisconnectedError` (closed before the answer was complete),
`ClientResponseError` (a malformed answer), and `answer_too_large`.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple, NoReturn, Protocol, TypeVar, cast
from urllib.parse import urlsplit

import httptools

MAX_BODY_BYTES = 1024 * 1024
"""A whole answer kept for inspection: an LLM answer is a few kB."""
MAX_STREAM_BYTES = 16 * 1024 * 1024
"""A streamed answer, which is never kept: this only ends an endless one."""
MAX_LINE_BYTES = 1024 * 1024
TOO_LARGE = "answer_too_large"
SWEEP_EVERY_S = 0.1
MAX_CONNECTING = 32
"""Connections being opened at once, at most. A server that stalls for a moment with every
connection busy would otherwise get hundreds of connection attempts at once, overflow its listen
backlog (aiohttp's is 128), and the SYNs it dropped come back one second later, or three:
latency made by the generator, not by the server. Requests beyond wait, first come first served,
for a new connection or one that comes free, their wait counted in their latency."""

T = TypeVar("T")


class H1Error(Exception):
    """A request that got no (complete) answer; `status` is the answer's, 0 before one came."""

    def __init__(self, kind: str, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


class RawHeaders:
    """An answer's header lines, parsed into `(name, value)` byte pairs only when iterated."""

    __slots__ = ("head",)

    def __init__(self, head: bytes) -> None:
        self.head = head

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        for line in self.head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            yield name, value.strip()

    def value(self, name: bytes) -> bytes | None:
        """The first value of header `name` (lower case), or None."""
        lowered = name.lower()
        return next((v for n, v in self if n.lower() == lowered), None)


class LineSink(Protocol):
    def line(self, line: bytes) -> None:
        """One line of the stream, with its `\\n` (the last one may lack it)."""


StreamOpener = Callable[[RawHeaders], LineSink]
"""Called when a `200 text/event-stream` answer's headers arrived; its sink gets the lines."""


class Answer(NamedTuple):
    status: int
    head: bytes
    """The status line and the headers (`headers` parses them)."""
    body: bytes
    """Empty for a stream, whose lines went to `sink`."""
    sink: LineSink | None

    @property
    def headers(self) -> RawHeaders:
        return RawHeaders(self.head)


class _StaleConnectionError(Exception):
    """A reused connection closed before any byte of the answer: retried once."""


class _Exchange(NamedTuple):
    future: asyncio.Future[Any]
    request: bytes
    finish: Callable[[Answer], Any]
    fail: Callable[[H1Error], Any]
    opener: StreamOpener | None
    deadline: float


class _Connection(asyncio.Protocol):
    """One connection and the exchange in progress on it, if any."""

    transport: asyncio.Transport
    """Set before `create_connection` hands the connection over."""
    head: bytes
    """The answer's status line and headers (all bytes read, until the headers are done)."""
    partial: bytes
    """A stream's line read in part."""
    headers_done: bool
    complete: bool
    until_close: bool
    unsolicited: bool
    keep_alive: bool
    sink: LineSink | None
    chunks: list[bytes]
    size: int
    status: int

    def __init__(self, client: H1Client) -> None:
        self.client = client
        self.parser = httptools.HttpResponseParser(self)
        self.exchange: _Exchange | None = None
        self.closed = False
        self.start(None, reused=False)

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.exchange is None:
            self.close()  # bytes nobody asked for: the connection cannot be trusted again
            return
        if not self.headers_done:
            self.head += data
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.fail(H1Error("ClientResponseError", f"malformed answer: {exc}", self.status))
            return
        if self.complete and self.exchange is not None:
            self.finish()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.client.connections.discard(self)
        if self.exchange is None:
            return
        if self.until_close and not self.complete:
            self.complete = True  # an answer without a length ends with its connection
            self.finish()
        elif not self.head and self.reused:
            exchange, self.exchange = self.exchange, None
            self.client.retry(exchange)
        else:
            message = "the server closed the connection before the answer was complete"
            self.fail(H1Error("ServerDisconnectedError", message, self.status))

    # httptools callbacks
    def on_headers_complete(self) -> None:
        exchange = self.exchange
        if exchange is None:
            return  # failed already (too large): the rest of the bytes is not read
        if self.headers_done:
            self.unsolicited = True  # a second answer in the same bytes: nobody asked for it
            return
        self.headers_done = True
        end = self.head.find(b"\r\n\r\n")
        self.head = head = self.head[:end]
        lowered = head.lower()
        self.status = status = self.parser.get_status_code()
        framed = b"\ncontent-length:" in lowered or b"\ntransfer-encoding:" in lowered
        self.until_close = not framed and status >= 200 and status not in (204, 304)
        if status == 200 and exchange.opener is not None and b"text/event-stream" in lowered:
            headers = RawHeaders(head)
            mime = (headers.value(b"content-type") or b"").split(b";", 1)[0]
            if mime.strip().lower() == b"text/event-stream":
                self.sink = exchange.opener(headers)

    def on_body(self, body: bytes) -> None:
        if self.exchange is None:
            return
        self.size += len(body)
        if self.sink is None:
            if self.size > self.client.max_body_bytes:
                self.too_large(f"an answer larger than {self.client.max_body_bytes} bytes")
            else:
                self.chunks.append(body)
        elif self.size > self.client.max_stream_bytes:
            self.too_large(f"a stream longer than {self.client.max_stream_bytes} bytes")
        else:
            self.lines(self.partial + body if self.partial else body)

    def on_message_complete(self) -> None:
        if self.complete:
            self.unsolicited = True
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()  # llhttp forgets it once this returns

    # the exchange
    def lines(self, data: bytes) -> None:
        sink = self.sink
        assert sink is not None
        start = 0
        end = data.find(b"\n")
        while end >= 0:
            sink.line(data[start : end + 1])
            start = end + 1
            end = data.find(b"\n", start)
        self.partial = data[start:]
        if len(self.partial) > MAX_LINE_BYTES:
            self.too_large(f"a stream line longer than {MAX_LINE_BYTES} bytes")

    def start(self, exchange: _Exchange | None, reused: bool) -> None:
        """A new exchange on this connection: the state of the last one forgotten, the request
        written (nothing for `None`)."""
        self.exchange, self.reused = exchange, reused
        self.head = self.partial = b""
        self.headers_done = self.complete = self.until_close = self.unsolicited = False
        self.keep_alive = False
        self.sink = None
        self.chunks = []
        self.size = self.status = 0
        if exchange is not None:
            self.transport.write(exchange.request)

    def finish(self) -> None:
        """The answer is complete: back to the pool (or closed), then the future resolved."""
        exchange = self.exchange
        assert exchange is not None
        sink = self.sink
        if sink is not None and self.partial:
            sink.line(self.partial)  # the last line, without its newline
        chunks = self.chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        answer = Answer(self.status, self.head, body, sink)
        self.exchange = self.sink = None
        if self.keep_alive and not (self.until_close or self.unsolicited or self.closed):
            self.client.hand_over(self, reused=True)
        else:
            self.close()
        future = exchange.future
        if not future.done():  # cancelled: the caller no longer waits
            try:
                future.set_result(exchange.finish(answer))
            except Exception as exc:  # noqa: BLE001 - the caller's error goes to its future
                future.set_exception(exc)

    def fail(self, error: H1Error) -> None:
        exchange = self.exchange
        self.exchange = None
        self.close()
        if exchange is not None:
            _resolve(exchange, exchange.fail, error)

    def too_large(self, message: str) -> None:
        self.fail(H1Error(TOO_LARGE, message, self.status))

    def close(self) -> None:
        self.closed = True
        self.transport.close()


def _resolve(exchange: _Exchange, make: Callable[[Any], Any], value: Any) -> None:
    future = exchange.future
    if future.done():
        return  # cancelled: the caller no longer waits
    try:
        future.set_result(make(value))
    except Exception as exc:  # noqa: BLE001 - the caller's own error goes to its own future
        future.set_exception(exc)


def _same(answer: Answer) -> Answer:
    return answer


def _raise(error: H1Error) -> NoReturn:
    raise error


class H1Client:
    """POSTs to one origin (`http://` or `https://` in `base_url`) over kept-alive connections.

    Use it as an async context manager (`async with`): it times requests out from a sweeper
    task and closes its connections on exit."""

    loop: asyncio.AbstractEventLoop

    def __init__(
        self,
        base_url: str,
        max_connections: int,
        timeout_s: float,
        ssl_context: ssl.SSLContext | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_stream_bytes: int = MAX_STREAM_BYTES,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{base_url!r} is not an http:// or https:// URL")
        self.host = parts.hostname
        default = 443 if parts.scheme == "https" else 80
        self.port = parts.port or default
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.authority = host if self.port == default else f"{host}:{self.port}"
        self.base_path = parts.path.rstrip("/")
        self.ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self.ssl = ssl_context or ssl.create_default_context()
        self.max_connections = max_connections
        self.timeout_s = timeout_s
        self.max_body_bytes = max_body_bytes
        self.max_stream_bytes = max_stream_bytes
        self.idle: list[_Connection] = []
        """Kept-alive connections, the most recently used last."""
        self.connections: set[_Connection] = set()
        """Every open connection, idle or busy (the sweeper's round)."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: deque[_Exchange] = deque()
        """Requests waiting for a connection, the oldest first."""
        self._connecting = 0

    def prepare(self, path: str, headers: Mapping[str, str], body: bytes) -> bytes:
        """The whole request to `base_url + path`, once: head and body, ready to write."""
        lines = [f"POST {self.base_path}{path} HTTP/1.1", f"Host: {self.authority}"]
        for name, value in headers.items():
            if any(c in f"{name}{value}" for c in "\r\n\0") or not name or ":" in name:
                raise ValueError(f"header {name!r} has a name or value HTTP cannot carry")
            lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    async def __aenter__(self) -> H1Client:
        self.loop = asyncio.get_running_loop()
        self._spawn(self._sweep())
        return self

    async def __aexit__(self, *_: object) -> None:
        for task in list(self._tasks):
            task.cancel()
        for connection in list(self.connections):
            connection.close()
        self.idle.clear()

    def request(
        self,
        request: bytes,
        finish: Callable[[Answer], T],
        fail: Callable[[H1Error], T],
        opener: StreamOpener | None = None,
    ) -> asyncio.Future[T]:
        """Send a prepared request; the future gets `finish(answer)`, whatever the answer's
        status, or `fail(error)` when there was none (or the exception either raised)."""
        future: asyncio.Future[T] = self.loop.create_future()
        exchange = _Exchange(
            future, request, finish, fail, opener, time.monotonic() + self.timeout_s
        )
        idle = self.idle
        while idle:
            connection = idle.pop()
            if not connection.closed:
                connection.start(exchange, reused=True)
                return future
        self._waiting.append(exchange)
        self._open_more()
        return future

    async def post(self, request: bytes, opener: StreamOpener | None = None) -> Answer:
        """`request` as a coroutine: the answer, or `H1Error` raised."""
        return await self.request(request, _same, _raise, opener)

    def retry(self, exchange: _Exchange) -> None:
        """A reused connection closed unanswered: once more, first in line for a new one."""
        self._waiting.appendleft(exchange)
        self._open_more()

    def hand_over(self, connection: _Connection, reused: bool) -> None:
        """A connection free for work: to the oldest request waiting, else to the idle ones."""
        waiting = self._waiting
        while waiting:
            exchange = waiting.popleft()
            if not exchange.future.done():
                connection.start(exchange, reused)
                return
        if len(self.idle) < self.max_connections:
            self.idle.append(connection)
        else:
            connection.close()

    def _open_more(self) -> None:
        """One connection attempt per request waiting, at most `MAX_CONNECTING` at once."""
        while self._connecting < min(MAX_CONNECTING, len(self._waiting)):
            self._connecting += 1
            self._spawn(self._connect())

    def _spawn(self, work: Any) -> None:
        task = self.loop.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self) -> None:
        """A new connection, for whoever waits first when it is open; when it cannot be
        opened, the oldest request waiting fails with the reason."""
        try:
            connection = await self._open(time.monotonic() + self.timeout_s)
        except H1Error as error:
            while self._waiting:
                exchange = self._waiting.popleft()
                if not exchange.future.done():
                    _resolve(exchange, exchange.fail, error)
                    break
        else:
            self.connections.add(connection)
            self.hand_over(connection, reused=False)
        finally:
            self._connecting -= 1
        self._open_more()

    async def _open(self, deadline: float) -> _Connection:
        opening = self.loop.create_connection(
            lambda: _Connection(self),
            self.host,
            self.port,
            ssl=self.ssl,
            server_hostname=self.host if self.ssl else None,
        )
        try:
            _, connection = await asyncio.wait_for(opening, max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise H1Error("Timeout", f"connecting to {self.authority} timed out") from None
        except ssl.SSLCertVerificationError as exc:
            kind = "ClientConnectorCertificateError"
            raise H1Error(kind, f"{self.authority}'s certificate: {exc}") from exc
        except OSError as exc:
            message = f"cannot connect to {self.authority}: {exc}"
            raise H1Error("ClientConnectorError", message) from exc
        return connection

    async def _sweep(self) -> None:
        """Every `SWEEP_EVERY_S` (finer for short timeouts), fail the exchanges past their
        deadline and drop those their caller cancelled: one task for all requests."""
        period = max(0.005, min(SWEEP_EVERY_S, self.timeout_s / 10))
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            self._expire_waiting(now)
            for connection in list(self.connections):
                exchange = connection.exchange
                if exchange is None:
                    continue
                if exchange.future.done():
                    connection.fail(H1Error("Timeout", "abandoned by its caller"))
                elif exchange.deadline <= now:
                    message = f"no complete answer within {self.timeout_s:g} s"
                    connection.fail(H1Error("Timeout", message, connection.status))

    def _expire_waiting(self, now: float) -> None:
        """Requests still waiting for a connection past their deadline time out there."""
        waiting, self._waiting = self._waiting, deque()
        for exchange in waiting:
            if exchange.future.done():
                continue
            if exchange.deadline <= now:
                message = f"no connection within {self.timeout_s:g} s"
                _resolve(exchange, exchange.fail, H1Error("Timeout", message))
            else:
                self._waiting.append(exchange)
