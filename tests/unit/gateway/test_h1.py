"""The lean HTTP/1.1 client of the hot call, against real servers on loopback."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest
import uvloop

from gateway.h1 import H1Error, H1Pool
from tests.unit.conftest import serve_mock as running_mock
from tests.unit.gateway.raw_server import raw_server

BODY = json.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}).encode()
HEADERS = [("Content-Type", "application/json"), ("Authorization", "Bearer sk-test")]
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"


def pool_for(url: str, max_keepalive: int = 4) -> tuple[H1Pool, bytes]:
    parsed = httpx.URL(url)
    pool = H1Pool("http", parsed.host, parsed.port or 80, max_keepalive)
    return pool, pool.head("/v1/chat/completions", HEADERS)


async def stats(url: str) -> dict[str, int]:
    async with httpx.AsyncClient() as admin:
        body: dict[str, int] = (await admin.get(f"{url}/admin/stats")).json()
        return body


@pytest.mark.anyio
async def test_answers_are_read_whole_and_connections_kept_alive() -> None:
    """Three calls in a row: three complete answers over one connection."""
    async with running_mock(latency_ms=0) as url:
        pool, head = pool_for(url)
        answers = [await pool.post(head, BODY, 1.0, 1.0) for _ in range(3)]
        pool.close()
    for status, retry_after, body in answers:
        assert status == 200 and retry_after is None
        assert json.loads(body)["object"] == "chat.completion"
    assert pool.idle == 0  # closed


@pytest.mark.anyio
async def test_retry_after_is_read_from_the_answer() -> None:
    """A 429 comes back with its status and Retry-After; the connection stays usable."""
    async with running_mock(latency_ms=0) as url:
        async with httpx.AsyncClient() as admin:
            faults = {"error_rate": 1, "error_statuses": {"429": 1}, "retry_after_s": 7}
            await admin.patch(f"{url}/admin/config", json={"faults": faults})
        pool, head = pool_for(url)
        status, retry_after, _ = await pool.post(head, BODY, 1.0, 1.0)
        assert pool.idle == 1
        pool.close()
    assert (status, retry_after) == (429, "7")


@pytest.mark.parametrize(
    ("faults", "kind"),
    [
        pytest.param({"reset_rate": 1}, "protocol", id="reset"),
        pytest.param({"slow_headers_rate": 1, "slow_headers_s": 2}, "read_timeout", id="slow"),
    ],
)
@pytest.mark.anyio
async def test_provider_failures_are_typed_errors(faults: dict[str, object], kind: str) -> None:
    """A reset connection and stalled headers raise H1Error of the matching kind."""
    async with running_mock(latency_ms=0) as url:
        async with httpx.AsyncClient() as admin:
            await admin.patch(f"{url}/admin/config", json={"faults": faults})
        pool, head = pool_for(url)
        with pytest.raises(H1Error) as caught:
            await pool.post(head, BODY, 1.0, 0.3)
        assert pool.idle == 0
    assert caught.value.kind == kind


@pytest.mark.anyio
async def test_refused_connection_is_a_connect_error() -> None:
    """Nothing listening: a connect error, at once."""
    pool = H1Pool("http", "127.0.0.1", 1, 4)
    with pytest.raises(H1Error) as caught:
        await pool.post(pool.head("/", HEADERS), BODY, 1.0, 1.0)
    assert caught.value.kind == "connect"


async def concurrent_reaches(url: str, count: int, within_s: float = 5.0) -> None:
    """Wait until the mock provider has `count` requests in progress, `within_s` at most."""
    deadline = time.monotonic() + within_s
    while (await stats(url))["concurrent"] != count:
        assert time.monotonic() < deadline, f"not {count} requests in progress by {within_s} s"
        await asyncio.sleep(0.01)


@pytest.mark.anyio
async def test_a_cancelled_call_closes_its_connection() -> None:
    """The caller leaves: the connection is closed (the provider sees the cancel) and dropped."""
    async with running_mock(latency_ms=2000) as url:
        pool, head = pool_for(url)
        call = asyncio.create_task(pool.post(head, BODY, 1.0, 5.0))
        await concurrent_reaches(url, 1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await concurrent_reaches(url, 0, within_s=1.0)  # well before the 2 s answer
        assert pool.idle == 0


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(
            CHUNKED,
            (200, b"abcde", 1),
            id="chunked-kept-alive",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
            (200, b"ok", 0),
            id="connection-close-not-kept",
        ),
    ],
)
@pytest.mark.anyio
async def test_framing_and_keep_alive_follow_the_answer(
    answer: bytes, expected: tuple[int, bytes, int]
) -> None:
    """Chunked bodies are joined; `Connection: close` answers are not pooled."""
    async with raw_server(answer) as server:
        pool = H1Pool("http", "127.0.0.1", server.port, 4)
        status, _, body = await pool.post(pool.head("/", HEADERS), BODY, 1.0, 1.0)
        assert (status, body, pool.idle) == expected
        pool.close()


@pytest.mark.anyio
async def test_a_malformed_answer_is_a_protocol_error() -> None:
    """Garbage instead of HTTP is a protocol error, not a hang."""
    async with raw_server(b"NOT HTTP AT ALL\r\n\r\n") as server:
        pool = H1Pool("http", "127.0.0.1", server.port, 4)
        with pytest.raises(H1Error) as caught:
            await pool.post(pool.head("/", HEADERS), BODY, 1.0, 1.0)
    assert caught.value.kind == "protocol"


def run_on_uvloop(test: Callable[[], Awaitable[None]]) -> None:
    uvloop.run(test())  # type: ignore[arg-type]


def test_works_on_uvloop_as_the_gateway_serves() -> None:
    """The gateway runs on uvloop (whose transports are not asyncio's classes): same answers."""
    run_on_uvloop(test_answers_are_read_whole_and_connections_kept_alive)


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000, id="length"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"400\r\n" + b"x" * 1024,
            id="chunked-unfinished",
        ),
    ],
)
@pytest.mark.anyio
async def test_an_answer_past_the_limit_is_refused(answer: bytes) -> None:
    """A body past `max_body_bytes` fails at once as `too_large`; the connection is dropped."""
    async with raw_server(answer) as server:
        pool = H1Pool("http", "127.0.0.1", server.port, 4, max_body_bytes=1000)
        with pytest.raises(H1Error) as caught:
            await pool.post(pool.head("/", HEADERS), BODY, 1.0, 1.0)
        assert pool.idle == 0
    assert caught.value.kind == "too_large"
