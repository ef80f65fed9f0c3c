"""The reference gateway in Docker, under the behaviours a production LLM gateway must have."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from harness.stack.docker import DockerEngine
from harness.stack.images import StackImages
from harness.stack.launch import GatewayStack
from harness.stack.services import ServiceSpec
from tests.integration.conftest import TOKEN, leftovers, make_stack

CHAT = "/v1/chat/completions"
GATEWAY_KEY = "lg-client-key-7c1d"


def chat_body(text: str, **extra: object) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": text}], "max_tokens": 16, **extra}


@pytest.fixture
def mock(stack: GatewayStack) -> Iterator[httpx.Client]:
    """An admin client for the mock provider; its faults and latency are reset after each test."""
    with httpx.Client(base_url=stack.mock_url, timeout=10) as client:
        client.post("/admin/reset")
        yield client
        client.post("/admin/reset")


def test_streamed_chunks_arrive_as_the_provider_sends_them(
    stack: GatewayStack, mock: httpx.Client
) -> None:
    """Through the containers, SSE events arrive spread over the stream, not in one block."""
    mock.patch("/admin/config", json={"tokens_per_s": 20, "completion_tokens": 10})
    arrivals: list[float] = []
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as client:
        started = time.perf_counter()
        body = chat_body("stream please", stream=True, max_tokens=50)
        with client.stream("POST", CHAT, json=body) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    arrivals.append(time.perf_counter() - started)
    assert len(arrivals) >= 10
    assert arrivals[0] < 0.15  # the first token after the 20 ms TTFT
    assert arrivals[-1] - arrivals[0] >= 0.3  # ~10 tokens at 20/s, relayed as they came


def test_identical_concurrent_requests_make_one_upstream_call(
    stack: GatewayStack, mock: httpx.Client
) -> None:
    """Ten identical deterministic requests in flight together reach the provider once."""
    mock.patch("/admin/config", json={"latency_ms": 400})
    body = chat_body(f"dedup {uuid.uuid4()}", temperature=0)
    with (
        httpx.Client(base_url=stack.gateway_url, timeout=10) as client,
        ThreadPoolExecutor(10) as pool,
    ):
        responses = list(pool.map(lambda _: client.post(CHAT, json=body), range(10)))
    assert [r.status_code for r in responses] == [200] * 10
    assert len({r.text for r in responses}) == 1
    assert mock.get("/admin/stats").json()["requests"] == 1


def test_stopping_redis_mid_run_causes_no_errors(
    engine: DockerEngine, stack: GatewayStack, mock: httpx.Client
) -> None:
    """With Redis stopped the gateway serves without the cache, fast; restarted, it caches again."""
    redis = engine.client.containers.get(stack.containers["redis"].id)
    statuses: list[int] = []
    latencies: list[float] = []
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(base_url=stack.gateway_url, timeout=10) as client:
            while not stop.is_set():
                started = time.perf_counter()
                response = client.post(CHAT, json=chat_body(f"redis {uuid.uuid4()}", temperature=0))
                latencies.append(time.perf_counter() - started)
                statuses.append(response.status_code)

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        time.sleep(0.5)
        redis.stop(timeout=2)
        time.sleep(1.5)
        redis.start()
        time.sleep(1.0)
    finally:
        stop.set()
        worker.join()
    assert len(statuses) > 20
    assert set(statuses) == {200}
    assert max(latencies) < 1.0  # the cache timeout bounds what a dead Redis adds
    body = chat_body(f"cached again {uuid.uuid4()}", temperature=0)
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as client:
        for _ in range(50):  # the client reconnects on its own once Redis answers again
            before = mock.get("/admin/stats").json()["requests"]
            client.post(CHAT, json=body)
            if mock.get("/admin/stats").json()["requests"] == before:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the gateway never served from Redis again after it came back")


def test_provider_faults_map_and_never_leak_the_token(
    engine: DockerEngine, stack: GatewayStack, mock: httpx.Client
) -> None:
    """401s, 5xx and resets become 502s; neither answers nor any container's logs hold the token."""
    with httpx.Client(base_url=stack.gateway_url, timeout=10) as client:
        mock.patch(
            "/admin/config", json={"faults": {"error_rate": 1, "error_statuses": {"401": 1}}}
        )
        unauthorized = client.post(CHAT, json=chat_body("x"))
        mock.patch("/admin/config", json={"faults": {"error_rate": 0, "reset_rate": 1}})
        reset = client.post(CHAT, json=chat_body("x"))
        mock.patch(
            "/admin/config",
            json={
                "faults": {
                    "reset_rate": 0,
                    "error_rate": 1,
                    "error_statuses": {"429": 1},
                    "retry_after_s": 9,
                }
            },
        )
        limited = client.post(CHAT, json=chat_body("x"))
    assert (unauthorized.status_code, reset.status_code, limited.status_code) == (502, 502, 429)
    assert limited.headers["retry-after"] == "9"
    time.sleep(0.3)  # the access log is written in batches
    for container in stack.containers.values():
        assert TOKEN not in container.all_logs(), container.name
    gateway_logs = stack.gateway.all_logs()
    assert "status=502" in gateway_logs
    assert "upstream error" in gateway_logs
    for response in (unauthorized, reset, limited):
        assert TOKEN not in response.text


