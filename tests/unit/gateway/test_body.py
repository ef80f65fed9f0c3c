"""Request bodies are read whole, bounded in size and time, before a concurrency slot is taken."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from starlette.types import Message

from gateway.body import BodyReader, BodyTimeoutError, BodyTooLargeError, ClientDisconnectedError
from tests.unit.conftest import serve_mock as running_mock
from tests.unit.gateway.conftest import INFER_BODY, serving_gateway

pytestmark = pytest.mark.anyio


async def stalled_upload(base_url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw client that announces 1,000 body bytes, sends one, then stalls."""
    url = httpx.URL(base_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(
        b"POST /v1/infer HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{"
    )
    await writer.drain()
    return reader, writer


async def test_stalled_uploads_hold_no_slot_and_get_408() -> None:
    """With MAX_CONCURRENCY=2, two stalled uploads lock nobody out and are answered 408."""
    async with (
        running_mock(latency_ms=0) as url,
        serving_gateway(
            upstream_base_url=url, max_concurrency=2, request_body_timeout_seconds=1.0
        ) as gateway,
    ):
        started = time.perf_counter()
        stalled = [await stalled_upload(gateway) for _ in range(2)]
        try:
            await asyncio.sleep(0.2)
            async with httpx.AsyncClient(base_url=gateway) as client:
                served = await client.post("/v1/infer", json=INFER_BODY)
            answers = [await asyncio.wait_for(reader.read(), timeout=5) for reader, _ in stalled]
            waited = time.perf_counter() - started
        finally:  # the server waits for open connections when it stops
            for _, writer in stalled:
                writer.close()
    assert served.status_code == 200
    for answer in answers:  # read() returned: the gateway closed the connection
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b'"request body not received within 1 s"' in answer
    assert 0.9 < waited < 3


async def test_a_body_over_the_limit_is_413_before_admission() -> None:
    """A body past 8 MiB is refused with 413 and the connection closed."""
    async with (
        running_mock(latency_ms=0) as url,
        serving_gateway(upstream_base_url=url) as gateway,
        httpx.AsyncClient(base_url=gateway) as client,
    ):
        response = await client.post(
            "/v1/infer",
            content=b"x" * (8 * 1024 * 1024 + 1),
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 413
    assert response.headers["connection"] == "close"


async def stalled() -> Message:
    """A receive that never returns: a client that stopped sending."""
    await asyncio.Event().wait()
    return {}


async def test_a_read_past_the_deadline_raises_and_leaves_the_task_usable() -> None:
    """The sweep ends a stalled read with BodyTimeoutError; the task is not left cancelled."""
    reader = BodyReader(0.2)
    reader.start()

    async def read() -> int:
        with pytest.raises(BodyTimeoutError):
            await reader.read(stalled)
        await asyncio.sleep(0)  # still runs: the cancel was consumed
        task = asyncio.current_task()
        return task.cancelling() if task else -1

    started = time.perf_counter()
    cancelling = await asyncio.create_task(read())
    waited = time.perf_counter() - started
    await reader.stop()
    assert cancelling == 0
    assert 0.2 <= waited < 0.5


async def test_a_cancelled_read_is_not_taken_for_a_timeout() -> None:
    """Cancelling a request mid-body (shutdown) stays a cancellation, not a 408."""
    reader = BodyReader(10.0)
    reader.start()

    task = asyncio.create_task(reader.read(stalled))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await reader.stop()


@pytest.mark.parametrize(
    ("messages", "outcome"),
    [
        pytest.param([{"type": "http.disconnect"}], ClientDisconnectedError, id="gone"),
        pytest.param(
            [{"type": "http.request", "body": b"x" * (4 * 1024 * 1024), "more_body": True}] * 3,
            BodyTooLargeError,
            id="too-large",
        ),
        pytest.param(
            [
                {"type": "http.request", "body": b"ab", "more_body": True},
                {"type": "http.request", "body": b"cd"},
            ],
            b"abcd",
            id="two-parts",
        ),
    ],
)
async def test_bodies_are_read_whole_or_refused(
    messages: list[Message], outcome: bytes | type[Exception]
) -> None:
    """Parts are joined; a body past 8 MiB or a client that left raise their errors."""
    queue = list(messages)

    async def receive() -> Message:
        return queue.pop(0)

    reader = BodyReader(5.0)
    if isinstance(outcome, bytes):
        assert await reader.read(receive) == outcome
    else:
        with pytest.raises(outcome):
            await reader.read(receive)
