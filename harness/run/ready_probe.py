"""The gateway's readiness path, probed once a second through the whole run, as a kubelet would.

Kubernetes' default readiness probe waits 1 s for an answer, on a new connection each time, and
takes the pod out of its Service after three failures in a row. A gateway whose `/ready` waits
on the provider, on Redis or on a busy event loop fails that probe under load and is pulled out
of rotation exactly when it is needed: loadgate probes the same way while the load runs and
judges the failures (`ready_probe_failures_max`, 0 by default). Probes sent during a deliberate
drain (after the SIGTERM of the `shutdown` scenario) are recorded but not judged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import numpy as np

from reports.aggregate import percentile
from reports.result import ReadinessRecord

INTERVAL_S = 1.0
TIMEOUT_S = 1.0
KEPT_FAILURES = 100


@dataclass(frozen=True)
class Probe:
    t: float
    """Unix time the probe was sent."""
    latency_ms: float
    outcome: str
    """The status code ("200", "503"), "timeout", or the connection error's name."""

    @property
    def ok(self) -> bool:
        """A kubelet's success: a status from 200 to 399."""
        return self.outcome.isdecimal() and 200 <= int(self.outcome) < 400


class ReadinessProbe:
    """`start()`, then `stop()` returns every probe sent in between."""

    def __init__(
        self,
        url: str,
        interval_s: float = INTERVAL_S,
        timeout_s: float = TIMEOUT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self._interval_s = interval_s
        self._clock = clock
        self._probes: list[Probe] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="readiness-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def count(self) -> int:
        """Probes made so far."""
        return len(self._probes)

    def stop(self) -> list[Probe]:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout_s + 2)
        return list(self._probes)

    def _loop(self) -> None:
        # A new connection each time, like the kubelet: a kept-alive one would hide a gateway
        # that no longer accepts connections.
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(timeout=self.timeout_s, limits=limits) as client:
            next_at = time.monotonic()
            while not self._stopped.is_set():
                self._probes.append(self._probe(client))
                next_at += self._interval_s
                self._stopped.wait(max(0.0, next_at - time.monotonic()))

    def _probe(self, client: httpx.Client) -> Probe:
        sent, started = self._clock(), time.perf_counter()
        try:
            outcome = str(client.get(self.url).status_code)
        except httpx.TimeoutException:
            outcome = "timeout"
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        elapsed_s = time.perf_counter() - started
        if elapsed_s > self.timeout_s:
            outcome = "timeout"  # httpx times each read; the kubelet times the whole probe
        return Probe(sent, elapsed_s * 1000, outcome)


def path_missing(probes: list[Probe]) -> bool:
    """Whether every probe that got an answer got 404: the target has no such path (a slow or
    refused first probe of a cold target does not hide that)."""
    answered = [p for p in probes if p.outcome.isdecimal()]
    return bool(answered) and all(p.outcome == "404" for p in answered)


def readiness_record(
    path: str,
    probes: list[Probe],
    load_started_at: float,
    drain_from: float | None = None,
    timeout_s: float = TIMEOUT_S,
) -> ReadinessRecord:
    """The probes as the result records them; those sent from `drain_from` on are excluded."""
    judged = [p for p in probes if drain_from is None or p.t < drain_from]
    failed = [p for p in judged if not p.ok]
    latencies = [p.latency_ms for p in judged]
    first = None
    if failed:
        probe = failed[0]
        how = f"timeout after {timeout_s:g} s" if probe.outcome == "timeout" else probe.outcome
        first = f"{how} at {probe.t - load_started_at:.1f} s into the load"
    return ReadinessRecord(
        path=path,
        timeout_s=timeout_s,
        probes=len(judged),
        failures=len(failed),
        excluded=len(probes) - len(judged),
        latency_p50_ms=percentile(np.asarray(latencies), 50) if latencies else None,
        latency_max_ms=max(latencies) if latencies else None,
        first_failure=first,
        failed_at_s=[round(p.t - load_started_at, 3) for p in failed[:KEPT_FAILURES]],
    )
