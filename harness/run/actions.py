"""Carries out a scenario's actions at their times into the load, and records what happened.

`mock_config` patches the mock provider's faults or latency, `redis_stop` / `redis_start` stop
and restart the Redis container, `sigterm` stops the gateway the way an orchestrator does
(SIGTERM, then SIGKILL after the stop grace period) while a probe watches `/ready` every few
milliseconds. Each action is recorded as an event with its Unix time, so findings can split the
run into before / during / after.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from harness.stack.docker import RunningContainer
from reports.result import RunEvent, ShutdownRecord
from scenarios.catalog import Action

log = logging.getLogger("loadgate.actions")

PROBE_INTERVAL_S = 0.005


@dataclass
class StackHandles:
    """What the actions act on; any of them may be missing (an external target has none)."""

    gateway: RunningContainer | None = None
    redis: RunningContainer | None = None
    gateway_url: str = ""
    mock_url: str = ""
    ready_path: str = "/ready"
    stop_grace_s: float = 10.0


@dataclass
class ActionLog:
    events: list[RunEvent] = field(default_factory=list)
    shutdown: ShutdownRecord | None = None


class ScenarioActions:
    """Runs in a thread from `start(load_started_at)` until the actions are done or `stop()`.

    `clock` (Unix seconds) times the actions and their events; `transport` carries the HTTP
    calls (the mock's `/admin/config`, the readiness probe): both are injected by tests.
    """

    def __init__(
        self,
        actions: Sequence[Action],
        handles: StackHandles,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._actions = sorted(actions, key=lambda a: a.at_s)
        self._handles = handles
        self._clock = clock
        self._transport = transport
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.log = ActionLog()

    def start(self, load_started_at: float) -> None:
        if not self._actions:
            return
        self._thread = threading.Thread(
            target=self._run, args=(load_started_at,), name="scenario-actions", daemon=True
        )
        self._thread.start()

    def stop(self) -> ActionLog:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._handles.stop_grace_s + 15)
        return self.log

    def _run(self, load_started_at: float) -> None:
        for action in self._actions:
            if self._stop.wait(max(0.0, load_started_at + action.at_s - self._clock())):
                return
            try:
                self._do(action)
            except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
                log.warning("action %s failed: %s", action.kind, exc)
                self._event(f"{action.kind} failed", str(exc))

    def _event(self, name: str, detail: str = "") -> None:
        self.log.events.append(RunEvent(t=self._clock(), name=name, detail=detail))

    def _do(self, action: Action) -> None:
        h = self._handles
        if action.kind == "mock_config":
            if not h.mock_url:
                self._event("mock_config skipped", "no mock provider in this run")
                return
            with httpx.Client(transport=self._transport, timeout=5) as client:
                response = client.patch(f"{h.mock_url}/admin/config", json=action.config)
            response.raise_for_status()
            self._event("mock_config", _describe(action.config))
        elif action.kind in ("redis_stop", "redis_start"):
            if h.redis is None:
                self._event(f"{action.kind} skipped", "Redis is not loadgate's in this run")
                return
            if action.kind == "redis_stop":
                h.redis.stop(timeout_s=1)
            else:
                h.redis.start()
            self._event(action.kind)
        elif action.kind == "sigterm":
            if h.gateway is None:
                self._event("sigterm skipped", "the gateway is not loadgate's in this run")
                return
            self.log.shutdown = self._shutdown(h.gateway)

    def _shutdown(self, gateway: RunningContainer) -> ShutdownRecord:
        """Stop the gateway as an orchestrator would, timing /ready and the exit."""
        url = f"{self._handles.gateway_url}{self._handles.ready_path}"
        probe = _ReadyProbe(url, self._clock, self._transport)
        grace = self._handles.stop_grace_s
        sent_at = self._clock()
        self._event("sigterm", f"stop grace period {grace:g} s")
        probe.start()
        gateway.stop(timeout_s=math.ceil(grace))
        exited_at = self._clock()
        probe.stop()
        state = gateway.state()
        exit_code = int(state.get("ExitCode", -1))
        oom = bool(state.get("OOMKilled", False))
        self._event("gateway exited", f"exit code {exit_code}")
        return ShutdownRecord(
            sigterm_at=sent_at,
            not_ready_after_s=None if probe.not_ready_at is None else probe.not_ready_at - sent_at,
            not_ready_answer=probe.answer,
            exited_after_s=exited_at - sent_at,
            exit_code=exit_code,
            killed=(exit_code == 137 and not oom) or exited_at - sent_at >= grace,
        )


def _describe(config: dict[str, object]) -> str:
    return ", ".join(f"{key}={value}" for key, value in config.items())


class _ReadyProbe:
    """Polls the readiness path until it stops answering 200."""

    def __init__(
        self, url: str, clock: Callable[[], float], transport: httpx.BaseTransport | None
    ) -> None:
        self._url = url
        self._clock = clock
        self._transport = transport
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ready-probe", daemon=True)
        self.not_ready_at: float | None = None
        self.answer = ""

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        with httpx.Client(transport=self._transport, timeout=1.0) as client:
            while not self._stop.is_set():
                try:
                    status = client.get(self._url).status_code
                    answer = str(status)
                except httpx.HTTPError as exc:
                    status, answer = 0, type(exc).__name__
                if status != 200:
                    self.not_ready_at, self.answer = self._clock(), answer
                    return
                self._stop.wait(PROBE_INTERVAL_S)
