"""A distributed run on this machine: the harness's master and real `scenarios.worker` processes
(Locust master/worker over loopback) driving the real mock provider. Both load models, a worker
killed mid-run, and workers that never all join."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import LoadGeneratorError
from harness.run.runner import LoadRun, run_load
from harness.settings import Distributed
from harness.stack.readiness import http_ok, wait_ready
from reports import aggregate
from scenarios.catalog import SCENARIOS, adjusted

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    """The mock provider as a process of its own, answering in 5 ms."""
    port = _free_port()
    environment = {**os.environ, "MOCK_PORT": str(port), "MOCK_LATENCY_MS": "5"}
    mock = subprocess.Popen(
        [sys.executable, "-m", "harness.mock_upstream"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready("mock", http_ok(f"{url}/health"), 20, lambda: None)
        yield url
    finally:
        mock.terminate()
        mock.wait(timeout=10)


class Workers:
    """`loadgate worker`s started once the master listens (as on other machines)."""

    def __init__(self, port: int, count: int, directory: Path) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []
        for index in range(count):
            with (directory / f"worker-{index}.log").open("w") as log:
                self.processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "scenarios.worker", "--master", f"127.0.0.1:{port}"],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )

    def kill(self, index: int) -> None:
        """As a machine that vanishes: no goodbye, its generator gone with it."""
        os.killpg(self.processes[index].pid, signal.SIGKILL)

    def wait(self) -> list[int | None]:
        codes: list[int | None] = []
        for process in self.processes:
            try:
                codes.append(process.wait(timeout=30))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(None)
        return codes


def _run(
    name: str, url: str, tmp_path: Path, workers: int, joining: int, on_started: object = None
) -> tuple[LoadRun, Workers]:
    chosen = adjusted(SCENARIOS[name], duration_s=4, protocol="openai")
    port = _free_port()
    distributed = Distributed(workers, ("127.0.0.1", port), join_timeout_s=20)
    group = Workers(port, joining, tmp_path)
    hook = on_started if callable(on_started) else None
    load = run_load(chosen, url, tmp_path, lambda _: None, distributed=distributed, on_started=hook)
    return load, group


def test_an_open_schedule_is_split_over_workers_and_merged_exactly(
    mock_url: str, tmp_path: Path
) -> None:
    """Two workers take alternate sends of the spike's schedule; the run has every request."""
    load, workers = _run("spike", mock_url, tmp_path, 2, 2)
    assert workers.wait() == [0, 0]
    requests = aggregate.load_requests(load.samples)
    first, second = load.generator.workers
    assert first.requests + second.requests == len(requests) == load.generator.scheduled
    assert abs(first.requests - second.requests) <= 1
    assert (requests["error"] == "").all()
    assert load.generator.missed == 0 and first.lost_after_s is None
    assert first.share.startswith("send 1 of every 2") and first.lag_p99_ms is not None
    assert (tmp_path / "master.log").is_file()


def test_closed_users_are_spread_by_locust_and_every_row_comes_back(
    mock_url: str, tmp_path: Path
) -> None:
    """The smoke scenario's users run on the workers; each worker's rows reach the master."""
    load, workers = _run("smoke", mock_url, tmp_path, 2, 2)
    assert workers.wait() == [0, 0]
    requests = aggregate.load_requests(load.samples)
    assert sum(w.requests for w in load.generator.workers) == len(requests) > 20
    assert all(w.requests > 0 and w.share.endswith("users") for w in load.generator.workers)
    assert load.generator.model == "closed"


def test_a_worker_killed_mid_run_is_reported_lost_and_the_run_ends(
    mock_url: str, tmp_path: Path
) -> None:
    """No heartbeat from a worker: the master ends the load at once (it does not hang) and the
    record names the lost worker, with the rows it had sent."""
    started = time.monotonic()
    holder: list[Workers] = []

    def kill_one(_: float) -> None:
        time.sleep(1.0)
        holder[0].kill(1)

    chosen = adjusted(SCENARIOS["soak"], duration_s=30, protocol="openai")
    port = _free_port()
    holder.append(Workers(port, 2, tmp_path))
    distributed = Distributed(2, ("127.0.0.1", port), join_timeout_s=20)
    load = run_load(
        chosen, mock_url, tmp_path, lambda _: None, distributed=distributed, on_started=kill_one
    )
    elapsed = time.monotonic() - started
    lost = [w for w in load.generator.workers if w.lost_after_s is not None]
    assert len(lost) == 1 and lost[0].lost_after_s is not None and lost[0].lost_after_s < 15
    assert elapsed < 30  # the 30 s schedule was ended when the worker was lost
    holder[0].wait()


def test_workers_that_never_all_join_fail_the_run_in_bounded_time(
    mock_url: str, tmp_path: Path
) -> None:
    """One worker of two: after --workers-timeout, one line says how many joined."""
    chosen = adjusted(SCENARIOS["spike"], duration_s=4)
    port = _free_port()
    workers = Workers(port, 1, tmp_path)
    distributed = Distributed(2, ("127.0.0.1", port), join_timeout_s=3)
    with pytest.raises(LoadGeneratorError, match="only 1 of 2 workers joined within 3 s"):
        run_load(chosen, mock_url, tmp_path, lambda _: None, distributed=distributed)
    assert workers.wait() == [0]
