"""`/v1/infer`: the seed contract, validation, and upstream error mapping."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.unit.gateway.conftest import INFER_BODY, TOKEN, completion, gateway_client, upstream
from tests.unit.mock_upstream.server import running_mock

pytestmark = pytest.mark.anyio


async def test_infer_maps_the_seed_contract_to_an_openai_call() -> None:
    """The request becomes an OpenAI chat completion with the token; the answer maps back."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=completion("hi there", total=21, model="gpt-x-2024"))

    async with gateway_client(upstream(handler)) as client:
        response = await client.post("/v1/infer", json={**INFER_BODY, "target_model": "gpt-x"})

    assert response.status_code == 200
    assert response.json() == {
        "generated_text": "hi there",
        "model_version": "gpt-x-2024",
        "token_consumption": 21,
    }
    sent = json.loads(seen[0].content)
    assert seen[0].url.path == "/v1/chat/completions"
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert sent == {
        "model": "gpt-x",
        "messages": [{"role": "user", "content": "Say hello"}],
        "max_tokens": 32,
        "temperature": 0.5,
    }


async def test_infer_defaults_to_the_configured_model() -> None:
    """Without target_model the request goes to TARGET_MODEL."""
    models: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        models.append(json.loads(request.content)["model"])
        return httpx.Response(200, json=completion())

    async with gateway_client(upstream(handler), target_model="house-model") as client:
        await client.post("/v1/infer", json=INFER_BODY)
    assert models == ["house-model"]


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
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(200, json=completion())

    async with gateway_client(upstream(handler)) as client:
        response = await client.post("/v1/infer", json=body)
    assert response.status_code == 422
    assert field in json.dumps(response.json()["detail"])
    assert calls == 0


async def test_non_json_body_is_a_422() -> None:
    """A body that is not JSON is a validation error, not a crash."""
    async with gateway_client(upstream(lambda r: httpx.Response(200, json=completion()))) as client:
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
    """Provider errors become a generic 502: no upstream body or header reaches the client."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            upstream_status, text=UPSTREAM_SECRET_BODY, headers={"x-provider-internal": "node-7"}
        )

    async with gateway_client(upstream(handler)) as client:
        response = await client.post("/v1/infer", json=INFER_BODY)
    assert response.status_code == gateway_status
    assert "sk-live" not in response.text and "db01" not in response.text
    assert "x-provider-internal" not in response.headers
    assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_upstream_429_passes_retry_after() -> None:
    """A provider 429 stays a 429 and its Retry-After reaches the client."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, text="slow down", headers={"retry-after": "7"})

    async with gateway_client(upstream(handler)) as client:
        response = await client.post("/v1/infer", json=INFER_BODY)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        pytest.param(httpx.ReadTimeout("read timed out"), 504, id="read-timeout"),
        pytest.param(httpx.ConnectTimeout("connect timed out"), 504, id="connect-timeout"),
        pytest.param(httpx.ConnectError("refused"), 502, id="connect-error"),
        pytest.param(httpx.ReadError("connection reset by peer"), 502, id="reset"),
        pytest.param(httpx.RemoteProtocolError("server hung up"), 502, id="protocol"),
        pytest.param(httpx.PoolTimeout("pool"), 503, id="pool-exhausted"),
    ],
)
async def test_transport_failures_are_mapped(error: Exception, status: int) -> None:
    """Timeouts are 504, resets and refusals 502, an exhausted pool a fast 503."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    async with gateway_client(upstream(handler)) as client:
        response = await client.post("/v1/infer", json=INFER_BODY)
    assert response.status_code == status
    if status == 503:
        assert response.headers["retry-after"] == "1"


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

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    async with gateway_client(upstream(handler)) as client:
        response = await client.post("/v1/infer", json=INFER_BODY)
    assert response.status_code == 502
