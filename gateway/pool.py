"""The production `Upstream`: one pool of connections to the provider, its slots counted exactly.

The hot call, a non-streaming completion read whole (`post`), goes through `gateway.h1`, a
keep-alive HTTP/1.1 client that writes a request head built once at start-up and the body in one
write. Streams (`stream`) go through aiohttp's pool. httpx's own pool (httpcore) had spent most of
a CPU core at a few hundred requests a second here; aiohttp's was several times cheaper, and the
lean client cut the gateway's CPU per request by a further quarter.

Pool accounting is explicit: a semaphore of `max_connections` slots is taken per call and given
back when its answer has been read (or its stream closed), so "in use" is exact, and a call that
cannot get a slot within the pool timeout fails fast instead of queueing.

Failures become `GatewayError`s here, once; `detail` (the log line's, never the client's) names
what happened:

    no slot within UPSTREAM_POOL_TIMEOUT      PoolExhaustedError    503  upstream pool timeout
    connect timed out                         UpstreamTimeoutError  504  ConnectTimeout
    no (complete) answer within the read one  UpstreamTimeoutError  504  ReadTimeout
    connection refused, DNS                   UpstreamFailedError   502  ConnectError
    reset, closed early, malformed answer     UpstreamFailedError   502  RemoteProtocolError
    a stream's transfer failing otherwise     UpstreamFailedError   502  ReadError
    answer past UPSTREAM_MAX_RESPONSE_BYTES   UpstreamFailedError   502  answer larger than N bytes
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from yarl import URL

from gateway.errors import (
    GatewayError,
    PoolExhaustedError,
    UpstreamFailedError,
    UpstreamTimeoutError,
)
from gateway.h1 import DEFAULT_MAX_BODY_BYTES, H1Error, H1Pool
from gateway.settings import GatewaySettings
from gateway.upstream import UpstreamAnswer, UpstreamStream

CHAT_COMPLETIONS_PATH = "/v1/chat/completions"
KEEPALIVE_S = 15.0


@dataclass(frozen=True)
class Timeouts:
    """Seconds: to connect, between bytes of an answer, to wait for a free slot."""

    connect: float
    read: float
    pool: float


def lean_error(exc: H1Error) -> GatewayError:
    """The gateway's error for a failure of the lean client."""
    if exc.kind == "too_large":
        return UpstreamFailedError(str(exc))
    if exc.kind == "connect_timeout":
        return UpstreamTimeoutError("ConnectTimeout")
    if exc.kind == "read_timeout":
        return UpstreamTimeoutError("ReadTimeout")
    if exc.kind == "connect":
        return UpstreamFailedError("ConnectError")
    return UpstreamFailedError("RemoteProtocolError")


def aiohttp_error(exc: BaseException, reading: bool) -> GatewayError:
    """The gateway's error for an aiohttp failure, opening a stream or `reading` it."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):  # a ServerTimeoutError: test it first
        return UpstreamTimeoutError("ConnectTimeout")
    if isinstance(exc, aiohttp.ServerTimeoutError | TimeoutError):
        return UpstreamTimeoutError("ReadTimeout")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamFailedError("ConnectError")
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return UpstreamFailedError("RemoteProtocolError")
    return UpstreamFailedError("ReadError" if reading else "ConnectError")


class PooledUpstream:
    """The provider's chat-completions endpoint over `max_connections` pooled connections."""

    def __init__(
        self,
        url: str,
        headers: list[tuple[str, str]],
        timeouts: Timeouts,
        max_connections: int,
        max_keepalive: int,
        max_answer_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        parsed = URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host or parsed.port is None:
            raise ValueError("the upstream URL needs http or https and a host")
        self._url = url
        self._headers = headers
        self._timeouts = timeouts
        self._max_connections = max_connections
        self._lean = H1Pool(
            parsed.scheme, parsed.host, parsed.port, max_keepalive, KEEPALIVE_S, max_answer_bytes
        )
        self._head = self._lean.head(parsed.raw_path_qs, headers)
        self._stream_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeouts.connect, sock_read=timeouts.read
        )
        self._slots = asyncio.Semaphore(max_connections)
        self._session: aiohttp.ClientSession | None = None
        self._in_use = 0

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> PooledUpstream:
        token = settings.provider_auth_token.get_secret_value()
        headers = [
            ("Authorization", f"Bearer {token}"),
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
            ("Accept-Encoding", "identity"),
        ]
        timeouts = Timeouts(
            connect=settings.upstream_connect_timeout,
            read=settings.upstream_read_timeout,
            pool=settings.upstream_pool_timeout,
        )
        return cls(
            str(settings.upstream_base_url).rstrip("/") + CHAT_COMPLETIONS_PATH,
            headers,
            timeouts,
            settings.upstream_max_connections,
            settings.upstream_max_keepalive,
            settings.upstream_max_response_bytes,
        )

    async def post(self, body: bytes) -> UpstreamAnswer:
        """POST `body` through the lean client and read the whole answer."""
        await self._acquire()
        try:
            status, retry_after, content = await self._lean.post(
                self._head, body, self._timeouts.connect, self._timeouts.read
            )
        except H1Error as exc:
            raise lean_error(exc) from exc
        finally:
            self._release()
        return UpstreamAnswer(status, retry_after, content)

    @asynccontextmanager
    async def stream(self, body: bytes) -> AsyncIterator[UpstreamStream]:
        """POST `body` through aiohttp; the slot is held until the context is left."""
        await self._acquire()
        try:
            try:
                response = await self._get_session().request(
                    "POST",
                    self._url,
                    headers=self._headers,
                    data=body,
                    allow_redirects=False,
                    timeout=self._stream_timeout,
                )
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise aiohttp_error(exc, reading=False) from exc
            try:
                retry_after = response.headers.get("Retry-After")
                yield UpstreamStream(response.status, retry_after, _chunks(response))
            finally:
                # A fully read body returns the connection to the pool; an abandoned one closes
                # it, which is how the provider learns that the client has gone.
                response.release()
        finally:
            self._release()

    def connections_in_use(self) -> int:
        return self._in_use

    def connections_idle(self) -> int:
        """Idle keep-alive connections of both clients (aiohttp's read from its connector)."""
        connector = self._session.connector if self._session else None
        conns = getattr(connector, "_conns", None)
        try:
            idle = sum(len(entries) for entries in conns.values()) if conns else 0
        except (AttributeError, TypeError):
            idle = 0
        return self._lean.idle + idle

    async def aclose(self) -> None:
        self._lean.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _acquire(self) -> None:
        """Take a slot, waiting at most the pool timeout for one."""
        if self._slots.locked():
            try:
                await asyncio.wait_for(self._slots.acquire(), self._timeouts.pool)
            except TimeoutError:
                raise PoolExhaustedError("upstream pool timeout", retry_after=1) from None
        else:
            await self._slots.acquire()
        self._in_use += 1

    def _release(self) -> None:
        self._in_use -= 1
        self._slots.release()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                limit_per_host=0,
                keepalive_timeout=KEEPALIVE_S,
                ttl_dns_cache=60,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, skip_auto_headers=("User-Agent",)
            )
        return self._session


async def _chunks(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive; a failed transfer raises `GatewayError`."""
    try:
        async for chunk in response.content.iter_any():
            yield chunk
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise aiohttp_error(exc, reading=True) from exc
