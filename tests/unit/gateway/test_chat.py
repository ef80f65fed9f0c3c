"""`/v1/chat/completions`: pass-through, streaming as it arrives, cancellation, stream errors."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import httpx
import pytest

from gateway.pool import aiohttp_error
from tests.unit.conftest import serve_mock as running_mock
from tests.unit.gateway.conftest import answer_ok, completion, gateway_client, serving_gateway
from tests.unit.gateway.fake_provider import FakeProvider, Reply

pytestmark = pytest.mark.anyio
CHAT = {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 16}


async def test_non_streaming_requests_pass_through() -> None:
    """The body reaches the provider with unknown OpenAI fields intact; the answer comes back."""
    provider = FakeProvider(lambda body: Reply.json(completion("pong")))
    async with gateway_client(provider, target_model="house") as client:
        response = await client.post(
            "/v1/chat/completions", json={**CHAT, "top_p": 0.5, "user": "u1"}
        )
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "pong"
    sent = [json.loads(body) for body in provider.bodies]
    assert sent == [{**CHAT, "model": "house", "top_p": 0.5, "user": "u1"}]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"messages": []}, id="no-messages"),
        pytest.param({"messages": [{"role": "wizard", "content": "x"}]}, id="bad-role"),
        pytest.param({**CHAT, "max_tokens": 5000}, id="too-many-tokens"),
        pytest.param({**CHAT, "temperature": 9}, id="too-hot"),
    ],
)
async def test_invalid_chat_bodies_are_422(body: dict[str, object]) -> None:
    """The fields the gateway relies on are validated before any upstream call."""
    async with gateway_client(FakeProvider(lambda body: Reply(500))) as client:
        response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 422


async def test_stream_chunks_are_relayed_as_they_arrive() -> None:
    """Each SSE event reaches the client about when the provider sent it, not at the end."""
    settings = {"latency_ms": 50, "tokens_per_s": 20, "completion_tokens": 6}
    async with (
        running_mock(**settings) as url,
        serving_gateway(upstream_base_url=url) as gateway,
        httpx.AsyncClient(base_url=gateway) as client,
    ):
        started = time.perf_counter()
        arrivals: list[float] = []
        body = {**CHAT, "stream": True, "max_tokens": 50}
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    arrivals.append(time.perf_counter() - started)
    assert len(arrivals) >= 7  # role chunk, tokens, finish, [DONE]
    assert arrivals[0] < 0.12  # first token after the 50 ms TTFT, not after the whole stream
    assert arrivals[-1] - arrivals[0] >= 0.2  # spread out at the provider's 20 tokens/s


async def test_a_client_that_leaves_cancels_the_upstream_stream() -> None:
    """Closing the client stream closes the provider's stream and frees the pool slot."""
    settings = {"latency_ms": 0, "tokens_per_s": 20, "completion_tokens": 200}
    async with (
        running_mock(**settings) as url,
        serving_gateway(upstream_base_url=url) as gateway,
        httpx.AsyncClient(base_url=gateway) as client,
    ):
        body = {**CHAT, "stream": True, "max_tokens": 500}
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            async for _ in response.aiter_bytes():
                break
        stats: dict[str, int] = {}
        for _ in range(50):
            async with httpx.AsyncClient() as admin:
                stats = (await admin.get(f"{url}/admin/stats")).json()
            if stats.get("streams_cancelled"):
                break
            await asyncio.sleep(0.05)
        metrics = (await client.get("/metrics")).text
    assert stats["streams_cancelled"] == 1
    assert stats.get("streams_completed", 0) == 0
    assert "gateway_upstream_pool_connections_in_use 0.0" in metrics


async def test_a_refused_stream_is_an_http_status() -> None:
    """When the provider refuses before streaming, the client gets the mapped status."""
    async with gateway_client(FakeProvider(lambda body: Reply(429, retry_after="3"))) as client:
        response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"


async def _broken_stream() -> AsyncIterator[bytes]:
    """A stream whose transfer fails after one event, as the pool reports it."""
    yield b'data: {"choices": []}\n\n'
    reset = aiohttp.ClientOSError(104, "connection reset by peer")
    raise aiohttp_error(reset, reading=True)


