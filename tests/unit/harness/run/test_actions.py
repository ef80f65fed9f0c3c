"""Scenario actions against fake containers, an injected clock and an in-process HTTP transport:
what is done, in which order, and what is recorded with which times."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any, cast

import httpx
import pytest

from harness.run.actions import ActionLog, ScenarioActions, StackHandles
from harness.stack.docker import RunningContainer
from scenarios.catalog import Action

NOW = 1_800_000_000.0


class ManualClock:
    """Unix time that moves only when a fake says so."""

    def __init__(self) -> None:
        self.now = NOW
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


class FakeContainer:
    """Records `stop`/`start` with the clock's time; stopping takes `stop_takes_s` of it."""

    def __init__(
        self,
        clock: ManualClock,
        exit_code: int = 0,
        oom: bool = False,
        stop_takes_s: float = 0.0,
        gone: threading.Event | None = None,
    ) -> None:
        self.clock = clock
        self.calls: list[tuple[str, float, int | None]] = []
        self.exit_code, self.oom, self.stop_takes_s = exit_code, oom, stop_takes_s
        self.gone = gone
        """Set once the readiness probe saw the gateway unready: `stop` returns after the probe
        has noted it, so the exit is always later by the clock."""

    def stop(self, timeout_s: int = 10) -> None:
        self.calls.append(("stop", self.clock(), timeout_s))
        if self.gone is not None:
            assert self.gone.wait(5), "the readiness probe never saw the gateway go unready"
            for thread in threading.enumerate():  # the probe notes the time, then returns
                if thread.name == "ready-probe":
                    thread.join(5)
        self.clock.advance(self.stop_takes_s)

    def start(self) -> None:
        self.calls.append(("start", self.clock(), None))

    def state(self) -> dict[str, Any]:
        return {"ExitCode": self.exit_code, "OOMKilled": self.oom}


def container(fake: FakeContainer) -> RunningContainer:
    return cast(RunningContainer, fake)


def run(
    actions: Sequence[Action],
    handles: StackHandles,
    clock: ManualClock,
    transport: httpx.BaseTransport | None = None,
    events: int = 0,
) -> ActionLog:
    """Start `actions` with every one already due and stop once `events` were recorded."""
    runner = ScenarioActions(actions, handles, clock=clock, transport=transport)
    runner.start(load_started_at=clock() - 100)
    deadline = time.monotonic() + 5
    while len(runner.log.events) < events and time.monotonic() < deadline:
        time.sleep(0.001)
    return runner.stop()


def test_redis_is_stopped_and_started_in_the_order_of_the_action_times() -> None:
    """Given out of order, the actions run by `at_s`; each event carries the clock's time."""
    clock = ManualClock()
    redis = FakeContainer(clock, stop_takes_s=0.5)
    actions = [Action(20, "redis_start"), Action(10, "redis_stop")]
    log = run(actions, StackHandles(redis=container(redis)), clock, events=2)
    assert redis.calls == [("stop", NOW, 1), ("start", NOW + 0.5, None)]
    assert [(e.name, e.t) for e in log.events] == [
        ("redis_stop", NOW + 0.5),
        ("redis_start", NOW + 0.5),
    ]
    assert log.shutdown is None


def test_mock_config_patches_the_mock_and_describes_the_patch() -> None:
    """The config goes to `/admin/config` as JSON; the event lists its keys and values."""
    seen: list[tuple[str, str, object]] = []

    def mock(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, str(request.url), json.loads(request.content)))
        return httpx.Response(200, json={})

    clock = ManualClock()
    config = {"error_rate": 0.3, "latency_ms": 800}
    handles = StackHandles(mock_url="http://mock.test")
    log = run([Action(1, "mock_config", config)], handles, clock, httpx.MockTransport(mock), 1)
    assert seen == [("PATCH", "http://mock.test/admin/config", config)]
    assert [(e.name, e.detail, e.t) for e in log.events] == [
        ("mock_config", "error_rate=0.3, latency_ms=800", NOW)
    ]


def test_a_failing_action_is_recorded_and_the_next_one_still_runs() -> None:
    """The mock answering 500 is a `mock_config failed` event; Redis is stopped after it."""
    clock = ManualClock()
    redis = FakeContainer(clock)
    failing = httpx.MockTransport(lambda request: httpx.Response(500))
    handles = StackHandles(redis=container(redis), mock_url="http://mock.test")
    actions = [Action(1, "mock_config", {"error_rate": 1.0}), Action(2, "redis_stop")]
    log = run(actions, handles, clock, failing, events=2)
    assert [e.name for e in log.events] == ["mock_config failed", "redis_stop"]
    assert "500 Internal Server Error" in log.events[0].detail
    assert [c[0] for c in redis.calls] == ["stop"]


