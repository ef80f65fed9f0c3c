"""Helpers and fixtures shared by the unit tests of every package: a small, complete RunResult,
the mock provider served on loopback, and a provider whose answers are scripted request by
request (it leaks the scan secret in its first 2xx answer and in a 400, redirects once, and can
stall for a while)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from harness.mock_upstream.app import create_app
from harness.mock_upstream.settings import MockSettings
from reports.result import (
    BudgetVerdict,
    ContainerOutcome,
    CpuStats,
    ErrorStats,
    ImageRecord,
    LatencyStats,
    MemoryStats,
    ResourcePoint,
    RunResult,
    TimePoint,
    Verdict,
)

MIB = 1024 * 1024


def sample_result(verdict: Verdict = "pass") -> RunResult:
    """A smoke run of 600 requests, 3 errors, memory and CPU sampled, two budgets judged."""
    return RunResult(
        run_id="20260101-000000-abcd",
        scenario="smoke",
        target_url="http://127.0.0.1:32768",
        started_at=1_767_225_600.0,
        load_started_at=1_767_225_605.0,
        finished_at=1_767_225_625.0,
        load_duration_s=15.0,
        users=8,
        target_rps=40.0,
        throughput_rps=39.5,
        latency=LatencyStats(
            count=600, mean_ms=55, p50_ms=50, p90_ms=90, p95_ms=110, p99_ms=150, max_ms=210
        ),
        errors=ErrorStats(total=3, rate=0.005, by_kind={"http_502": 3}),
        memory=MemoryStats(
            source="cgroup-v1",
            samples=75,
            rate_hz=5.0,
            idle_bytes=55 * MIB,
            p50_bytes=58 * MIB,
            p95_bytes=60 * MIB,
            max_bytes=64 * MIB,
            limit_bytes=512 * MIB,
        ),
        cpu=CpuStats(
            mean_cores=0.2, p95_cores=0.3, max_cores=0.4, throttled_s=0.0, limit_cores=1.0
        ),
        images={
            "gateway": ImageRecord(
                name="loadgate/gateway:latest", id="sha256:" + "a" * 64, size_bytes=200 * MIB
            )
        },
        limits={
            "cpus": 1.0,
            "memory_bytes": 512 * MIB,
            "reserved_cpus": None,
            "reserved_memory_bytes": None,
        },
        container=ContainerOutcome(
            restarts=0, oom_killed=False, exit_code=None, token_in_logs=False
        ),
        timeline=[
            TimePoint(
                t=float(t),
                requests=40,
                errors=1 if t == 3 else 0,
                p50_ms=50,
                p95_ms=100 + t,
                p99_ms=150,
            )
            for t in range(15)
        ],
        resources=[
            ResourcePoint(t=t / 5, memory_bytes=(55 + t % 5) * MIB, cpu_cores=0.2)
            for t in range(75)
        ],
        budgets=[
            BudgetVerdict(name="latency_p95_ms", limit=250, observed=110, unit="ms", passed=True),
            BudgetVerdict(
                name="memory_p95_mb", limit=40, observed=60, unit="MiB", passed=verdict == "pass"
            ),
        ],
        verdict=verdict,
        files={"samples": "samples.csv"},
    )


MakeResult = Callable[..., RunResult]
"""`make_result(verdict="pass")`: `sample_result` as a fixture."""


@pytest.fixture
def make_result() -> MakeResult:
    """Builds the sample RunResult with the verdict asked for."""
    return sample_result


@asynccontextmanager
async def serve_mock(**settings: Any) -> AsyncIterator[str]:
    """Yields the base URL of a mock provider configured with `settings`."""
    server = TestServer(create_app(MockSettings(**settings)), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


RunningMock = Callable[..., AbstractAsyncContextManager[str]]
"""`async with running_mock(**settings) as url`: the mock provider served on 127.0.0.1."""


@pytest.fixture
def running_mock() -> RunningMock:
    """The real mock provider (aiohttp, a free loopback port), configured per use."""
    return serve_mock


SECRET = "sk-provider-5e1f0c77a9d24b"
TARGET_TOKEN = "lg-target-9c41d2e07f"
CHAT = "/v1/chat/completions"


@dataclass
class Script:
    """Request 1 answers 200 with the secret in its body (or in an event, streamed), request 2
    answers 400 with it in body and headers, request 3 redirects to `/followed`; the rest are
    plain 200s. Requests that arrive within `stall` (seconds after the first) are held to its
    end."""

    stall: tuple[float, float] | None = None
    bodies: list[dict[str, Any]] = field(default_factory=list)
    followed: int = 0
    first_at: float | None = None

    async def answer(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.bodies.append(body)
        number = len(self.bodies)
        await self._held()
        if number == 2:
            text = json.dumps({"error": f"key {SECRET} refused for {TARGET_TOKEN}"})
            headers = {"X-Debug-Upstream": f"Bearer {SECRET}"}
            return web.Response(status=400, text=text, headers=headers)
        if number == 3:
            return web.Response(status=302, headers={"Location": "/followed"})
        leak = SECRET if number == 1 else "nothing"
        if body.get("stream"):
            return await self._stream(request, leak)
        return web.json_response({"choices": [{"message": {"content": leak}}]})

    async def _held(self) -> None:
        loop = asyncio.get_running_loop()
        if self.first_at is None:
            self.first_at = loop.time()
        if self.stall is None:
            return
        begin, end = (self.first_at + s for s in self.stall)
        if begin <= loop.time() < end:
            await asyncio.sleep(end - loop.time())

    async def _stream(self, request: web.Request, leak: str) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for word in ("a", leak, "b"):
            chunk = {"choices": [{"delta": {"content": word}}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def follow(self, _: web.Request) -> web.Response:
        self.followed += 1
        return web.json_response({})


@asynccontextmanager
async def scripted_provider(script: Script) -> AsyncIterator[str]:
    """Yields the base URL of a server answering both contracts by `script`."""
    app = web.Application()
    app.router.add_post(CHAT, script.answer)
    app.router.add_post("/v1/infer", script.answer)
    app.router.add_route("*", "/followed", script.follow)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()
