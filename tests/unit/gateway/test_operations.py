"""Probes, metrics, load shedding, the soft-failing cache and what reaches the logs."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest

from gateway.cache import ResponseCache, cache_key, is_cacheable
from tests.unit.gateway.conftest import INFER_BODY, TOKEN, answer_ok, gateway_client
from tests.unit.gateway.fake_provider import FakeProvider, Reply

pytestmark = pytest.mark.anyio


async def test_probes_answer_without_touching_the_upstream() -> None:
    """/live and /ready are 200 and never call the provider."""
    provider = FakeProvider(answer_ok)
    async with gateway_client(provider) as client:
        live = await client.get("/live")
        ready = await client.get("/ready")
    assert (live.status_code, ready.status_code) == (200, 200)
    assert ready.json() == {"status": "ready"}
    assert provider.bodies == []


async def test_metrics_count_requests_by_route_and_status() -> None:
    """/metrics is Prometheus text with request counts and upstream latency."""
    async with gateway_client(FakeProvider(answer_ok)) as client:
        await client.post("/v1/infer", json=INFER_BODY)
        await client.post("/v1/infer", json={"turns": []})
        text = (await client.get("/metrics")).text
    assert 'gateway_requests_total{route="/v1/infer",status="200"} 1.0' in text
    assert 'gateway_requests_total{route="/v1/infer",status="422"} 1.0' in text
    assert "gateway_upstream_latency_seconds_count 1.0" in text
    assert "gateway_in_flight_requests 0.0" in text


async def test_requests_beyond_max_concurrency_are_shed_at_once() -> None:
    """With MAX_CONCURRENCY in flight, the next request is an immediate 503 with Retry-After."""
    release = asyncio.Event()

    async def slow(body: bytes) -> Reply:
        await release.wait()
        return answer_ok(body)

    provider = FakeProvider(slow)
    async with gateway_client(provider, max_concurrency=2) as client:
        first = [asyncio.create_task(client.post("/v1/infer", json=INFER_BODY)) for _ in range(2)]
        while len(provider.bodies) < 2:
            await asyncio.sleep(0.001)
        shed = await asyncio.wait_for(client.post("/v1/infer", json=INFER_BODY), timeout=1)
        probe = await client.get("/ready")
        release.set()
        served = await asyncio.gather(*first)
        metrics = (await client.get("/metrics")).text
    assert shed.status_code == 503
    assert shed.headers["retry-after"] == "1"
    assert probe.status_code == 200  # probes are never shed
    assert [r.status_code for r in served] == [200, 200]
    assert "gateway_shed_requests_total 1.0" in metrics


async def test_unreachable_redis_costs_no_error() -> None:
    """With Redis down, deterministic requests are still answered (cache outcome: error)."""
    body = {**INFER_BODY, "sampling_temperature": 0}
    async with gateway_client(FakeProvider(answer_ok), redis_url="redis://127.0.0.1:1/0") as client:
        responses = [await client.post("/v1/infer", json=body) for _ in range(2)]
        metrics = (await client.get("/metrics")).text
    assert [r.status_code for r in responses] == [200, 200]
    assert 'gateway_cache_lookups_total{outcome="error"} 2.0' in metrics


def test_only_deterministic_requests_are_cacheable() -> None:
    """Temperature 0 requests are cached; anything sampled is not."""
    assert is_cacheable({"temperature": 0})
    assert not is_cacheable({"temperature": 0.7})


def test_cache_key_is_canonical() -> None:
    """Key order does not change the key; any field that reaches the provider does."""
    a = {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 0}
    b = {"temperature": 0, "messages": [{"role": "user", "content": "x"}], "model": "m"}
    assert cache_key(a) == cache_key(b)
    assert cache_key(a) != cache_key({**a, "model": "n"})
    assert cache_key(a).startswith("loadgate:v1:")


async def test_disabled_cache_bypasses() -> None:
    """Without REDIS_URL the cache reports bypass and stores nothing."""
    cache = ResponseCache(None, ttl_seconds=10, timeout=0.05)
    assert await cache.get("k") == (None, "bypass")
    assert await cache.set("k", {"a": 1}) is False


async def test_the_token_never_reaches_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Neither successful nor failing requests log the provider token."""

    echoed = Reply(401, f"bad token Bearer {TOKEN}".encode())  # a provider echoing the header
    caplog.set_level(logging.DEBUG)
    access = io.StringIO()
    async with gateway_client(FakeProvider(lambda body: echoed), access_stream=access) as client:
        response = await client.post("/v1/infer", json=INFER_BODY)
    assert response.status_code == 502
    assert "upstream error id=" in caplog.text  # what the provider did was logged
    assert "msg=request id=" in access.getvalue()  # and the request's own line
    assert "status=502" in access.getvalue()
    assert TOKEN not in caplog.text
    assert TOKEN not in access.getvalue()
    assert TOKEN not in response.text


