"""Single-flight, pool exhaustion, drain, and failures of the real upstream pool."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.unit.conftest import serve_mock as running_mock
from tests.unit.gateway.conftest import INFER_BODY, answer_ok, completion, gateway_client
from tests.unit.gateway.fake_provider import FakeProvider, Reply

pytestmark = pytest.mark.anyio
DETERMINISTIC = {**INFER_BODY, "sampling_temperature": 0}


async def metric_reaches(client: httpx.AsyncClient, line: str) -> None:
    """Wait until the gateway's /metrics shows `line` (5 s at most: a loaded machine is slow)."""
    deadline = time.monotonic() + 5
    while line not in (await client.get("/metrics")).text:
        assert time.monotonic() < deadline, f"/metrics never showed {line!r}"
        await asyncio.sleep(0.005)


async def test_identical_concurrent_requests_share_one_upstream_call() -> None:
    """Ten identical deterministic requests in flight together make one provider call."""
    release = asyncio.Event()

    async def reply(body: bytes) -> Reply:
        await release.wait()
        return Reply.json(completion("shared"))

    provider = FakeProvider(reply)
    async with gateway_client(provider) as client:
        tasks = [
            asyncio.create_task(client.post("/v1/infer", json=DETERMINISTIC)) for _ in range(10)
        ]
        await metric_reaches(client, "gateway_deduplicated_requests_total 9.0")
        release.set()
        responses = await asyncio.gather(*tasks)
        metrics = (await client.get("/metrics")).text
    assert len(provider.bodies) == 1
    assert {r.json()["generated_text"] for r in responses} == {"shared"}
    assert "gateway_deduplicated_requests_total 9.0" in metrics


async def test_sampled_requests_are_never_shared() -> None:
    """Requests with temperature above CACHE_MAX_TEMPERATURE each get their own call."""

    async def reply(body: bytes) -> Reply:
        await asyncio.sleep(0.02)
        return Reply.json(completion())

    provider = FakeProvider(reply)
    async with gateway_client(provider) as client:
        await asyncio.gather(*(client.post("/v1/infer", json=INFER_BODY) for _ in range(5)))
    assert len(provider.bodies) == 5


async def test_a_leaving_caller_does_not_cancel_the_shared_call() -> None:
    """If the first of two identical requests is cancelled, the second still gets the answer."""
    release = asyncio.Event()

    async def reply(body: bytes) -> Reply:
        await release.wait()
        return Reply.json(completion("kept"))

    async with gateway_client(FakeProvider(reply)) as client:
        first = asyncio.create_task(client.post("/v1/infer", json=DETERMINISTIC))
        await asyncio.sleep(0.02)
        second = asyncio.create_task(client.post("/v1/infer", json=DETERMINISTIC))
        await asyncio.sleep(0.02)
        first.cancel()
        release.set()
        response = await second
    assert response.json()["generated_text"] == "kept"


async def test_an_exhausted_pool_fails_fast_with_503() -> None:
    """With every connection busy, a request waits at most the pool timeout, then gets 503."""
    async with (
        running_mock(latency_ms=800) as url,
        gateway_client(
            None, upstream_base_url=url, upstream_max_connections=1, upstream_pool_timeout=0.1
        ) as client,
    ):
        busy = asyncio.create_task(client.post("/v1/infer", json=INFER_BODY))
        await asyncio.sleep(0.1)
        started = time.perf_counter()
        refused = await client.post("/v1/infer", json=INFER_BODY)
        waited = time.perf_counter() - started
        metrics = (await client.get("/metrics")).text
        assert (await busy).status_code == 200
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert waited < 0.5
    assert "gateway_upstream_pool_timeouts_total 1.0" in metrics
    assert "gateway_upstream_pool_connections_in_use 1.0" in metrics


@pytest.mark.parametrize(
    ("faults", "status"),
    [
        pytest.param({"reset_rate": 1}, 502, id="reset"),
        pytest.param({"outage": True}, 502, id="outage"),
        pytest.param({"error_rate": 1, "error_statuses": {"503": 1}}, 502, id="provider-503"),
        pytest.param({"slow_headers_rate": 1, "slow_headers_s": 2}, 504, id="slow-headers"),
        pytest.param(
            {"error_rate": 1, "error_statuses": {"429": 1}, "retry_after_s": 4},
            429,
            id="provider-429",
        ),
    ],
)
async def test_provider_faults_map_through_the_real_pool(
    faults: dict[str, object], status: int
) -> None:
    """Resets, outages, 5xx and stalled headers from a real server become 502 or 504."""
    async with (
        running_mock(latency_ms=0) as url,
        gateway_client(None, upstream_base_url=url, upstream_read_timeout=0.3) as client,
    ):
        async with httpx.AsyncClient() as admin:
            await admin.patch(f"{url}/admin/config", json={"faults": faults})
        response = await client.post("/v1/infer", json=INFER_BODY)
    assert response.status_code == status
    if status == 429:
        assert response.headers["retry-after"] == "4"


async def test_unreachable_provider_is_502() -> None:
    """A refused connection is an upstream failure, not a crash."""
    async with gateway_client(None, upstream_base_url="http://127.0.0.1:1") as client:
        response = await client.post("/v1/infer", json=INFER_BODY)
    assert response.status_code == 502


async def test_draining_refuses_new_work_but_answers_probes() -> None:
    """While draining, /ready is 503, API calls get 503 with Connection: close, /live stays 200."""
    async with gateway_client(FakeProvider(answer_ok)) as client:
        assert (await client.get("/ready")).status_code == 200
        transport = client._transport
        assert isinstance(transport, httpx.ASGITransport)
        transport.app.state.admission.start_draining()  # type: ignore[attr-defined]
        ready = await client.get("/ready")
        live = await client.get("/live")
        refused = await client.post("/v1/infer", json=INFER_BODY)
        metrics = (await client.get("/metrics")).text
    assert ready.status_code == 503
    assert live.status_code == 200
    assert refused.status_code == 503
    assert refused.headers["connection"] == "close"
    assert "gateway_draining 1.0" in metrics


async def test_shutdown_closes_the_upstream() -> None:
    """The lifespan that opened the upstream closes it when the gateway stops, not before."""
    provider = FakeProvider(answer_ok)
    async with gateway_client(provider) as client:
        assert (await client.post("/v1/infer", json=INFER_BODY)).status_code == 200
        assert not provider.closed
    assert provider.closed