async def test_a_stream_broken_midway_ends_with_an_error_event() -> None:
    """A provider failure mid-stream ends the stream with an error event, no upstream detail."""
    provider = FakeProvider(lambda body: Reply(chunks=_broken_stream()))
    async with gateway_client(provider) as client:
        response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[0] == '{"choices": []}'
    error = json.loads(events[-1])["error"]
    assert error["message"] == "upstream provider failed"
    assert "reset" not in response.text


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_integers_beyond_64_bits_pass_through(stream: bool) -> None:
    """JSON allows any integer; a huge one in a pass-through field reaches the provider intact."""
    reply = Reply(body=b"data: [DONE]\n\n") if stream else Reply.json(completion())
    provider = FakeProvider(lambda body: reply)
    huge = 776242939553628759995187200
    body = {**CHAT, "stream": stream, "metadata": {"n": huge}, "temperature": 0}
    async with gateway_client(provider) as client:
        response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert json.loads(provider.bodies[0])["metadata"]["n"] == huge


async def test_lone_surrogates_are_a_422() -> None:
    """Text that is not Unicode (a lone surrogate escape) is refused before any upstream call."""
    body = b'{"messages": [{"role": "user", "content": "bad \\ud83a text"}]}'
    async with gateway_client(FakeProvider(lambda body: Reply(500))) as client:
        response = await client.post(
            "/v1/chat/completions", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        pytest.param({"max_completion_tokens": 10**9}, "max_completion_tokens", id="completion"),
        pytest.param({"max_tokens": 4097}, "max_tokens", id="max-tokens"),
        pytest.param({"max_tokens": 10**30}, "max_tokens", id="max-tokens-past-64-bits"),
        pytest.param({"n": 128}, "n", id="n"),
        pytest.param({"best_of": 20}, "best_of", id="best-of"),
        pytest.param({"min_tokens": 10**6}, "min_tokens", id="min-tokens"),
        pytest.param({"n": 0}, "n", id="n-zero"),
    ],
)
async def test_every_field_that_multiplies_cost_is_capped(
    extra: dict[str, object], field: str
) -> None:
    """Output length and choice counts past the caps are a 422 naming the field, never sent."""
    provider = FakeProvider(answer_ok)
    async with gateway_client(provider) as client:
        response = await client.post("/v1/chat/completions", json={**CHAT, **extra})
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", field]]
    assert provider.bodies == []


async def test_cost_fields_within_the_caps_pass_through() -> None:
    """Allowed values of the capped fields reach the provider unchanged."""
    provider = FakeProvider(answer_ok)
    extra = {"max_completion_tokens": 4096, "n": 8, "best_of": 8, "min_tokens": 1}
    async with gateway_client(provider) as client:
        response = await client.post("/v1/chat/completions", json={**CHAT, **extra})
    assert response.status_code == 200
    assert json.loads(provider.bodies[0]) == {**CHAT, **extra, "model": "gpt-4o-mini"}


PROVIDER_SECRET = "acct 7731 over quota, key sk-live-provider-internal"


async def test_an_error_object_in_a_200_answer_is_mapped() -> None:
    """A 200 whose body is an error object is a 502 without the provider's text."""
    provider = FakeProvider(lambda body: Reply.json({"error": {"message": PROVIDER_SECRET}}))
    async with gateway_client(provider) as client:
        response = await client.post("/v1/chat/completions", json={**CHAT, "temperature": 0})
    assert response.status_code == 502
    assert "quota" not in response.text and "sk-live" not in response.text


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(
            b'data: {"error": {"message": "' + PROVIDER_SECRET.encode() + b'"}}\n\n', id="openai"
        ),
        pytest.param(
            b"event: error\r\ndata: " + PROVIDER_SECRET.encode() + b"\r\n\r\n", id="event-error"
        ),
    ],
)
async def test_error_events_in_a_stream_are_mapped(event: bytes) -> None:
    """A provider's error event mid-stream becomes the gateway's own; its text stays out."""
    first = b'data: {"choices": [{"delta": {"content": "error \\"error\\""}}]}\n\n'
    chunks = [first, event[:20], event[20:], b"data: [DONE]\n\n"]
    async with gateway_client(FakeProvider(lambda body: Reply(chunks=chunks))) as client:
        response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[0] == first.decode()[6:-2]
    assert json.loads(events[-1])["error"]["message"] == "upstream provider failed"
    assert len(events) == 2  # the stream ends at the error
    assert "quota" not in response.text and "sk-live" not in response.text


async def test_a_stream_event_past_the_bound_ends_the_stream() -> None:
    """An event that never ends is not buffered past UPSTREAM_MAX_EVENT_BYTES."""
    endless = [b'data: {"choices": []}\n\n', b"data: ", *[b"x" * 4096] * 64]
    provider = FakeProvider(lambda body: Reply(chunks=endless))
    async with gateway_client(provider, upstream_max_event_bytes=65536) as client:
        response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[0] == '{"choices": []}'
    assert json.loads(events[-1])["error"]["message"] == "upstream provider failed"
    assert len(response.content) < 1000
