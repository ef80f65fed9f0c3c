"""`loadgate clean` removes what crashed runs left, never the stack of a run still going."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from harness.stack.docker import LABEL_HOST, LABEL_PID, LABEL_RUN, DockerEngine
from harness.stack.images import StackImages
from harness.stack.launch import GatewayStack
from tests.integration.conftest import ROOT, leftovers


def clean(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", "clean", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


def dead_pid() -> int:
    """The pid of a process of this host that has exited."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture
def runs(engine: DockerEngine, images: StackImages) -> Iterator[dict[str, str]]:
    """Three labelled runs (a container each, a network for the dead one): owner alive here,
    owner gone, owner on another host."""
    suffix = uuid.uuid4().hex[:8]
    host = socket.gethostname()
    owners = {
        "live": {LABEL_HOST: host, LABEL_PID: str(os.getpid())},
        "dead": {LABEL_HOST: host, LABEL_PID: str(dead_pid())},
        "remote": {LABEL_HOST: f"elsewhere-{suffix}", LABEL_PID: "1"},
    }
    run_ids = {kind: f"clean-{kind}-{suffix}" for kind in owners}
    for kind, owner in owners.items():
        labels = {LABEL_RUN: run_ids[kind], **owner}
        engine.client.containers.create(
            images.mock.name, labels=labels, name=f"loadgate-{run_ids[kind]}"
        )
    engine.client.networks.create(
        f"loadgate-{run_ids['dead']}", labels={LABEL_RUN: run_ids["dead"], **owners["dead"]}
    )
    yield run_ids
    for run_id in run_ids.values():
        engine.remove_leftovers(run_id)


def test_clean_spares_live_and_remote_runs_and_all_removes_them(
    engine: DockerEngine, runs: dict[str, str]
) -> None:
    """A run whose owner pid is gone is removed; one whose owner (this test) runs, or that
    belongs to another host, is kept and said so; `--all` removes them too."""
    done = clean()
    assert done.returncode == 0, done.stderr
    assert leftovers(engine, runs["dead"]) == []
    assert leftovers(engine, runs["live"]) == [f"loadgate-{runs['live']}"]
    assert leftovers(engine, runs["remote"]) == [f"loadgate-{runs['remote']}"]
    assert f"its run is still going (pid {os.getpid()})" in done.stdout
    assert f"owned by a process on host elsewhere-{runs['live'][-8:]}" in done.stdout
    assert "clean --all" in done.stdout

    done = clean("--all")
    assert done.returncode == 0, done.stderr
    assert leftovers(engine, runs["live"]) == leftovers(engine, runs["remote"]) == []


def test_clean_leaves_a_live_stack_running(engine: DockerEngine, stack: GatewayStack) -> None:
    """Every container of a running stack names this process as its owner, so `loadgate clean`
    from another terminal leaves the run alone."""
    names = sorted(container.name for container in stack.containers.values())
    for container in stack.containers.values():
        labels = engine.client.containers.get(container.id).labels
        assert labels[LABEL_PID] == str(os.getpid()), container.name
        assert labels[LABEL_HOST] == socket.gethostname(), container.name
    done = clean()
    assert done.returncode == 0, done.stderr
    assert f"its run is still going (pid {os.getpid()})" in done.stdout
    running = leftovers(engine, stack.config.run_id)
    assert sorted(set(running) & set(names)) == names
    assert all(c.state()["Running"] for c in stack.containers.values())
