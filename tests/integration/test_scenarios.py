"""Every scenario, in a short version, against the reference gateway: each finds what it exists
to find, and the reference gateway meets the scenario's own budgets (budgets/<scenario>.yml)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.stack.docker import DockerEngine
from harness.stack.images import StackImages
from harness.stack.launch import GatewayStack
from tests.integration.conftest import leftovers, loadgate, only_run_dir


def run_scenario(tmp_path: Path, name: str, *options: str) -> tuple[int, str, dict[str, Any]]:
    done = loadgate("run", "--scenario", name, *options, "--output-dir", str(tmp_path), "-q")
    assert done.returncode in (0, 1), done.stdout + done.stderr
    result = json.loads((only_run_dir(tmp_path) / "result.json").read_text())
    return done.returncode, done.stdout, result


def verdicts(result: dict[str, Any]) -> dict[str, bool | None]:
    return {b["name"]: b["passed"] for b in result["budgets"]}


def test_ramp_finds_a_knee_and_stops_at_it(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """Steps of 2 s up to 800 req/s (what this 2-core machine drives cleanly alongside the
    stack): every step is reported, the knee meets its budget, the generator kept up."""
    code, out, result = run_scenario(tmp_path, "ramp", "--duration", "16", "--rate", "800")
    assert code == 0, out
    steps = result["findings"]["steps"]
    assert len(steps) == 8 and steps[0]["passed"] is True
    assert result["findings"]["figures"]["knee_rps"] >= 400
    assert result["generator"]["model"] == "open"
    assert verdicts(result)["generator_lag_p99_ms"] is True
    assert leftovers(engine) == []


def test_spike_reports_the_spike_and_the_recovery(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """62.5 → 500 → 62.5 req/s (800 saturates this 2-core machine with the whole stack on it):
    three steps, the spike's p99, a recovery time."""
    code, out, result = run_scenario(tmp_path, "spike", "--duration", "9", "--rate", "500")
    assert code == 0, out
    figures = result["findings"]["figures"]
    assert [s["target_rps"] for s in result["findings"]["steps"]] == [62.5, 500, 62.5]
    assert figures["spike_p99_ms"] > 0 and figures["recovery_s"] is not None


