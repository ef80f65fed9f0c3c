"""`loadgate compare` for real: the reference gateway against itself is not flagged, against a
flawed fixture it is, and two stored runs compare to the same verdict without Docker."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from harness.stack.docker import DockerEngine
from harness.stack.images import StackImages
from tests.integration.conftest import ROOT, loadgate, only_run_dir

FLAWED = "tests/fixtures/gateways/flawed"


def _compare(output: Path) -> tuple[Path, dict[str, Any]]:
    directory = only_run_dir(output)
    return directory, json.loads((directory / "compare.json").read_text())


def _verdicts(result: dict[str, Any]) -> dict[str, str]:
    return {m["metric"]: m["verdict"] for m in result["metrics"]}


def test_the_reference_against_its_own_git_head_is_not_flagged(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """--base-ref HEAD builds the committed gateway in a worktree; beside the working tree's (the
    same code) nothing regresses, and the worktree is removed afterwards."""
    output = tmp_path / "runs"
    done = loadgate(
        "compare",
        "--base-ref",
        "HEAD",
        "--scenario",
        "steady",
        "--duration",
        "8",
        "--rounds",
        "2",
        "--output-dir",
        str(output),
        "-q",
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    directory, result = _compare(output)
    assert result["verdict"] == "pass"
    assert result["base"]["gateway"].startswith("git ref HEAD (")
    assert [r["side"] for r in result["rounds"]] == ["base", "head", "head", "base"]
    assert not any(v == "regressed" for v in _verdicts(result).values())
    for metric in result["metrics"]:
        if metric["low"] is not None:
            assert metric["low"] <= metric["high"]
    assert "verdict: PASS" in done.stdout
    assert {p.name for p in directory.iterdir()} >= {"compare.json"}
    assert len([p for p in directory.iterdir() if (p / "result.json").is_file()]) == 4
    worktrees = subprocess.run(
        ["git", "worktree", "list"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "loadgate-base-" not in worktrees.stdout


def test_a_flawed_head_is_flagged_and_the_stored_runs_agree(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """A head that blocks its event loop regresses latency and throughput: exit 1, named; the
    same two runs compared again from their directories give the same verdicts."""
    output = tmp_path / "runs"
    done = loadgate(
        "compare",
        "--head-build",
        FLAWED,
        "--head-env",
        "FLAW=blocking",
        "--scenario",
        "steady",
        "--duration",
        "8",
        "--rounds",
        "1",
        "--output-dir",
        str(output),
        "-q",
        timeout=600,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    directory, result = _compare(output)
    verdicts = _verdicts(result)
    assert verdicts["p95"] == "regressed"
    assert verdicts["throughput"] == "regressed"
    verdict = next(line for line in done.stdout.splitlines() if line.startswith("verdict: "))
    assert verdict.startswith("verdict: FAIL: ") and "latency p95 regressed" in verdict
    base, head = (directory / r["run_id"] for r in result["rounds"])
    again = loadgate("compare", str(base), str(head), "--output-dir", str(tmp_path / "again"))
    assert again.returncode == 1, again.stdout + again.stderr
    _, stored = _compare(tmp_path / "again")
    assert stored["stored"] is True
    assert _verdicts(stored)["p95"] == "regressed"


def test_a_head_that_never_becomes_ready_fails_the_compare(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """A head whose container exits at start (a gateway of another shape, not wired): the
    compare stops there and fails with the reason, in the console and in its own junit.xml,
    rather than judging metrics it does not have."""
    output = tmp_path / "runs"
    done = loadgate(
        "compare",
        *("--head-build", "tests/fixtures/gateways/port8080"),
        *("--scenario", "smoke", "--duration", "5", "--rounds", "1"),
        *("--output-dir", str(output), "-q"),
        timeout=600,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    directory, result = _compare(output)
    assert result["verdict"] == "fail" and result["head"]["requests"] == 0
    (problem,) = result["problems"]
    assert "round 2 (head)" in problem and "never became ready" in problem
    assert "verdict: FAIL" in done.stdout
    junit = (directory / "junit.xml").read_text()
    assert 'name="problem 1"' in junit and "never became ready" in junit


def test_a_head_failing_a_check_the_base_passes_fails_the_compare(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """The flawed head logs the provider token (FLAW=log_authorization): whatever its metrics,
    the compare names the always-on check only the head failed."""
    output = tmp_path / "runs"
    done = loadgate(
        "compare",
        *("--head-build", FLAWED, "--head-env", "FLAW=log_authorization"),
        *("--scenario", "smoke", "--duration", "5", "--rounds", "1"),
        *("--output-dir", str(output), "-q"),
        timeout=600,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    _, result = _compare(output)
    (problem,) = result["problems"]
    assert "(head, run " in problem and "failed provider_token_in_logs" in problem
    assert "the base did not fail it" in problem
    assert "1 problem" in done.stdout.splitlines()[-2]
