"""Deliberately flawed gateways (tests/fixtures/gateways/flawed): for each pitfall, the matching
scenario fails its budget, while the reference gateway passes the same scenario (see
test_scenarios.py and test_run.py for the reference runs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.docker import DockerEngine
from harness.images import StackImages
from tests.integration.conftest import ROOT, leftovers
from tests.integration.test_run import loadgate, only_run_dir

FLAWED = "tests/fixtures/gateways/flawed"
COMPOSE_LINE = '      DRAIN_SECONDS: "20"\n'


def compose_with_flaw(tmp_path: Path, flaw: str) -> Path:
    """The production compose file with FLAW set for the gateway (limits unchanged)."""
    text = (ROOT / "docker-compose.prod.yml").read_text()
    assert COMPOSE_LINE in text
    path = tmp_path / "compose.yml"
    path.write_text(text.replace(COMPOSE_LINE, COMPOSE_LINE + f"      FLAW: {flaw}\n"))
    return path


def run_flawed(tmp_path: Path, flaw: str, *options: str) -> tuple[int, str, dict[str, Any]]:
    compose = compose_with_flaw(tmp_path, flaw)
    output = tmp_path / "runs"
    done = loadgate(
        "run",
        "--gateway-build",
        FLAWED,
        "--compose",
        str(compose),
        *options,
        "--output-dir",
        str(output),
        "-q",
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    result = json.loads((only_run_dir(output) / "result.json").read_text())
    return done.returncode, done.stdout, result


def failed_budgets(result: dict[str, Any]) -> set[str]:
    return {b["name"] for b in result["budgets"] if b["passed"] is False}


@pytest.mark.parametrize(
    ("flaw", "options", "caught_by"),
    [
        pytest.param(
            "blocking",
            ("--scenario", "steady", "--duration", "8", "--budgets", "budgets/default.yml"),
            "latency_p95_ms",
            id="blocking-call-in-async-route",
        ),
        pytest.param(
            "no_drain",
            ("--scenario", "shutdown", "--duration", "8"),
            "dropped_max",
            id="no-graceful-drain",
        ),
        pytest.param(
            "growing_dict",
            ("--scenario", "soak", "--duration", "40", "--rate", "150"),
            "memory_growth_mb_per_10k",
            id="growing-in-memory-dict",
        ),
        pytest.param(
            "log_authorization",
            ("--scenario", "smoke", "--duration", "5", "--budgets", "budgets/default.yml"),
            "provider_token_in_logs",
            id="logging-the-authorization-header",
        ),
    ],
)
def test_each_flaw_fails_the_budget_of_its_scenario(
    engine: DockerEngine,
    images: StackImages,
    tmp_path: Path,
    flaw: str,
    options: tuple[str, ...],
    caught_by: str,
) -> None:
    """The flawed gateway runs and answers, and the scenario's budget for its pitfall fails."""
    code, out, result = run_flawed(tmp_path, flaw, *options)
    assert code == 1, out
    assert result["latency"]["count"] > 0
    assert caught_by in failed_budgets(result), out
    assert result["images"]["gateway"]["name"].startswith("loadgate/gateway-under-test:")
    assert leftovers(engine) == []


def test_a_gateway_that_is_not_ours_is_launched_with_the_compose_limits_and_judged(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """--gateway-build launches another gateway in the reference's place; the naive one (a client
    per request) breaches the latency budget at a load the reference gateway meets."""
    code, out, result = run_flawed(
        tmp_path,
        "client_per_request",
        *("--duration", "6", "--rate", "80", "--budgets", "budgets/default.yml"),
    )
    assert code == 1, out
    assert result["images"]["gateway"]["name"].startswith("loadgate/gateway-under-test:")
    assert result["limits"]["cpus"] == 1.0  # the compose file's limits, applied to it
    verdicts = {b["name"]: b["passed"] for b in result["budgets"]}
    assert verdicts["latency_p95_ms"] is False
    assert result["latency"]["count"] > 0
    assert leftovers(engine) == []