def test_shedding_and_pool_exhaustion_answer_503_fast(
    engine: DockerEngine, images: StackImages, services: tuple[ServiceSpec, ServiceSpec]
) -> None:
    """Past MAX_CONCURRENCY requests are shed at once; past the pool they wait the pool timeout."""
    tight = make_stack(
        engine,
        images,
        services,
        MAX_CONCURRENCY="6",
        UPSTREAM_MAX_CONNECTIONS="3",
        UPSTREAM_POOL_TIMEOUT="0.2",
    )
    with tight, httpx.Client(base_url=tight.gateway_url, timeout=10) as client:
        httpx.patch(f"{tight.mock_url}/admin/config", json={"latency_ms": 1500})

        def timed(_: int) -> tuple[int, float, str]:
            started = time.perf_counter()
            response = client.post(CHAT, json=chat_body(f"busy {uuid.uuid4()}"))
            return (
                response.status_code,
                time.perf_counter() - started,
                response.headers.get("retry-after", ""),
            )

        with ThreadPoolExecutor(12) as pool:
            results = list(pool.map(timed, range(12)))
        metrics = client.get("/metrics").text
    served = [r for r in results if r[0] == 200]
    refused = [r for r in results if r[0] == 503]
    assert len(served) == 3  # the pool's three connections
    assert len(refused) == 9
    assert all(latency < 0.6 and retry == "1" for _, latency, retry in refused)
    assert "gateway_upstream_pool_timeouts_total 3.0" in metrics
    assert "gateway_shed_requests_total 6.0" in metrics


