"""`loadgate run` end to end, as a user runs it: real stack, real Locust, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from harness.stack.docker import LABEL_RUN, DockerEngine
from harness.stack.images import StackImages
from harness.stack.services import ServiceSpec
from tests.integration.conftest import ROOT, leftovers, loadgate, make_stack, only_run_dir

MOCK_MEDIAN_MS = 40  # the smoke scenario's lognormal median


def test_a_short_run_produces_plausible_numbers_and_a_report(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """Requests flowed, latency is at least the mock's, memory was sampled, files were written."""
    done = loadgate(
        "run",
        "--duration",
        "6",
        "--budgets",
        "budgets/default.yml",
        "--output-dir",
        str(tmp_path),
        "-q",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verdict: PASS" in done.stdout
    run_dir = only_run_dir(tmp_path)
    result = json.loads((run_dir / "result.json").read_text())
    assert result["latency"]["count"] > 50
    assert result["latency"]["p95_ms"] >= MOCK_MEDIAN_MS
    assert result["errors"]["total"] == 0
    assert result["memory"]["max_bytes"] > 10 * 1024 * 1024
    assert result["memory"]["rate_hz"] >= 4
    assert result["memory"]["limit_bytes"] == 512 * 1024 * 1024
    assert result["cpu"]["mean_cores"] > 0
    assert result["images"]["gateway"]["id"] == images.gateway.id
    assert result["container"]["token_in_logs"] is False
    assert len(result["timeline"]) >= 4
    samples = (run_dir / "samples.csv").read_text().splitlines()
    assert len(samples) == result["latency"]["count"] + 1
    report = (run_dir / "report.html").read_text()
    assert report.count("<svg") == 6  # with latency by percentile, fds and connections
    assert "<testsuite" in (run_dir / "junit.xml").read_text()
    assert (run_dir / "summary.md").read_text().startswith("### loadgate smoke: PASS")
    assert f"report: {run_dir / 'report.html'}" in done.stdout
    assert leftovers(engine) == []


def test_a_breached_budget_exits_1(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """A latency budget no real run can meet gives the breach exit code and a FAIL verdict."""
    budgets = tmp_path / "impossible.yml"
    budgets.write_text("latency_p95_ms: 1\n")
    done = loadgate(
        "run",
        "--duration",
        "3",
        "--budgets",
        str(budgets),
        "--output-dir",
        str(tmp_path / "runs"),
        "-q",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "[FAIL] latency_p95_ms" in done.stdout and "verdict: FAIL" in done.stdout
    result = json.loads((only_run_dir(tmp_path / "runs") / "result.json").read_text())
    assert result["verdict"] == "fail"
    assert leftovers(engine) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_leaves_nothing_behind(
    engine: DockerEngine, images: StackImages, tmp_path: Path, sig: signal.Signals
) -> None:
    """Interrupted while the load runs, loadgate removes every container and network, exit 130."""
    process = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", "--duration", "60", "--output-dir", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "phase: load" in line or time.monotonic() > deadline:
            break
    assert any("phase: load" in line for line in seen), "".join(seen)
    assert leftovers(engine) != []  # the stack is up
    time.sleep(2)
    process.send_signal(sig)
    _, err = process.communicate(timeout=90)
    assert process.returncode == 130, err
    assert "interrupted" in err
    assert leftovers(engine) == []


def test_clean_removes_leftovers_of_a_crashed_run(
    engine: DockerEngine, images: StackImages
) -> None:
    """`loadgate clean --all` finds labelled containers and networks, with or without an owner
    recorded, and removes them."""
    labels = {LABEL_RUN: "crashed-run"}
    engine.client.networks.create("loadgate-crashed-run", labels=labels)
    engine.client.containers.create(
        images.mock.name, labels=labels, name="loadgate-crashed-run-mock"
    )
    assert len(leftovers(engine, "crashed-run")) == 2
    done = loadgate("clean", "--all")
    assert done.returncode == 0
    assert "removed 1 container(s) and 1 network(s)" in done.stdout
    assert leftovers(engine) == []


def test_an_external_target_is_driven_with_its_credentials_and_nothing_launched(
    engine: DockerEngine,
    images: StackImages,
    services: tuple[ServiceSpec, ServiceSpec],
    tmp_path: Path,
) -> None:
    """--target drives a running deployment over OpenAI's contract with the given headers and
    token; no container is measured, memory budgets are unavailable, the token is kept nowhere."""
    secret = "sk-external-" + uuid.uuid4().hex
    with make_stack(engine, images, services) as stack:
        before = leftovers(engine)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "harness",
                "run",
                "--target",
                stack.gateway_url,
                "--protocol",
                "openai",
                "--duration",
                "3",
                "--token-env",
                "LG_TARGET_TOKEN",
                "--header",
                "X-Request-ID: lg-external-check",
                "--budgets",
                "budgets/default.yml",
                "--output-dir",
                str(tmp_path),
                "-q",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            check=False,
            env={**os.environ, "LG_TARGET_TOKEN": secret},
        )
        assert leftovers(engine) == before  # nothing was launched for the run
        time.sleep(0.3)
        gateway_logs = stack.gateway.all_logs()
    assert done.returncode == 0, done.stdout + done.stderr
    run_dir = only_run_dir(tmp_path)
    result = json.loads((run_dir / "result.json").read_text())
    assert result["latency"]["count"] > 20
    assert result["memory"] is None and result["container"] is None and result["images"] == {}
    assert {b["name"]: b["passed"] for b in result["budgets"]}["memory_p95_mb"] is None
    assert "id=lg-external-check method=POST path=/v1/chat/completions status=200" in gateway_logs
    assert "not launched by loadgate" in (run_dir / "report.html").read_text()
    for path in run_dir.iterdir():
        assert secret not in path.read_text(errors="replace"), path.name
    assert secret not in done.stdout + done.stderr
