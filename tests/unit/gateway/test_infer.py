"""`/v1/infer`: the seed contract, validation, and upstream error mapping."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.h1 import ErrorKind, H1Error
from gateway.pool import lean_error
from tests.unit.conftest import serve_mock as running_mock
from tests.unit.gateway.conftest import INFER_BODY, answer_ok, completion, gateway_client
from tests.unit.gateway.fake_provider import FakeProvider, Reply

pytestmark = pytest.mark.anyio


async def test_infer_maps_the_seed_contract_to_an_openai_call() -> None:
    """The request becomes an OpenAI chat completion; the answer maps back."""
    provider = FakeProvider(
        lambda body: Reply.json(completion("hi there", total=21, model="gpt-x-2024"))
    )
    async with gateway_client(provider) as client:
        response = await client.post("/v1/infer", json={**INFER_BODY, "target_model": "gpt-x"})

    assert response.status_code == 200
    assert response.json() == {
        "generated_text": "hi there",
        "model_version": "gpt-x-2024",
        "token_consumption": 21,
    }
    assert [json.loads(body) for body in provider.bodies] == [
        {
            "model": "gpt-x",
            "messages": [{"role": "user", "content": "Say hello"}],
            "max_tokens": 32,
            "temperature": 0.5,
        }
    ]


async def test_infer_defaults_to_the_configured_model() -> None:
    """Without target_model the request goes to TARGET_MODEL."""
    provider = FakeProvider(answer_ok)
    async with gateway_client(provider, target_model="house-model") as client:
        await client.post("/v1/infer", json=INFER_BODY)
    assert [json.loads(body)["model"] for body in provider.bodies] == ["house-model"]


async def test_infer_through_the_mock_provider_over_the_real_transport() -> None:
    """Gateway (aiohttp-backed pool) and the mock provider on loopback agree on the contract."""
    async with (
        running_mock(latency_ms=0, completion_tokens=10) as url,
        gateway_client(None, upstream_base_url=url) as client,
    ):
        response = await client.post("/v1/infer", json=INFER_BODY)
    body = response.json()
    assert response.status_code == 200
    assert body["model_version"] == "gpt-4o-mini"
    completion_tokens = len(body["generated_text"].split())
    assert 8 <= completion_tokens <= 12  # the mock's 10 tokens, within its +-25 %
    assert body["token_consumption"] > completion_tokens  # prompt tokens count too


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(
            {**INFER_BODY, "max_output_tokens": 4097}, "max_output_tokens", id="too-many-tokens"
        ),
        pytest.param({**INFER_BODY, "sampling_temperature": 2.5}, "sampling_temperature", id="hot"),
        pytest.param(
            {**INFER_BODY, "sampling_temperature": -0.1}, "sampling_temperature", id="cold"
        ),
        pytest.param({**INFER_BODY, "turns": []}, "turns", id="no-turns"),
        pytest.param(
            {**INFER_BODY, "turns": [{"role": "robot", "text": "x"}]}, "role", id="bad-role"
        ),
        pytest.param(
            {**INFER_BODY, "turns": [{"role": "user", "text": ""}]}, "text", id="empty-text"
        ),
        pytest.param({**INFER_BODY, "surprise": 1}, "surprise", id="unknown-field"),
        pytest.param({"max_output_tokens": 5}, "turns", id="missing-turns"),
    ],
)
async def test_invalid_bodies_get_422_with_the_field_named(
    body: dict[str, Any], field: str
) -> None:
    """Bad request bodies are refused before any upstream call, naming the field."""
    provider = FakeProvider(answer_ok)
    async with gateway_client(provider) as client:
        response = await client.post("/v1/infer", json=body)
    assert response.status_code == 422
    assert field in json.dumps(response.json()["detail"])
    assert provider.bodies == []


async def test_non_json_body_is_a_422() -> None:
    """A body that is not JSON is a validation error, not a crash."""
    async with gateway_client(FakeProvider(answer_ok)) as client:
        response = await client.post(
            "/v1/infer", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert response.status_code == 422


UPSTREAM_SECRET_BODY = '{"error": "invalid key sk-live-provider-internal", "trace": "db01"}'


@pytest.mark.parametrize(
    ("upstream_status", "gateway_status"),
    [
        pytest.param(500, 502, id="500"),
        pytest.param(503, 502, id="503"),
        pytest.param(401, 502, id="401"),
        pytest.param(403, 502, id="403"),
        pytest.param(404, 502, id="404"),
    ],
)
async def test_upstream_failures_map_without_leaking(
    upstream_status: int, gateway_status: int
) -> None:
    """Provider errors become a generic 502: no upstream body reaches the client."""
    provider = FakeProvider(lambda body: Reply(upstream_status, UPSTREAM_SECRET_BODY.encode()))
    async with gateway_client(provider) as client:
        response = await client.post("/v1/infer", json=INFER_BODY)
    assert response.status_code == gateway_status
    assert "sk-live" not in response.text and "db01" not in response.text
    assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_upstream_429_passes_retry_after() -> None:
    """A provider 429 stays a 429 and its Retry-After reaches the client."""
    provider = FakeProvider(lambda body: Reply(429, b"slow down", retry_after="7"))
    async with gateway_client(provider) as client:
        response = await client.post("/v1/infer", json=INFER_BODY)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"


@pytest.mark.parametrize(
    ("kind", "status", "message"),
    [
        pytest.param("read_timeout", 504, "upstream provider timed out", id="read-timeout"),
        pytest.param("connect_timeout", 504, "upstream provider timed out", id="connect-timeout"),
        pytest.param("connect", 502, "upstream provider failed", id="connect-error"),
        pytest.param("protocol", 502, "upstream provider failed", id="reset"),
        pytest.param("too_large", 502, "upstream provider failed", id="too-large"),
    ],
)
async def test_transport_failures_are_mapped(kind: ErrorKind, status: int, message: str) -> None:
    """The pool's failures answer 504 (timeouts) or 502 with the public message, no detail."""
    error = lean_error(H1Error(kind, "reset by 10.0.0.7"))
    async with gateway_client(FakeProvider(lambda body: Reply(error=error))) as client:
        response = await client.post("/v1/infer", json=INFER_BODY)
    assert response.status_code == status
    assert response.json()["error"] == message
    assert "10.0.0.7" not in response.text


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<html>gateway timeout</html>", id="not-json"),
        pytest.param(b"[1, 2]", id="not-an-object"),
        pytest.param(b'{"choices": []}', id="no-choices"),
    ],
)
async def test_malformed_upstream_answers_are_502(body: bytes) -> None:
    """An upstream 200 that is not a completion is an upstream failure, not a 500."""
    async with gateway_client(FakeProvider(lambda _: Reply(body=body))) as client:
        response = await client.post("/v1/infer", json=INFER_BODY)
    assert response.status_code == 502


