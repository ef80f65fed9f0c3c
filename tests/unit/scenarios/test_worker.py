"""A worker of a distributed run against a confused or hostile master: a real
`python -m scenarios.worker` process, and a master written by hand in Locust's wire format
(msgpack of type, data, node id over a ZeroMQ ROUTER) that sends plans twice, stops before any
plan, sends what is not a plan, and leaves mid-run. The worker's open share targets a closed
port, so its requests fail fast and no server is needed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq

from scenarios.catalog import SCENARIOS, adjusted
from scenarios.credentials import TOKEN_ENV
from scenarios.plan import DONE, PLAN, ROWS, STOP, open_shares, plan_for

pytestmark = pytest.mark.slow

TOKEN = "lg-worker-test-token-5f1e2d3c"


class FakeMaster:
    """Locust's master side, by hand: acks one worker, heartbeats, records what it sends."""

    def __init__(self) -> None:
        self.socket: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.port: int = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.worker = ""
        self.received: list[tuple[str, Any]] = []

    def send(self, kind: str, data: Any) -> None:
        payload = msgpack.dumps((kind, data, self.worker))
        self.socket.send_multipart([self.worker.encode(), payload])

    def pump(self, seconds: float) -> None:
        """Heartbeats for `seconds`, acking the worker when it says it is ready."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.worker:
                self.send("heartbeat", None)
            if self.socket.poll(200):
                identity, payload = self.socket.recv_multipart()
                kind, data, _ = msgpack.loads(payload, raw=False)
                self.received.append((kind, data))
                if kind == "client_ready":
                    self.worker = identity.decode()
                    self.send("ack", {"index": 0})

    def kinds(self, kind: str) -> list[Any]:
        return [data for k, data in self.received if k == kind]

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def master() -> Iterator[FakeMaster]:
    """A hand-written master; closed after the test."""
    fake = FakeMaster()
    yield fake
    fake.close()


@pytest.fixture
def worker(master: FakeMaster, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m scenarios.worker` joined to the fake master, the target's token in its
    environment."""
    command = [sys.executable, "-m", "scenarios.worker", "--master", f"127.0.0.1:{master.port}"]
    with (tmp_path / "worker.log").open("w") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, TOKEN_ENV: TOKEN}
        )
    try:
        deadline = time.monotonic() + 20
        while not master.worker and time.monotonic() < deadline:
            master.pump(0.5)
        assert master.worker, "the worker never joined"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def _open_plan(duration_s: float) -> dict[str, Any]:
    chosen = adjusted(SCENARIOS["spike"], duration_s=duration_s, rate_rps=20)
    plan = plan_for(chosen, "http://127.0.0.1:9", 1, None, 1.0)
    share = open_shares(1, 4, start_at=time.time() + 0.5)[0]
    return plan.model_copy(update={"share": share}).model_dump()


def _await_summary(master: FakeMaster, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not master.kinds(DONE) and worker.poll() is None and time.monotonic() < deadline:
        master.pump(0.5)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_second_plan_starts_no_second_generator_and_no_secret_travels(
    master: FakeMaster, worker: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    """The same plan twice: one share runs, one summary comes back with as many rows as its
    schedule; the token of the worker's environment is in no message and not in its log."""
    master.send(PLAN, _open_plan(2))
    master.pump(0.3)
    master.send(PLAN, _open_plan(2))
    _await_summary(master, worker)
    master.pump(5)  # a second generator's share would end 0.3 s after the first's
    (done,) = master.kinds(DONE)
    rows = [r for batch in master.kinds(ROWS) for r in batch["rows"]]
    assert done["error"] is None and len(rows) == done["scheduled"] > 0
    assert TOKEN not in repr(master.received)
    assert TOKEN not in (tmp_path / "worker.log").read_text()


def test_a_stop_before_any_plan_and_a_plan_without_a_share_are_refused(
    master: FakeMaster, worker: subprocess.Popen[bytes]
) -> None:
    """lg_stop with nothing running is harmless; an open plan with no share for this worker is
    reported as a bad plan instead of hanging the worker."""
    master.send(STOP, None)
    master.pump(0.5)
    plan = _open_plan(2)
    plan["share"] = None
    master.send(PLAN, plan)
    _await_summary(master, worker)
    assert master.kinds(DONE)[0]["error"] == "bad plan"
    assert worker.poll() is None


def test_a_worker_told_to_quit_mid_run_leaves_no_generator_behind(
    master: FakeMaster, worker: subprocess.Popen[bytes]
) -> None:
    """The master ends the worker while its 60 s share runs: the generator stops with it,
    instead of loading the target for the rest of its schedule."""
    master.send(PLAN, _open_plan(60))
    master.pump(2)
    generators = _children(worker.pid)
    assert generators, "the worker started no generator"
    master.send("quit", None)
    assert worker.wait(timeout=20) == 0
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in generators) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in generators)
