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


@pytest.mark.slow
def test_tune_edits_the_gateway_of_a_users_own_compose_file(
    engine: DockerEngine, tmp_path: Path
) -> None:
    """A gateway we did not write: its service `llm-gateway` on 8080 with its own variable
    names, wired with --gateway-env; the recommendation goes into that service, and the Redis
    service and every other line are left as they were."""
    source = ROOT / "tests/fixtures/gateways/port8080"
    compose = tmp_path / "compose.yml"
    text = (source / "compose.yml").read_text().replace("build: .", f"build: {source}")
    start = text.index("    healthcheck:")  # curl is not in that image: a finding of its own
    compose.write_text(text[:start] + text[text.index("    restart:", start) :])
    refused = _tune_user_compose(compose, tmp_path)
    assert refused.returncode == 2
    assert "services.llm-gateway.deploy.resources.reservations is missing" in refused.stderr
    reserved = '          memory: 512M\n        reservations:\n          cpus: "0.5"\n'
    compose.write_text(compose.read_text().replace("          memory: 512M\n", reserved, 1))
    done = _tune_user_compose(compose, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    (tune_dir,) = (tmp_path / "out").iterdir()
    tune = json.loads((tune_dir / "tune.json").read_text())
    assert tune["confirmed"] is True and tune["written"] is True
    variables = {"LLM_API_KEY": "x"}
    written = ComposeFile.load(compose)
    gateway = written.service("llm-gateway", variables)
    assert gateway.limits.cpus == tune["recommendation"]["cpus"]
    assert gateway.limits.memory_bytes == tune["recommendation"]["memory_bytes"]
    assert written.service("redis-cache", variables).limits.memory_bytes == 128 * 1024 * 1024
    assert leftovers(engine) == []


def _tune_user_compose(compose: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable, "-m", "harness", "tune",
            "--compose", str(compose),
            "--gateway-env", "LLM_API_BASE={upstream_url}",
            "--gateway-env", "LLM_API_KEY={provider_token}",
            "--gateway-env", "CACHE_URL={redis_url}",
            "--protocol", "openai", "--ready-path", "/health",
            "--scenario", "smoke", "--duration", "4", "--max-runs", "3",
            "--output-dir", str(tmp_path / "out"), "--write", "-q",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        check=False,
    )  # fmt: skip