@pytest.mark.parametrize(
    ("kind", "event", "detail"),
    [
        pytest.param("mock_config", "mock_config skipped", "no mock provider", id="no-mock"),
        pytest.param("redis_stop", "redis_stop skipped", "Redis is not loadgate's", id="no-redis"),
        pytest.param(
            "sigterm", "sigterm skipped", "the gateway is not loadgate's", id="no-gateway"
        ),
    ],
)
def test_actions_on_what_the_run_does_not_own_are_skipped(
    kind: str, event: str, detail: str
) -> None:
    """An external target: each action says why it did nothing instead of failing."""
    log = run([Action(0, kind, {"latency_ms": 5})], StackHandles(), ManualClock(), events=1)  # type: ignore[arg-type]
    assert [e.name for e in log.events] == [event]
    assert detail in log.events[0].detail


def test_stop_before_an_action_is_due_cancels_it() -> None:
    """An action 30 s into the load is never run when the load ends first."""
    clock = ManualClock()
    redis = FakeContainer(clock)
    runner = ScenarioActions(
        [Action(30, "redis_stop")], StackHandles(redis=container(redis)), clock
    )
    runner.start(load_started_at=clock())
    began = time.monotonic()
    log = runner.stop()
    assert log.events == [] and redis.calls == []
    assert time.monotonic() - began < 5


def ready_until(answers: int, clock: ManualClock, gone: threading.Event) -> httpx.MockTransport:
    """`/ready` answers 200 `answers` times, then 503 a quarter of a second (by the clock) later."""
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) <= answers:
            return httpx.Response(200)
        clock.advance(0.25)
        gone.set()
        return httpx.Response(503)

    return httpx.MockTransport(handler)


def shutdown_of(
    gateway: FakeContainer, clock: ManualClock, gone: threading.Event, grace: float
) -> ActionLog:
    """A `sigterm` action against `gateway`, its `/healthz` ready for three probes."""
    handles = StackHandles(
        gateway=container(gateway),
        gateway_url="http://gateway.test",
        ready_path="/healthz",
        stop_grace_s=grace,
    )
    return run([Action(5, "sigterm")], handles, clock, ready_until(3, clock, gone), events=2)


@pytest.mark.parametrize(
    ("exit_code", "oom", "takes_s", "killed"),
    [
        pytest.param(0, False, 1.75, False, id="clean-exit"),
        pytest.param(137, False, 1.75, True, id="sigkilled"),
        pytest.param(137, True, 1.75, False, id="oom-killed-is-not-a-sigkill"),
        pytest.param(0, False, 9.75, True, id="outlived-the-grace"),
    ],
)
def test_sigterm_times_readiness_and_exit_against_the_grace_period(
    exit_code: int, oom: bool, takes_s: float, killed: bool
) -> None:
    """Unready 0.25 s after SIGTERM, exited `takes_s` later; SIGKILL inferred from both."""
    clock, gone = ManualClock(), threading.Event()
    gateway = FakeContainer(clock, exit_code, oom, takes_s, gone)
    log = shutdown_of(gateway, clock, gone, grace=10)
    assert gateway.calls == [("stop", NOW, 10)]
    record = log.shutdown
    assert record is not None
    assert record.sigterm_at == NOW and record.not_ready_answer == "503"
    assert record.not_ready_after_s == pytest.approx(0.25)
    assert record.exited_after_s == pytest.approx(0.25 + takes_s)
    assert (record.exit_code, record.killed) == (exit_code, killed)
    assert [(e.name, e.detail) for e in log.events] == [
        ("sigterm", "stop grace period 10 s"),
        ("gateway exited", f"exit code {exit_code}"),
    ]


def test_a_gateway_that_never_answers_names_the_connection_error() -> None:
    """No answer at all is not-ready too, named by the error; the grace is rounded up for Docker."""
    clock, gone = ManualClock(), threading.Event()

    def refused(request: httpx.Request) -> httpx.Response:
        gone.set()
        raise httpx.ConnectError("refused", request=request)

    gateway = FakeContainer(clock, stop_takes_s=1.0, gone=gone)
    handles = StackHandles(
        gateway=container(gateway), gateway_url="http://g.test", stop_grace_s=2.5
    )
    log = run([Action(0, "sigterm")], handles, clock, httpx.MockTransport(refused), events=2)
    assert log.shutdown is not None
    assert (log.shutdown.not_ready_answer, log.shutdown.not_ready_after_s) == ("ConnectError", 0.0)
    assert gateway.calls == [("stop", NOW, 3)]