@pytest.mark.parametrize(
    ("raw", "sent"),
    [
        pytest.param("7", "7", id="seconds"),
        pytest.param("2.6", "3", id="fraction"),
        pytest.param("inf", "1", id="infinity"),
        pytest.param("nan", "1", id="nan"),
        pytest.param("1e300", "3600", id="huge"),
        pytest.param("86400", "3600", id="a-day"),
        pytest.param("-5", "1", id="negative"),
        pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", "1", id="http-date"),
    ],
)
async def test_provider_retry_after_is_clamped(raw: str, sent: str) -> None:
    """The provider's Retry-After reaches the client as 1..3600 whole seconds, whatever it was."""
    async with gateway_client(FakeProvider(lambda body: Reply(429, retry_after=raw))) as client:
        response = await client.post("/v1/infer", json=INFER_BODY)
    assert response.status_code == 429
    assert response.headers["retry-after"] == sent


async def test_an_oversized_answer_over_the_real_pool_is_502() -> None:
    """An answer past UPSTREAM_MAX_RESPONSE_BYTES is a 502, not a growing buffer."""
    async with (
        running_mock(latency_ms=0, completion_tokens=4000) as url,
        gateway_client(None, upstream_base_url=url, upstream_max_response_bytes=4096) as client,
    ):
        body = {**INFER_BODY, "max_output_tokens": 4000}
        response = await client.post("/v1/infer", json=body)
    assert response.status_code == 502


BIG = "y" * 8_000_000


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        pytest.param(json.dumps({"turns": BIG}), ["body", "turns"], id="string-for-a-list"),
        pytest.param(json.dumps({**INFER_BODY, "surprise": BIG}), ["body", "surprise"], id="extra"),
        pytest.param('{"turns": "' + BIG, ["body"], id="not-json"),
    ],
)
async def test_a_422_echoes_only_an_excerpt_of_the_input(body: str, loc: list[object]) -> None:
    """An invalid 8 MB body gets a short 422: field path, message and an input cut to 100."""
    async with gateway_client(FakeProvider(answer_ok)) as client:
        response = await client.post(
            "/v1/infer", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 422
    assert len(response.content) < 1000
    (error,) = response.json()["detail"]
    assert error["loc"] == loc
    assert error["msg"]
    assert len(error["input"]) <= 101
    assert error["input"].startswith(body[:50] if loc == ["body"] else "y" * 50)


async def test_a_422_with_many_errors_stays_short() -> None:
    """Thousands of errors in one body are reported as the first few, each input cut short."""
    turns = [{"role": "robot", "text": "z" * 1000} for _ in range(512)]
    async with gateway_client(FakeProvider(answer_ok)) as client:
        response = await client.post("/v1/infer", json={"turns": turns})
    detail = response.json()["detail"]
    assert response.status_code == 422
    assert len(response.content) < 5000
    assert 1 <= len(detail) <= 10
    assert all(len(json.dumps(error.get("input"))) <= 120 for error in detail)
