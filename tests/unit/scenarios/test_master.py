"""The master of a distributed run against hostile peers on its unauthenticated port: a real
`python -m scenarios.master` process on loopback, and raw ZeroMQ peers speaking Locust's wire
format (msgpack of type, data, node id) that lie, flood and impersonate."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq

from scenarios.catalog import SCENARIOS, adjusted
from scenarios.plan import DONE, PLAN, ROWS, WORKERS_FILE, Plan, plan_for
from scenarios.samples import HEADER, row

pytestmark = pytest.mark.slow

LOCUST_VERSION = "2.47.0"
SUMMARY = {"host": "peer", "cpu_s": 0.1, "wall_s": 2.0}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Peer:
    """A worker as a hostile program would write it: Locust's messages, by hand."""

    def __init__(self, port: int, node_id: str) -> None:
        self.node_id = node_id
        self.socket: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
        self.socket.setsockopt(zmq.IDENTITY, node_id.encode())
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(f"tcp://127.0.0.1:{port}")
        self.received: list[tuple[str, Any]] = []

    def send(self, kind: str, data: Any, node_id: str | None = None) -> None:
        self.socket.send(msgpack.dumps((kind, data, node_id or self.node_id)))

    def pump(self, seconds: float, until: str | None = None) -> Any:
        """Heartbeats for `seconds` (or until a message of kind `until`), keeping what came."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.send("heartbeat", {"state": "ready", "current_cpu_usage": 1.0})
            if self.socket.poll(200):
                kind, data, _ = msgpack.loads(self.socket.recv(), raw=False)
                self.received.append((kind, data))
                if kind == until:
                    return data
        return None

    def join(self) -> None:
        self.send("client_ready", LOCUST_VERSION)
        assert self.pump(10, until="ack") is not None, "the master did not answer"

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def peer() -> Iterator[Callable[[int, str], Peer]]:
    """Peers made in a test, closed after it whatever happened."""
    made: list[Peer] = []

    def connect(port: int, node_id: str) -> Peer:
        made.append(Peer(port, node_id))
        return made[-1]

    yield connect
    for each in made:
        each.close()


@pytest.fixture
def master(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """A master expecting one worker for a 2 s open schedule of 5 requests a second."""
    chosen = adjusted(SCENARIOS["spike"], duration_s=2, rate_rps=5)
    plan = plan_for(chosen, "http://127.0.0.1:9", 1, None, 1.0)
    (tmp_path / "plan.json").write_text(plan.model_dump_json())
    port = _free_port()
    command = [sys.executable, "-m", "scenarios.master", "--plan", str(tmp_path / "plan.json")]
    command += ["--bind", f"127.0.0.1:{port}", "--expect-workers", "1"]
    command += ["--workers-timeout", "20", "--parts", str(tmp_path)]
    with (tmp_path / "master.log").open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process, port, tmp_path
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def _rows(start_at: float, count: int) -> list[list[Any]]:
    return [
        list(row(start_at + 0.01 * i, 5.0, "/v1/infer", 200, "", 10, 0.1)) for i in range(count)
    ]


def _written(parts: Path) -> list[str]:
    lines = (parts / "samples-w0.csv").read_text().splitlines()
    assert lines[0] == ",".join(HEADER)
    return lines[1:]


def _record(process: subprocess.Popen[bytes], parts: Path) -> dict[str, Any]:
    assert process.wait(timeout=30) == 0, (parts / "master.log").read_text()
    outcome: dict[str, Any] = json.loads((parts / WORKERS_FILE).read_text())
    return outcome


def test_rows_out_of_the_run_after_the_summary_or_from_an_impostor_are_refused(
    master: tuple[subprocess.Popen[bytes], int, Path], peer: Callable[[int, str], Peer]
) -> None:
    """Starts at 0 or 1e15, rows after the worker's own summary, rows another peer sends in the
    worker's name, and a peer joining after enrolment: none reaches the run; the late peer is
    told to quit."""
    process, port, parts = master
    worker, intruder = peer(port, "w1_aaaa"), peer(port, "intruder_bbbb")
    worker.join()
    plan = worker.pump(10, until=PLAN)
    start_at = plan["share"]["start_at"]
    good = _rows(start_at, 3)
    odd = [["0", *good[0][1:]], ["1e15", *good[0][1:]]]
    worker.send(ROWS, {"rows": [*good, *odd]})
    intruder.send(ROWS, {"rows": _rows(start_at, 5)}, node_id=worker.node_id)
    intruder.send("client_ready", LOCUST_VERSION)
    assert intruder.pump(5, until="quit") is None or ("quit", None) in intruder.received
    worker.send(DONE, SUMMARY)
    worker.send(ROWS, {"rows": _rows(start_at, 4)})
    worker.pump(2)
    outcome = _record(process, parts)
    assert ("quit", None) in intruder.received, intruder.received
    (entry,) = outcome["workers"]
    assert (entry["rows"], entry["rejected_rows"]) == (3, 2)
    assert len(_written(parts)) == 3


def test_a_flood_is_capped_at_the_share_and_a_giant_message_is_dropped(
    master: tuple[subprocess.Popen[bytes], int, Path], peer: Callable[[int, str], Peer]
) -> None:
    """A worker of a 10-request schedule sending thousands of rows gets its share (with room)
    counted, the rest refused; a message of 40 MiB never reaches the master's handlers."""
    process, port, parts = master
    worker = peer(port, "w1_cccc")
    worker.join()
    start_at = worker.pump(10, until=PLAN)["share"]["start_at"]
    worker.send(ROWS, {"rows": _rows(start_at, 7), "padding": "x" * (40 << 20)})
    worker.pump(1)
    for _ in range(3):
        worker.send(ROWS, {"rows": _rows(start_at, 500)})
    worker.send(DONE, SUMMARY)
    worker.pump(2)
    (entry,) = _record(process, parts)["workers"]
    allowed = Plan.model_validate_json((parts / "plan.json").read_text()).max_rows()
    assert (entry["rows"], entry["rejected_rows"]) == (allowed, 1500 - allowed)
    assert len(_written(parts)) == allowed


def test_a_worker_that_never_reports_fails_its_share(
    master: tuple[subprocess.Popen[bytes], int, Path], peer: Callable[[int, str], Peer]
) -> None:
    """Heartbeats but no summary to the end: the record says so (it would pass as healthy)."""
    process, port, parts = master
    worker = peer(port, "w1_dddd")
    worker.join()
    worker.pump(10, until=PLAN)
    while process.poll() is None:
        worker.pump(1)
    (entry,) = _record(process, parts)["workers"]
    assert entry["summary"]["error"] == "it sent no summary by the end of the run"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_a_master_signalled_while_waiting_ends_at_once_with_its_record(
    stop: signal.Signals,
    master: tuple[subprocess.Popen[bytes], int, Path],
    peer: Callable[[int, str], Peer],
) -> None:
    """The harness stopping a run (SIGTERM on every exit path) ends the master in seconds, and
    its record says why, instead of a master killed without one."""
    process, port, parts = master
    peer(port, "w1_eeee").pump(2)  # the master is up and listening by now
    started = time.monotonic()
    os.kill(process.pid, stop)
    outcome = _record(process, parts)
    assert time.monotonic() - started < 10
    assert outcome["failure"] == "interrupted while waiting for workers (0 of 1)"
