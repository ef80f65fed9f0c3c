"""An httpx transport on aiohttp's connection pool: httpx's API, aiohttp's speed.

httpx's own pool (httpcore) spends most of a CPU core at a few hundred requests a second here;
aiohttp's is several times cheaper. This transport keeps `httpx.AsyncClient` as the gateway's
upstream API (and tests keep injecting `MockTransport`/`ASGITransport`) while requests travel
through one `aiohttp.ClientSession`.

The gateway's hot call, a non-streaming POST read whole (`post()`), skips even aiohttp: it goes
through `gateway.h1`, a keep-alive HTTP/1.1 client that does nothing else. Streams stay on
aiohttp.

Pool accounting is explicit: a semaphore of `max_connections` slots is taken per request and
given back when its response is closed, so "in use" is exact, and a request that cannot get a
slot within httpx's `pool` timeout fails fast with `httpx.PoolTimeout` instead of queueing.
aiohttp's and the lean client's failures are translated into the httpx exceptions they
correspond to.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import aiohttp
import httpx

from gateway.h1 import DEFAULT_MAX_BODY_BYTES, H1Error, H1Pool

# Hop-by-hop and length headers that aiohttp sets itself.
_SKIPPED_HEADERS = frozenset({"host", "content-length", "connection", "transfer-encoding"})


def _translate(exc: BaseException, request: httpx.Request, reading: bool) -> httpx.TransportError:
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, aiohttp.ServerTimeoutError | TimeoutError):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(message, request=request)
    if reading:
        return httpx.ReadError(message, request=request)
    return httpx.ConnectError(message, request=request)


class AnswerTooLargeError(httpx.RemoteProtocolError):
    """The provider's answer was larger than the transport accepts."""


def _translate_lean(exc: H1Error, request: httpx.Request) -> httpx.TransportError:
    message = str(exc)
    if exc.kind == "too_large":
        return AnswerTooLargeError(message, request=request)
    if exc.kind == "connect_timeout":
        return httpx.ConnectTimeout(message, request=request)
    if exc.kind == "read_timeout":
        return httpx.ReadTimeout(message, request=request)
    if exc.kind == "connect":
        return httpx.ConnectError(message, request=request)
    return httpx.RemoteProtocolError(message, request=request)


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(
        self, response: aiohttp.ClientResponse, request: httpx.Request, release: Callable[[], None]
    ) -> None:
        self._response = response
        self._request = request
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _translate(exc, self._request, reading=True) from exc

    async def aclose(self) -> None:
        # A fully read body returns the connection to the pool; an abandoned one closes it,
        # which is how the provider learns that the client has gone.
        self._response.release()
        self._release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        max_connections: int,
        max_keepalive: int,
        keepalive_s: float = 15.0,
        max_answer_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.max_connections = max_connections
        self._max_keepalive = max_keepalive
        self._keepalive_s = keepalive_s
        self._max_answer_bytes = max_answer_bytes
        self._slots = asyncio.Semaphore(max_connections)
        self._session: aiohttp.ClientSession | None = None
        self._lean: dict[tuple[str, str, int], H1Pool] = {}
        self._heads: dict[tuple[str, tuple[tuple[str, str], ...]], bytes] = {}
        self.in_use = 0
        self.pool_timeouts = 0

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self.max_connections,
                limit_per_host=0,
                keepalive_timeout=self._keepalive_s,
                ttl_dns_cache=60,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, skip_auto_headers=("User-Agent",)
            )
        return self._session

    def idle_connections(self) -> int | None:
        """Keep-alive connections waiting in aiohttp's pool (None if it cannot be read)."""
        connector = self._session.connector if self._session else None
        conns = getattr(connector, "_conns", None)
        lean = sum(pool.idle for pool in self._lean.values())
        try:
            return lean + (sum(len(entries) for entries in conns.values()) if conns else 0)
        except (AttributeError, TypeError):
            return None

    async def _take_slot(self, request: httpx.Request, timeout: float | None) -> Callable[[], None]:
        """Take a pool slot within the pool timeout; returns its release (safe to call twice)."""
        if not self._slots.locked():
            await self._slots.acquire()
        else:
            try:
                await asyncio.wait_for(self._slots.acquire(), timeout)
            except TimeoutError:
                self.pool_timeouts += 1
                raise httpx.PoolTimeout("no upstream connection free", request=request) from None
        self.in_use += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.in_use -= 1
                self._slots.release()

        return release

    async def _open(
        self,
        request: httpx.Request,
        headers: list[tuple[str, str]],
        body: bytes,
        timeouts: dict[str, float | None],
    ) -> tuple[aiohttp.ClientResponse, Callable[[], None]]:
        """Take a pool slot and send; returns the response and the slot's release."""
        release = await self._take_slot(request, timeouts.get("pool"))
        try:
            response = await self._get_session().request(
                request.method,
                str(request.url),
                headers=headers,
                data=body,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=timeouts.get("connect"), sock_read=timeouts.get("read")
                ),
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            release()
            raise _translate(exc, request, reading=False) from exc
        except BaseException:
            release()
            raise
        return response, release

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in request.headers.raw
            if name.decode("latin-1").lower() not in _SKIPPED_HEADERS
        ]
        timeouts = request.extensions.get("timeout", {})
        response, release = await self._open(request, headers, await request.aread(), timeouts)
        return httpx.Response(
            status_code=response.status,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers],
            stream=_ResponseStream(response, request, release),
            extensions={"http_version": b"HTTP/1.1"},
        )

    def _lean_pool(self, url: httpx.URL) -> H1Pool:
        key = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        pool = self._lean.get(key)
        if pool is None:
            pool = self._lean[key] = H1Pool(
                *key, self._max_keepalive, self._keepalive_s, self._max_answer_bytes
            )
        return pool

    def _head(self, pool: H1Pool, url: httpx.URL, headers: list[tuple[str, str]]) -> bytes:
        key = (str(url), tuple(headers))
        head = self._heads.get(key)
        if head is None:
            kept = [(k, v) for k, v in headers if k.lower() not in _SKIPPED_HEADERS]
            head = self._heads[key] = pool.head(url.raw_path.decode("ascii"), kept)
        return head

    async def post(
        self,
        request: httpx.Request,
        headers: list[tuple[str, str]],
        body: bytes,
        timeouts: dict[str, float | None],
    ) -> tuple[int, str | None, bytes]:
        """POST and read the whole answer: (status, Retry-After, body), through the lean client.
        `request` names the call (its URL is used, its headers and body are not). An answer past
        `max_answer_bytes` raises `AnswerTooLargeError`."""
        pool = self._lean_pool(request.url)
        head = self._head(pool, request.url, headers)
        release = await self._take_slot(request, timeouts.get("pool"))
        try:
            return await pool.post(head, body, timeouts.get("connect"), timeouts.get("read"))
        except H1Error as exc:
            raise _translate_lean(exc, request) from exc
        finally:
            release()

    async def aclose(self) -> None:
        for pool in self._lean.values():
            pool.close()
        self._lean.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