async def test_one_access_line_per_request() -> None:
    """Each API request writes exactly one line, with its id, route, status and cache outcome."""
    access = io.StringIO()
    async with gateway_client(FakeProvider(answer_ok), access_stream=access) as client:
        for _ in range(3):
            await client.post("/v1/infer", json=INFER_BODY, headers={"x-request-id": "abc123"})
        await client.get("/ready")
    lines = access.getvalue().splitlines()
    assert len(lines) == 3
    assert all("id=abc123 method=POST path=/v1/infer status=200" in line for line in lines)
    assert all(line.endswith("cache=bypass") for line in lines)


@pytest.mark.parametrize(
    "given",
    [
        pytest.param("abc status=200 cache=hit", id="forged-fields"),
        pytest.param("abc\nts=1 level=INFO msg=forged", id="newline"),
        pytest.param("x" * 65, id="too-long"),
        pytest.param("caf\u00e9", id="not-ascii"),
    ],
)
async def test_unsafe_request_ids_are_replaced(given: str) -> None:
    """An X-Request-ID outside [A-Za-z0-9._-]{1,64} is replaced by a generated id everywhere."""
    access = io.StringIO()
    async with gateway_client(FakeProvider(answer_ok), access_stream=access) as client:
        headers = [(b"x-request-id", given.encode("latin-1"))]
        response = await client.post("/v1/infer", json=INFER_BODY, headers=headers)
    (line,) = access.getvalue().splitlines()
    generated = response.headers["x-request-id"]
    assert generated != given and len(generated) == 32
    assert f"id={generated} method=POST path=/v1/infer status=200" in line
    assert "forged" not in line and "status=200 cache=hit" not in line.split("method=")[0]


async def test_safe_request_ids_are_kept() -> None:
    """A request id of the safe alphabet and length comes back and is logged as given."""
    given = "trace-01.A_b" + "9" * 52
    access = io.StringIO()
    async with gateway_client(FakeProvider(answer_ok), access_stream=access) as client:
        response = await client.post("/v1/infer", json=INFER_BODY, headers={"x-request-id": given})
    assert response.headers["x-request-id"] == given
    assert f"id={given} " in access.getvalue()


async def test_the_upstream_url_is_logged_without_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The start-up line names the provider without its userinfo or query string."""
    caplog.set_level(logging.INFO, logger="gateway")
    url = "http://svc:hunter2@provider.test:8443/base?api_key=sk-query-secret#frag"
    async with gateway_client(FakeProvider(answer_ok), upstream_base_url=url):
        pass
    assert "upstream=http://provider.test:8443/base " in caplog.text
    assert "hunter2" not in caplog.text and "sk-query-secret" not in caplog.text
    assert "svc" not in caplog.text


async def test_the_model_list_names_the_target_model_without_the_provider() -> None:
    """GET /v1/models lists TARGET_MODEL, as OpenAI-compatible clients expect; no upstream call."""
    provider = FakeProvider(answer_ok)
    async with gateway_client(provider, target_model="team-model-7") as client:
        listed = await client.get("/v1/models")
    assert listed.status_code == 200
    assert [m["id"] for m in listed.json()["data"]] == ["team-model-7"]
    assert provider.bodies == []
