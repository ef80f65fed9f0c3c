"""`loadgate tune` end to end with a tiny time budget, on a copy of the compose file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.stack.compose import ComposeFile
from harness.stack.docker import DockerEngine
from harness.stack.images import StackImages
from tests.integration.conftest import ROOT, VARIABLES, leftovers


@pytest.mark.slow
def test_tune_recommends_confirms_and_writes(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """A bounded tune ends in a confirmed recommendation that --write puts into the file."""
    original = (ROOT / "docker-compose.prod.yml").read_text()
    compose = tmp_path / "docker-compose.prod.yml"
    compose.write_text(original.replace("      context: .\n", f"      context: {ROOT}\n"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "tune",
            "--scenario",
            "smoke",
            "--duration",
            "4",
            "--max-runs",
            "4",
            "--compose",
            str(compose),
            "--output-dir",
            str(tmp_path / "out"),
            "--write",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (tune_dir,) = (tmp_path / "out").iterdir()
    tune = json.loads((tune_dir / "tune.json").read_text())
    roles = [p["role"] for p in tune["points"]]
    assert roles[0] == "baseline" and roles[-1] == "confirmation"
    assert len(roles) <= 4
    assert tune["confirmed"] is True and tune["written"] is True
    rec = tune["recommendation"]
    gateway = ComposeFile.load(compose).service("gateway", VARIABLES)
    assert gateway.limits.cpus == rec["cpus"]
    assert gateway.limits.memory_bytes == rec["memory_bytes"]
    assert gateway.limits.reserved_memory_bytes == rec["reserved_memory_bytes"]
    confirmation = tune["points"][-1]
    assert (tune_dir / confirmation["run_id"] / "report.html").exists()
    assert "Latency against CPU limit" in (tune_dir / "tune.html").read_text()
    assert "recommended: cpus" in done.stdout
    assert leftovers(engine) == []
    rerendered = subprocess.run(
        [sys.executable, "-m", "harness", "report", str(tune_dir)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert rerendered.returncode == 0
    assert "confirmation run: PASS" in rerendered.stdout
