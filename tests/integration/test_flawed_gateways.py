"""Deliberately flawed gateways (tests/fixtures/gateways/flawed): for each pitfall, the scenario a
user would pick fails it, with no --budgets flag, while the reference gateway passes the same
command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.stack.docker import DockerEngine
from harness.stack.images import StackImages
from tests.integration.conftest import ROOT, leftovers, loadgate, only_run_dir

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
            ("--scenario", "steady", "--duration", "12"),
            "throughput_ratio",
            id="blocking-call-in-async-route",
        ),
        pytest.param(
            "client_per_request",
            ("--scenario", "steady", "--duration", "12"),
            "throughput_ratio",
            id="httpx-client-per-request",
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
            marks=pytest.mark.slow,
        ),
        pytest.param(
            "log_authorization",
            ("--scenario", "smoke", "--duration", "5"),
            "provider_token_in_logs",
            id="logging-the-authorization-header",
        ),
        pytest.param(
            "token_in_errors",
            ("--scenario", "failing-upstream", "--duration", "16"),
            "provider_token_in_responses",
            id="token-in-error-bodies",
        ),
        pytest.param(
            "retain_failed",
            ("--scenario", "failing-upstream"),
            "memory_failing_mb_per_1k",
            id="failed-requests-retained",
        ),
        pytest.param(
            "ready_calls_provider",
            ("--scenario", "slow-upstream", "--duration", "12"),
            "ready_probe_failures",
            id="ready-calls-the-provider",
        ),
    ],
)
def test_each_flaw_is_caught_by_the_scenario_a_user_would_pick(
    engine: DockerEngine,
    images: StackImages,
    tmp_path: Path,
    flaw: str,
    options: tuple[str, ...],
    caught_by: str,
) -> None:
    """No --budgets flag: the scenario's own budgets and the always-on checks catch the flaw."""
    code, out, result = run_flawed(tmp_path, flaw, *options)
    assert code == 1, out
    assert result["latency"]["count"] > 0
    assert caught_by in failed_budgets(result), out
    assert result["images"]["gateway"]["name"].startswith("loadgate/gateway-under-test:")
    assert result["limits"]["cpus"] == 1.0  # the compose file's limits, applied to it
    assert leftovers(engine) == []


def test_a_readiness_path_that_calls_the_provider_is_named_as_the_cause(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """slow-upstream: the stack starts (the provider is fast then), then /ready times out once
    the provider slows: exit 1 with the cause, not an environment failure (exit 3)."""
    code, out, result = run_flawed(
        tmp_path, "ready_calls_provider", "--scenario", "slow-upstream", "--duration", "12"
    )
    assert code == 1, out
    assert result["readiness"]["failures"] > 0
    assert "the readiness path waits on the provider" in out


@pytest.mark.parametrize(
    ("scenario", "options"),
    [
        pytest.param("smoke", ("--duration", "5"), id="smoke"),
        pytest.param("steady", ("--duration", "12"), id="steady"),
        pytest.param("failing-upstream", (), id="failing-upstream"),
        pytest.param("slow-upstream", ("--duration", "12"), id="slow-upstream"),
    ],
)
def test_the_reference_gateway_passes_the_scenarios_that_catch_the_flaws(
    engine: DockerEngine,
    images: StackImages,
    tmp_path: Path,
    scenario: str,
    options: tuple[str, ...],
) -> None:
    """The same commands against the reference gateway pass: each check is a real signal."""
    output = tmp_path / "runs"
    done = loadgate("run", "--scenario", scenario, *options, "--output-dir", str(output), "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((only_run_dir(output) / "result.json").read_text())
    assert result["verdict"] == "pass"
    assert result["readiness"]["failures"] == 0
    assert result["findings"]["figures"]["throughput_ratio"] >= 0.95


def service_latency(tmp_path: Path, delay_ms: int) -> tuple[float, float]:
    """The fastest answer and the median (ms from the actual send) of a short smoke run of the
    flawed gateway with FLAW=delay."""
    output = tmp_path / f"runs-{delay_ms}"
    done = loadgate(
        "run",
        "--scenario",
        "smoke",
        "--duration",
        "5",
        "--gateway-build",
        FLAWED,
        "--gateway-env",
        "FLAW=delay",
        "--gateway-env",
        f"FLAW_DELAY_MS={delay_ms}",
        "--no-budgets",
        "--output-dir",
        str(output),
        "-q",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((only_run_dir(output) / "result.json").read_text())
    fastest = result["service_latency_distribution"][0]
    assert fastest["percentile"] == 0.0
    return fastest["latency_ms"], result["service_latency"]["p50_ms"]


def test_the_delay_flaw_slows_every_answer_by_its_setting(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """FLAW_DELAY_MS=50: no answer comes sooner than 50 ms, and the median grows by about that
    much over FLAW_DELAY_MS=0 (more on a busy machine, hence the loose upper bound)."""
    fastest_plain, median_plain = service_latency(tmp_path, 0)
    fastest_slowed, median_slowed = service_latency(tmp_path, 50)
    assert fastest_plain < 50 <= fastest_slowed
    assert 30 <= median_slowed - median_plain <= 200, (median_plain, median_slowed)
    assert leftovers(engine) == []