def _wait_in_flight_at_provider(mock_url: str, count: int, timeout_s: float = 10.0) -> None:
    """Until `count` requests are open at the provider (on a busy machine threads start late:
    a SIGTERM before their requests arrive would rightly refuse them)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if httpx.get(f"{mock_url}/admin/stats", timeout=2).json()["concurrent"] >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{count} requests never were in flight at the provider")


def test_sigterm_under_load_completes_in_flight_requests_and_exits_0(
    engine: DockerEngine, images: StackImages, services: tuple[ServiceSpec, ServiceSpec]
) -> None:
    """On SIGTERM /ready turns 503 at once, new requests are refused, in-flight ones (streams
    included) finish, and the process exits 0 well within the drain time."""
    stack = make_stack(engine, images, services)
    with stack:
        httpx.patch(f"{stack.mock_url}/admin/config", json={"latency_ms": 1500, "tokens_per_s": 10})
        gateway = engine.client.containers.get(stack.gateway.id)
        results: list[tuple[str, int, str]] = []

        def request(index: int) -> None:
            with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
                if index % 4 == 0:
                    body = chat_body(f"s{index}", stream=True, max_tokens=10)
                    with client.stream("POST", CHAT, json=body) as response:
                        text = "".join(response.iter_text())
                    results.append(("stream", response.status_code, text))
                else:
                    response = client.post(CHAT, json=chat_body(f"r{index}"))
                    results.append(("plain", response.status_code, response.text))

        workers = [threading.Thread(target=request, args=(i,)) for i in range(16)]
        for worker in workers:
            worker.start()
        _wait_in_flight_at_provider(stack.mock_url, 16)
        sent_at = time.monotonic()
        stopper = threading.Thread(target=lambda: gateway.stop(timeout=30))
        stopper.start()
        ready_503_after = None
        refused_new = None
        with httpx.Client(base_url=stack.gateway_url, timeout=2) as probe:
            while time.monotonic() - sent_at < 5 and (
                ready_503_after is None or refused_new is None
            ):
                try:
                    if ready_503_after is None and probe.get("/ready").status_code == 503:
                        ready_503_after = time.monotonic() - sent_at
                    # Only once draining: a request sent before the signal lands is served,
                    # and would hold this probe for the provider's latency.
                    if ready_503_after is not None and refused_new is None:
                        refused_new = probe.post(CHAT, json=chat_body("late")).status_code
                except httpx.TransportError:
                    break
                time.sleep(0.02)
        for worker in workers:
            worker.join(timeout=30)
        stopper.join(timeout=40)
        exited_after = time.monotonic() - sent_at
        gateway.reload()
        state = gateway.attrs["State"]
    assert ready_503_after is not None and ready_503_after < 0.5
    assert refused_new == 503
    assert len(results) == 16
    assert all(status == 200 for _, status, _ in results)
    assert all(
        text.rstrip().endswith("data: [DONE]") for kind, _, text in results if kind == "stream"
    )
    assert all(
        json.loads(text)["object"] == "chat.completion"
        for kind, _, text in results
        if kind == "plain"
    )
    assert state["ExitCode"] == 0
    assert not state["OOMKilled"]
    assert exited_after < 10  # drained in ~1.5 s + stream time, far below the 20 s drain budget
    assert leftovers(engine, stack.config.run_id) == []


def stall_upload(port: int) -> socket.socket:
    """A raw client that announces 1,000 body bytes, sends one, then stalls."""
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    client.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer "
        + GATEWAY_KEY.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
    )
    return client


def test_client_keys_and_stalled_uploads_in_the_production_image(
    engine: DockerEngine, images: StackImages, services: tuple[ServiceSpec, ServiceSpec]
) -> None:
    """With keys set, callers need one and the probes stay open; two stalled uploads with
    MAX_CONCURRENCY=2 lock nobody out and get 408 after the body timeout."""
    hardened = make_stack(
        engine,
        images,
        services,
        GATEWAY_API_KEYS=f"other-key-0000,{GATEWAY_KEY}",
        MAX_CONCURRENCY="2",
        REQUEST_BODY_TIMEOUT_SECONDS="1",
    )
    with hardened, httpx.Client(base_url=hardened.gateway_url, timeout=10) as client:
        anonymous = client.post(CHAT, json=chat_body("no key"))
        metrics = client.get("/metrics")
        ready = client.get("/ready")
        port = httpx.URL(hardened.gateway_url).port
        assert port is not None
        stalled = [stall_upload(port) for _ in range(2)]
        try:
            time.sleep(0.3)
            keyed = client.post(CHAT, json=chat_body("key"), headers={"x-api-key": GATEWAY_KEY})
            answers = [sock.recv(4096) for sock in stalled]
        finally:
            for sock in stalled:
                sock.close()
    assert (anonymous.status_code, metrics.status_code, ready.status_code) == (401, 401, 200)
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert keyed.status_code == 200
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in answers)
