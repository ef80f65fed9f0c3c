"""Load from several machines, as if on machines: `loadgate run --expect-workers N` on this
host, and `loadgate worker` in containers of the worker image on the run's own Docker network
(the target by its name there, the master at the network's gateway address), each holding the
stack's secrets in its own environment. The run merges every worker's requests and judges each
worker; a worker killed mid-run fails the run, which ends by itself."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest
from docker.models.containers import Container

from harness.stack.docker import LABEL_RUN, DockerEngine, ImageInfo, owner_labels
from tests.integration.conftest import ROOT, leftovers, only_run_dir

SECRETS = {
    "LOADGATE_TARGET_TOKEN": "lg-client-distributed-4b8e1f7a",
    "LOADGATE_SCAN_SECRET": "lg-test-distributed-90c2d35e",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        return int(sock.getsockname()[1])


class DistributedRun:
    """A `loadgate run --expect-workers` in the background, and its workers in containers."""

    def __init__(self, engine: DockerEngine, worker: ImageInfo, output: Path) -> None:
        self.engine, self.worker, self.output = engine, worker, output
        self.port = _free_port()
        self.containers: list[Container] = []
        self.networks_before = {
            n.id for n in engine.client.networks.list(filters={"label": LABEL_RUN})
        }
        self.process: subprocess.Popen[str] | None = None

    def start(self, *arguments: str, workers: int) -> None:
        command = [
            sys.executable, "-m", "harness", "run", *arguments,
            "--expect-workers", str(workers),
            "--master-bind", f"0.0.0.0:{self.port}",
            "--workers-timeout", "90s",
            "--output-dir", str(self.output), "-q",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **SECRETS},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def network(self, timeout_s: float = 240) -> Any:
        """The run's network, once its stack has made it."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for network in self.engine.client.networks.list(filters={"label": LABEL_RUN}):
                if network.id not in self.networks_before:
                    network.reload()
                    return network
            assert self.process is not None and self.process.poll() is None, self.finish()
            time.sleep(0.5)
        raise AssertionError("the run's network never appeared")

    def add_workers(self, count: int) -> None:
        """Worker containers on the run's network: the master at the network's gateway."""
        network = self.network()
        master = network.attrs["IPAM"]["Config"][0]["Gateway"]
        for _ in range(count):
            self.containers.append(
                self.engine.client.containers.run(
                    self.worker.id,
                    ["--master", f"{master}:{self.port}", "--target", "http://gateway:8000"],
                    detach=True,
                    auto_remove=True,
                    network=network.name,
                    environment=SECRETS,
                    labels=owner_labels(),
                )
            )

    def wait_for_plans(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            logs = [c.logs().decode(errors="replace") for c in self.containers]
            if all("plan received" in text for text in logs):
                return
            time.sleep(0.5)
        raise AssertionError("the workers never got their plan")

    def finish(self, timeout_s: float = 300) -> tuple[int, str]:
        assert self.process is not None
        output, _ = self.process.communicate(timeout=timeout_s)
        return self.process.returncode, output

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)
        for container in self.containers:
            with contextlib.suppress(docker.errors.NotFound):  # auto-removed already
                container.remove(force=True)


@pytest.fixture
def distributed(
    engine: DockerEngine, worker: ImageInfo, tmp_path: Path
) -> Iterator[DistributedRun]:
    run = DistributedRun(engine, worker, tmp_path)
    yield run
    run.close()


def _result(output: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((only_run_dir(output) / "result.json").read_text())
    return result


def test_two_worker_containers_carry_an_open_run_and_it_passes(
    distributed: DistributedRun, tmp_path: Path
) -> None:
    """The soak schedule split over two containers: every request merged, each worker judged,
    the reference gateway passes, and nothing secret is in the run's files."""
    # budgets/default.yml: soak's own memory slope is not meant for a 15 s run
    distributed.start(
        "--scenario", "soak", "--duration", "15s", "--budgets", "budgets/default.yml", workers=2
    )  # fmt: skip
    distributed.add_workers(2)
    code, output = distributed.finish()
    assert code == 0, output
    result = _result(tmp_path)
    workers = result["generator"]["workers"]
    hosts = {str(c.id)[:12] for c in distributed.containers}
    assert {w["host"] for w in workers} == hosts
    assert sum(w["requests"] for w in workers) == result["latency"]["count"] == 3000
    assert all(w["lost_after_s"] is None and w["missed"] == 0 for w in workers)
    assert {b["name"]: b["passed"] for b in result["budgets"]}["generator_workers_lost"] is True
    assert "load from 2 workers" in output
    for path in only_run_dir(tmp_path).iterdir():
        text = path.read_text(errors="replace") if path.is_file() else ""
        assert not any(secret in text for secret in SECRETS.values()), path.name


def test_closed_users_on_worker_containers(distributed: DistributedRun, tmp_path: Path) -> None:
    """The steady scenario's users spread over two containers by Locust; the run passes."""
    distributed.start("--scenario", "steady", "--duration", "10s", workers=2)
    distributed.add_workers(2)
    code, output = distributed.finish()
    assert code == 0, output
    workers = _result(tmp_path)["generator"]["workers"]
    assert [w["share"] for w in workers] == ["6 users", "6 users"]
    assert leftovers(distributed.engine) == []  # the workers did not keep the network alive


def test_a_worker_container_killed_mid_run_fails_the_run(
    distributed: DistributedRun, tmp_path: Path
) -> None:
    """A machine gone mid-run: the master notices the missing heartbeats, ends the load, and
    the run fails naming the worker instead of hanging or passing on half the load."""
    distributed.start("--scenario", "soak", "--duration", "60s", workers=2)
    distributed.add_workers(2)
    distributed.wait_for_plans()
    time.sleep(3)
    killed = distributed.containers[1]
    killed.kill()
    started = time.monotonic()
    code, output = distributed.finish()
    assert code == 1, output
    assert time.monotonic() - started < 45  # not the rest of the 60 s schedule
    assert f"({str(killed.id)[:12]}) lost" in output, output
    workers = _result(tmp_path)["generator"]["workers"]
    assert [w["lost_after_s"] is not None for w in workers].count(True) == 1
    assert leftovers(distributed.engine) == []
