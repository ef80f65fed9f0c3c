"""The production upstream: what it puts on the wire, its slots, and its failures mapped once."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from gateway.errors import (
    GatewayError,
    PoolExhaustedError,
    UpstreamFailedError,
    UpstreamTimeoutError,
)
from gateway.h1 import ErrorKind, H1Error
from gateway.pool import PooledUpstream, Timeouts, aiohttp_error, lean_error
from tests.unit.gateway.conftest import INFER_BODY, TOKEN, completion, gateway_client
from tests.unit.gateway.raw_server import raw_server

pytestmark = pytest.mark.anyio
CHAT = {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 16}
SSE_DONE = b"data: [DONE]\n\n"


def answer(status: str, body: bytes, *headers: str) -> bytes:
    """An HTTP/1.1 answer with a Content-Length, as a provider would write it."""
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def pooled(url: str, max_connections: int = 4, pool_timeout: float = 1.0) -> PooledUpstream:
    timeouts = Timeouts(connect=1.0, read=1.0, pool=pool_timeout)
    return PooledUpstream(url, [("Authorization", "Bearer t")], timeouts, max_connections, 4)


@pytest.mark.parametrize(
    ("kind", "error", "detail"),
    [
        pytest.param("connect_timeout", UpstreamTimeoutError, "ConnectTimeout", id="connect-time"),
        pytest.param("read_timeout", UpstreamTimeoutError, "ReadTimeout", id="read-timeout"),
        pytest.param("connect", UpstreamFailedError, "ConnectError", id="refused"),
        pytest.param("protocol", UpstreamFailedError, "RemoteProtocolError", id="reset"),
        pytest.param("too_large", UpstreamFailedError, "answer larger than 9 bytes", id="large"),
    ],
)
def test_lean_client_failures_map_to_gateway_errors(
    kind: ErrorKind, error: type[GatewayError], detail: str
) -> None:
    """Each kind of lean-client failure is one gateway error, its detail naming what happened."""
    mapped = lean_error(H1Error(kind, "answer larger than 9 bytes"))
    assert (type(mapped), mapped.detail) == (error, detail)


@pytest.mark.parametrize(
    ("exc", "reading", "error", "detail"),
    [
        pytest.param(
            aiohttp.ConnectionTimeoutError(),
            False,
            UpstreamTimeoutError,
            "ConnectTimeout",
            id="connect-timeout",
        ),
        pytest.param(
            aiohttp.SocketTimeoutError(),
            True,
            UpstreamTimeoutError,
            "ReadTimeout",
            id="read",
        ),
        pytest.param(TimeoutError(), True, UpstreamTimeoutError, "ReadTimeout", id="timeout"),
        pytest.param(
            aiohttp.ServerDisconnectedError(),
            True,
            UpstreamFailedError,
            "RemoteProtocolError",
            id="disconnected",
        ),
        pytest.param(
            aiohttp.ClientPayloadError("cut"),
            True,
            UpstreamFailedError,
            "RemoteProtocolError",
            id="payload",
        ),
        pytest.param(
            aiohttp.ClientOSError(104, "reset"),
            True,
            UpstreamFailedError,
            "ReadError",
            id="reset-reading",
        ),
        pytest.param(
            aiohttp.ClientOSError(104, "reset"),
            False,
            UpstreamFailedError,
            "ConnectError",
            id="reset-opening",
        ),
    ],
)
def test_stream_client_failures_map_to_gateway_errors(
    exc: BaseException, reading: bool, error: type[GatewayError], detail: str
) -> None:
    """aiohttp's failures, opening a stream or reading it, are the same gateway errors."""
    mapped = aiohttp_error(exc, reading)
    assert (type(mapped), mapped.detail) == (error, detail)


@pytest.mark.parametrize("stream", [False, True], ids=["lean", "stream"])
async def test_the_token_and_the_path_reach_the_provider(stream: bool) -> None:
    """Both clients POST to the base URL's path + /v1/chat/completions, with the bearer token."""
    reply = answer("200 OK", SSE_DONE if stream else json.dumps(completion()).encode())
    async with raw_server(reply) as server:
        base = f"{server.url}/base/"
        async with gateway_client(None, upstream_base_url=base) as client:
            response = await client.post("/v1/chat/completions", json={**CHAT, "stream": stream})
    assert response.status_code == 200
    (request,) = server.requests
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /base/v1/chat/completions HTTP/1.1"
    assert f"Authorization: Bearer {TOKEN}" in lines
    assert "Content-Type: application/json" in lines
    sent = (
        {**CHAT, "model": "gpt-4o-mini", "stream": True}
        if stream
        else {**CHAT, "model": "gpt-4o-mini"}
    )
    assert json.loads(body) == sent


async def test_the_providers_body_and_headers_stay_upstream() -> None:
    """A provider 500 is a 502 carrying neither its body nor its own headers."""
    secret = b'{"error": "invalid key sk-live-provider-internal"}'
    async with (
        raw_server(
            answer("500 Internal Server Error", secret, "X-Provider-Internal: node-7")
        ) as server,
        gateway_client(None, upstream_base_url=server.url) as client,
    ):
        response = await client.post("/v1/infer", json=INFER_BODY)
    assert response.status_code == 502
    assert "sk-live" not in response.text
    assert "x-provider-internal" not in response.headers


async def test_a_refused_stream_over_the_pool_is_an_http_status() -> None:
    """A provider 429 before any event is the client's 429, Retry-After kept; the slot is freed."""
    async with (
        raw_server(answer("429 Too Many Requests", b"", "Retry-After: 3")) as server,
        gateway_client(None, upstream_base_url=server.url) as client,
    ):
        response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
        metrics = (await client.get("/metrics")).text
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert "gateway_upstream_pool_connections_in_use 0.0" in metrics


async def test_a_stream_cut_midway_over_the_pool_ends_with_an_error_event() -> None:
    """The provider closing mid-stream ends the client's stream with the gateway's error event."""
    event = b'data: {"choices": []}\n\n'
    cut = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%b\r\n" % (len(event), event)
    async with (
        raw_server(cut, close=True) as server,
        gateway_client(None, upstream_base_url=server.url) as client,
    ):
        response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[0] == '{"choices": []}'
    assert json.loads(events[-1])["error"]["message"] == "upstream provider failed"


async def test_kept_alive_connections_are_counted_idle() -> None:
    """After a whole answer, its connection waits in the pool: idle 1, in use 0."""
    reply = answer("200 OK", json.dumps(completion()).encode())
    async with (
        raw_server(reply) as server,
        gateway_client(None, upstream_base_url=server.url) as client,
    ):
        assert (await client.post("/v1/infer", json=INFER_BODY)).status_code == 200
        metrics = (await client.get("/metrics")).text
    assert "gateway_upstream_pool_connections_idle 1.0" in metrics
    assert "gateway_upstream_pool_connections_in_use 0.0" in metrics


async def test_an_open_stream_holds_its_slot_until_it_is_left() -> None:
    """With the one slot held by a stream, a call waits the pool timeout and fails; then it runs."""
    async with raw_server(answer("200 OK", SSE_DONE)) as server:
        upstream = pooled(server.url, max_connections=1, pool_timeout=0.05)
        async with upstream.stream(b"{}") as opened:
            assert (opened.status, upstream.connections_in_use()) == (200, 1)
            with pytest.raises(PoolExhaustedError) as caught:
                await upstream.post(b"{}")
        assert upstream.connections_in_use() == 0
        assert (await asyncio.wait_for(upstream.post(b"{}"), 1)).status == 200
        await upstream.aclose()
    assert (caught.value.status_code, caught.value.retry_after) == (503, 1)