@pytest.mark.slow
def test_soak_reports_growth_per_10k_requests(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """The reference gateway's memory, fd and connection slopes stay within the soak budgets."""
    code, out, result = run_scenario(tmp_path, "soak", "--duration", "30", "--rate", "300")
    assert code == 0, out
    judged = verdicts(result)
    for name in ("memory_growth_mb_per_10k", "fd_growth_per_10k", "tcp_growth_per_10k"):
        assert judged[name] is True, name


def test_stream_measures_time_to_first_token_and_goodput(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """Streams through the gateway: TTFT at least the provider's, tokens/s near its pace."""
    code, out, result = run_scenario(tmp_path, "stream", "--duration", "6")
    assert code == 0, out
    stream = result["streaming"]
    assert stream["count"] > 100
    assert stream["ttft_p50_ms"] >= 140  # the mock's median time to first token is 150 ms
    assert 100 < stream["tokens_per_s_p50"] <= 230  # the mock paces 200 tokens/s
    assert result["findings"]["figures"]["goodput"] >= 0.95


def test_cache_saves_upstream_calls_counted_by_the_mock(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """Eight repeated prompts: the mock sees at most eight calls; the gateway reports hits."""
    code, out, result = run_scenario(tmp_path, "cache", "--duration", "6")
    assert code == 0, out
    figures = result["findings"]["figures"]
    assert result["upstream_calls"]["requests"] <= 8
    assert figures["upstream_saved_ratio"] > 0.95
    assert figures["cache_hit_ratio"] > 0.9


def test_slow_upstream_is_held_without_errors(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """A 2 s provider with stalled headers: no errors, latency at least the provider's."""
    code, out, result = run_scenario(tmp_path, "slow-upstream", "--duration", "8")
    assert code == 0, out
    assert result["errors"]["total"] == 0
    assert result["latency"]["p50_ms"] >= 2000
    assert result["upstream_calls"]["slow_headers"] > 0


def test_failing_upstream_errors_are_mapped(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """While the provider fails, the gateway answers 429 and 502, never 500 or nothing."""
    code, out, result = run_scenario(tmp_path, "failing-upstream", "--duration", "12")
    assert code == 0, out
    kinds = result["errors"]["by_kind"]
    assert kinds.get("http_429", 0) > 0 and kinds.get("http_502", 0) > 0
    assert result["findings"]["figures"]["unexpected_status"] == 0
    assert [e["name"] for e in result["events"]] == ["mock_config", "mock_config"]


def test_redis_down_causes_no_errors(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """Redis stopped and started again mid-run: every request still succeeds."""
    code, out, result = run_scenario(tmp_path, "redis-down", "--duration", "12")
    assert code == 0, out
    assert [e["name"] for e in result["events"]] == ["redis_stop", "redis_start"]
    assert result["errors"]["total"] == 0
    assert len(result["findings"]["steps"]) == 3


def test_pool_exhaustion_gives_fast_rejections_not_timeouts(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """Past the 16-connection pool: 503s within about the pool timeout, no timeouts."""
    code, out, result = run_scenario(tmp_path, "pool-exhaustion", "--duration", "12")
    assert code == 0, out
    figures = result["findings"]["figures"]
    assert figures["rejected"] > 0 and figures["timeouts"] == 0
    assert figures["rejected_p99_ms"] < 400
    assert figures["pool_in_use_max"] == 16


def test_shutdown_under_load_completes_in_flight_requests(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """SIGTERM with ~100 requests in flight: none dropped, /ready 503 at once, exit 0."""
    code, out, result = run_scenario(tmp_path, "shutdown", "--duration", "8")
    assert code == 0, out
    figures = result["findings"]["figures"]
    assert figures["in_flight_at_sigterm"] > 50
    assert figures["dropped"] == 0
    assert result["shutdown"]["not_ready_answer"] == "503"
    assert result["shutdown"]["exit_code"] == 0 and not result["shutdown"]["killed"]


def test_oom_is_detected_and_fails_the_run(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """A 48 MiB limit: the OOM kill is reported and the run fails, it does not crash."""
    code, out, result = run_scenario(tmp_path, "oom", "--duration", "5")
    assert code == 1, out
    assert result["container"]["oom_killed"] is True
    assert verdicts(result)["gateway_oom_killed"] is False
    assert leftovers(engine) == []


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        pytest.param("steady", 200, id="locust-master-and-two-workers"),
        pytest.param("cache", 590, id="open-model-two-processes"),
    ],
)
def test_distributed_generators_merge_every_process_samples(
    engine: DockerEngine, images: StackImages, tmp_path: Path, scenario: str, expected: int
) -> None:
    """Two generator processes: all requests land in one samples file, each counted once."""
    code, out, result = run_scenario(tmp_path, scenario, "--duration", "6", "--processes", "2")
    assert code == 0, out
    assert result["generator"]["processes"] == 2
    run_dir = only_run_dir(tmp_path)
    rows = (run_dir / "samples.csv").read_text().splitlines()[1:]
    assert len(rows) == result["latency"]["count"] > expected
    assert not list(run_dir.glob("samples-*.csv"))


def test_scenarios_against_a_url_skip_what_needs_containers_and_say_so(
    engine: DockerEngine, stack: GatewayStack, tmp_path: Path
) -> None:
    """Against --target: the load runs, the gateway's own /metrics are scraped, actions that
    need loadgate's containers are recorded as skipped, their figures are unavailable, and a
    run whose budgets could none be measured does not pass."""
    code, out, result = run_scenario(
        tmp_path, "shutdown", "--target", stack.gateway_url, "--duration", "4"
    )
    assert code == 1 and result["verdict"] == "fail", out
    assert result["latency"]["count"] > 300
    assert [e["name"] for e in result["events"]] == ["sigterm skipped"]
    assert result["shutdown"] is None and result["container"] is None
    assert "no SIGTERM was sent" in " ".join(result["findings"]["notes"])
    assert {b["name"]: b["passed"] for b in result["budgets"]}["dropped_max"] is None
    metrics = result["gateway_metrics"]
    assert metrics["available"] and metrics["scrapes"] >= 3
    assert "gateway_in_flight_requests" in metrics["series"]
    assert stack.gateway.state()["Running"]  # the target was not touched
