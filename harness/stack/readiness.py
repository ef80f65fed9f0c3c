"""Readiness: the probes that say a service answers, and the one loop that waits for them.

A probe returns None when its service is ready, else what it answered in a few words (kept for
the error if the wait times out). The loop gives up at once when `check` raises (a container
that exited, a gateway listening on another port) instead of waiting out the timeout: a dead
service never becomes ready. The launched stack, the hot-path benchmark and the generator
benchmark all wait through `wait_ready`.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx

from harness.errors import StackNotReadyError
from harness.stack.docker import RunningContainer

ReadyProbe = Callable[[], str | None]
"""One readiness probe: None when the service is ready, else what it answered, in a few words."""

POLL_S = 0.2


def http_ok(url: str) -> ReadyProbe:
    """Ready when GET `url` answers 200."""

    def probe() -> str | None:
        try:
            status = httpx.get(url, timeout=2.0).status_code
        except httpx.HTTPError as exc:
            return f"{url}: {type(exc).__name__}"
        return None if status == 200 else f"{url} answered {status}"

    return probe


def redis_ping(port: int) -> ReadyProbe:
    """Ready when Redis on 127.0.0.1:`port` answers PING with +PONG (RESP, no client needed)."""

    def probe() -> str | None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2.0) as connection:
                connection.sendall(b"PING\r\n")
                answer = connection.recv(64)
        except OSError as exc:
            return f"PING: {type(exc).__name__}"
        return None if answer.startswith(b"+PONG") else f"PING answered {answer[:20]!r}"

    return probe


def _no_check() -> None:
    """Nothing to check besides the probe."""


def wait_ready(
    service: str,
    probe: ReadyProbe,
    timeout_s: float,
    check: Callable[[], None] = _no_check,
    logs: Callable[[], str] = str,
) -> None:
    """Probe until `probe` says ready; `check` raises to give up at once. A StackNotReadyError
    with the last answer and `logs()` when `timeout_s` passes first."""
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        check()
        problem = probe()
        if problem is None:
            return
        last = problem
        time.sleep(POLL_S)
    raise StackNotReadyError(service, f"not ready after {timeout_s:.0f} s ({last})", logs())


def check_running(container: RunningContainer) -> None:
    """Raise StackNotReadyError (with its logs, and whether it was OOM-killed) when `container`
    exited, died or is restarting."""
    state = container.state()
    if state.get("Status") in ("exited", "dead") or state.get("Restarting"):
        oom_killed = bool(state.get("OOMKilled"))
        reason = f"container exited with code {state.get('ExitCode')}"
        if oom_killed:
            reason += " (OOM-killed)"
        raise StackNotReadyError(container.service, reason, container.logs(), oom_killed=oom_killed)
