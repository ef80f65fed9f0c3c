"""The load generators against a real stack: a paused gateway shows in the closed model's tail."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from harness.stack.docker import LABEL_RUN, LABEL_SERVICE, DockerEngine
from harness.stack.images import StackImages
from tests.integration.conftest import ROOT

PAUSE_S = 1.5
PAUSE_AFTER_S = 5.0


def wait_for(condition: str, check: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {condition}")


def load_has_begun(output: Path) -> bool:
    """The first samples of the run have been written."""
    return any(len(p.read_text().splitlines()) > 1 for p in output.glob("*/samples.parts/*.csv"))


def test_a_paused_gateway_shows_in_the_closed_model_p99(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """`steady` at 50 req/s with the gateway paused 1.5 s: the sends due during the pause carry
    it (p95 above 500 ms: it was 112 ms with Locust's constant_throughput, which skipped them,
    while its p99 already showed the dozen requests caught in flight), and the lag says so."""
    command = [sys.executable, "-m", "harness", "run", "--scenario", "steady", "--duration"]
    command += ["12", "--rate", "50", "--budgets", "budgets/default.yml", "-q"]
    command += ["--output-dir", str(tmp_path)]
    run = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_for("the load to begin", lambda: load_has_begun(tmp_path), timeout_s=240)
        run_id = next(tmp_path.iterdir()).name
        labels = [f"{LABEL_RUN}={run_id}", f"{LABEL_SERVICE}=gateway"]
        (gateway,) = engine.client.containers.list(filters={"label": labels})
        time.sleep(PAUSE_AFTER_S)
        gateway.pause()
        try:
            time.sleep(PAUSE_S)
        finally:
            gateway.unpause()
        output, _ = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode in (0, 1), output  # a verdict either way; not judged here
    run_dir = tmp_path / run_id
    result = json.loads((run_dir / "result.json").read_text())
    assert result["latency"]["p99_ms"] > 1000, result["latency"]
    assert result["latency"]["p95_ms"] > 500, result["latency"]
    samples = pd.read_csv(run_dir / "samples.csv")
    assert samples["lag_ms"].max() > 1000  # the users fell behind their schedule ...
    service_ms = samples["latency_ms"] - samples["lag_ms"]
    assert service_ms.quantile(0.5) < 200  # ... while the gateway itself answered as usual
    assert len(samples) > 0.8 * 50 * 12  # and they caught up instead of skipping sends
