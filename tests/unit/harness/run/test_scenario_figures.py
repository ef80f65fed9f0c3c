"""Each scenario's figures and notes (`harness.run.scenario_figures.compute`), on synthetic
rows, checked by hand."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from harness.run.scenario_figures import FindingInputs, compute
from reports.result import (
    GatewayMetrics,
    MetricSeries,
    ReadinessRecord,
    RunEvent,
    ShutdownRecord,
)
from scenarios.arrivals import Stage
from scenarios.catalog import Action, ClosedLoad, OpenLoad, Scenario

T0 = 1_800_000_000.0
MIB = 1024 * 1024
Row = tuple[float, float, int, str]
"""(seconds into the load, latency ms, status, error)."""


def sent(rate: float, start_s: float, end_s: float, latency_ms: float = 10.0) -> list[Row]:
    """Answered requests at `rate` per second over [start_s, end_s)."""
    count = round((end_s - start_s) * rate)
    return [(start_s + i / rate, latency_ms, 200, "") for i in range(count)]


def frame(rows: Sequence[Row]) -> pd.DataFrame:
    """The requests as `aggregate.load_requests` reads them, with no schedule lag."""
    n = len(rows)
    return pd.DataFrame(
        {
            "start": [T0 + r[0] for r in rows],
            "latency_ms": [r[1] for r in rows],
            "name": ["/v1/infer"] * n,
            "status": [r[2] for r in rows],
            "error": [r[3] for r in rows],
            "bytes": [10] * n,
            "lag_ms": [0.0] * n,
            "ttft_ms": [np.nan] * n,
            "tokens": [np.nan] * n,
        }
    )


def open_scenario(name: str, *stages: tuple[float, float], **options: object) -> Scenario:
    load = OpenLoad(tuple(Stage(d, r) for d, r in stages))
    return Scenario(name, "synthetic", load, sum(d for d, _ in stages), **options)  # type: ignore[arg-type]


def inputs(scenario: Scenario, rows: Sequence[Row], **changes: object) -> FindingInputs:
    """What a run of `scenario` recorded: `rows`, load started at T0, nothing else."""
    values: dict[str, object] = {
        "scenario": scenario,
        "requests": frame(rows),
        "resources": None,
        "load_started_at": T0,
    }
    values.update(changes)
    return FindingInputs(**values)  # type: ignore[arg-type]


def event(at_s: float, name: str) -> RunEvent:
    return RunEvent(t=T0 + at_s, name=name)


def shutdown(at_s: float, not_ready_s: float | None, exited_s: float, code: int) -> ShutdownRecord:
    """SIGTERM `at_s` into the load; SIGKILL needed when the exit code is 137."""
    return ShutdownRecord(
        sigterm_at=T0 + at_s,
        not_ready_after_s=not_ready_s,
        not_ready_answer="" if not_ready_s is None else "503",
        exited_after_s=exited_s,
        exit_code=code,
        killed=code == 137,
    )


def metrics(**series: tuple[float, float, float]) -> GatewayMetrics:
    """Scraped metrics: name -> (first, last, max)."""
    return GatewayMetrics(
        available=True,
        scrapes=10,
        series={k: MetricSeries(first=a, last=b, max=c) for k, (a, b, c) in series.items()},
    )


STEADY = open_scenario("steady", (10, 10))


def test_failing_fast_image_size_and_goodput_are_always_reported() -> None:
    """A fast failure is a figure and a note; 123e6 bytes is 123 MB; 2 of 4 requests are good."""
    rows = [(0, 100, 200, ""), (1, 3000, 200, ""), (2, 100, 502, "http_502"), (3, 100, 200, "")]
    found = compute(
        inputs(STEADY, rows, failed_fast="all 4 first requests: http_502", image_size_bytes=123e6)
    )
    assert found.figures["all_failing"] == 1.0
    assert found.notes[0] == "all 4 first requests: http_502"
    assert found.figures["image_size_mb"] == 123.0
    assert found.figures["goodput"] == 0.5
    slo = (found.figures["goodput_slo_ttft_ms"], found.figures["goodput_slo_latency_ms"])
    assert slo == (500.0, 2000.0)


def test_an_open_load_served_at_half_its_rate_is_noted() -> None:
    """10 answered req/s against 20 offered: ratio 0.5 and a note naming both rates."""
    found = compute(inputs(open_scenario("steady", (10, 20)), sent(10, 0, 10)))
    figures = found.figures
    assert (figures["offered_rps"], figures["achieved_rps"]) == (20.0, 10.0)
    assert figures["throughput_ratio"] == 0.5
    assert "the gateway served 10.0 of the 20.0 req/s offered (50%)" in found.notes


def test_a_closed_load_is_measured_without_its_spawning_and_last_interval() -> None:
    """4 users spawned at 2/s, 2 req/s each: the window is 2.5-18.5 s of the 20 s, 8 req/s."""
    scenario = Scenario("steady", "closed", ClosedLoad(4, 2, 2), duration_s=20)
    found = compute(inputs(scenario, sent(8, 2.5, 18.5)))
    assert (found.figures["offered_rps"], found.figures["achieved_rps"]) == (8.0, 8.0)
    assert found.figures["throughput_ratio"] == 1.0
    assert not [n for n in found.notes if "req/s offered" in n]


def test_unpaced_users_offer_no_rate() -> None:
    """Closed users without pacing take what they get: no throughput figures at all."""
    scenario = Scenario("steady", "closed", ClosedLoad(4, 4, 0), duration_s=10)
    found = compute(inputs(scenario, sent(8, 0, 10)))
    assert "throughput_ratio" not in found.figures and "offered_rps" not in found.figures


@pytest.mark.parametrize(
    "stop",
    [
        pytest.param({"events": [event(6, "load stopped early")]}, id="load-stopped-early"),
        pytest.param({"shutdown": shutdown(6, None, 1.0, 0)}, id="sigterm"),
    ],
)
def test_the_rate_is_measured_up_to_a_deliberate_stop(stop: dict[str, object]) -> None:
    """20 req/s for 6 s of a 10 s load, then a stop: served in full, not at 12 req/s."""
    found = compute(inputs(open_scenario("steady", (10, 20)), sent(20, 0, 6), **stop))
    assert found.figures["achieved_rps"] == 20.0 and found.figures["throughput_ratio"] == 1.0


def test_a_readiness_path_that_does_not_exist_is_noted() -> None:
    """Every probe answered 404: readiness was not judged, and the note says how to name it."""
    found = compute(inputs(STEADY, sent(10, 0, 10), readiness_missing=True))
    assert any("answered 404 to every probe" in n for n in found.notes)


READINESS = ReadinessRecord(
    path="/ready", timeout_s=1.0, probes=10, failures=2, first_failure="timeout after 1 s at 3 s"
)
SLOWED = open_scenario(
    "slow-upstream", (10, 10), actions=(Action(2, "mock_config", {"latency_ms": 900}),)
)


@pytest.mark.parametrize(
    ("launched", "blamed"),
    [pytest.param(True, True, id="loadgate-container"), pytest.param(False, False, id="url")],
)
def test_failed_readiness_probes_are_noted_and_blamed_on_a_slow_provider(
    launched: bool, blamed: bool
) -> None:
    """2 of 10 probes failed; when only the (loadgate's) provider was slowed, that is the cause."""
    found = compute(
        inputs(SLOWED, sent(10, 0, 10), readiness=READINESS, container_launched=launched)
    )
    assert any(
        "/ready failed 2 of 10 probes (first: timeout after 1 s at 3 s)" in n for n in found.notes
    )
    assert any("readiness path waits on the provider" in n for n in found.notes) is blamed


def test_a_healthcheck_problem_and_unavailable_metrics_are_noted() -> None:
    """Both are carried into the notes as they were found."""
    found = compute(
        inputs(
            STEADY,
            sent(10, 0, 10),
            healthcheck_problem="the healthcheck needs curl",
            metrics=GatewayMetrics(available=False, reason="404 on /metrics"),
        )
    )
    assert "the healthcheck needs curl" in found.notes
    assert "gateway metrics unavailable: 404 on /metrics" in found.notes


def leaking_resources(shape: str) -> pd.DataFrame:
    """One sample a second for 60 s: memory +1 MiB and one more outbound socket per second."""
    t = np.arange(61, dtype=float)
    return pd.DataFrame(
        {
            "t": T0 + t,
            "memory_bytes": 50 * MIB + t * MIB if shape == "leak" else np.full(61, 50 * MIB),
            "own_fds": np.full(61, 20.0),
            "tcp_outbound": t if shape == "leak" else np.full(61, 3.0),
        }
    )


def test_growth_is_a_slope_per_10k_requests_in_mib() -> None:
    """At 100 req/s, 1 MiB a second is 100 MiB per 10k requests; flat series are ~0."""
    found = compute(inputs(STEADY, sent(100, 0, 60), resources=leaking_resources("leak")))
    assert found.figures["memory_growth_mb_per_10k"] == pytest.approx(100, rel=0.02)
    assert found.figures["tcp_growth_per_10k"] == pytest.approx(100, rel=0.02)
    assert found.figures["fd_growth_per_10k"] == pytest.approx(0, abs=1e-6)


def test_growth_is_not_measured_across_a_shutdown() -> None:
    """A stopped gateway frees its memory: no slope is fitted when SIGTERM was sent."""
    stopped = shutdown(50, 0.01, 1.0, 0)
    found = compute(
        inputs(STEADY, sent(100, 0, 60), resources=leaking_resources("leak"), shutdown=stopped)
    )
    assert "memory_growth_mb_per_10k" not in found.figures


def test_an_open_ramp_is_split_into_its_stages() -> None:
    """Two stages of 2 s at 10 and 20 req/s: one step each, at its own rate."""
    ramp = open_scenario("ramp", (2, 10), (2, 20))
    steps = compute(inputs(ramp, sent(10, 0, 2) + sent(20, 2, 4))).steps
    assert [(s.name, s.requests, s.throughput_rps) for s in steps] == [
        ("step 1: 10 req/s", 20, 10.0),
        ("step 2: 20 req/s", 40, 20.0),
    ]


def test_events_split_the_run_into_phases_and_short_ones_are_dropped() -> None:
    """Events at 0.5, 3 and 6 s of 10 s: (0, 0.5) is too short; a gateway exit splits nothing."""
    events = [
        event(0.5, "redis_stop"),
        event(3, "mock_config"),
        event(6, "mock_config"),
        event(7, "gateway exited"),
    ]
    steps = compute(inputs(STEADY, sent(10, 0, 10), events=events)).steps
    assert [(s.name, s.start_s, s.end_s, s.requests) for s in steps] == [
        ("redis_stop at 0 s", 0.5, 3.0, 25),
        ("mock_config at 3 s", 3.0, 6.0, 30),
        ("mock_config at 6 s", 6.0, 10.0, 40),
    ]


def spike_rows(settles_at_s: float) -> list[Row]:
    """10 ms before 2 s, 100 ms from 2 s until `settles_at_s`, 12 ms after (10 req/s, 8 s)."""
    return sent(10, 0, 2) + sent(10, 2, settles_at_s, 100.0) + sent(10, settles_at_s, 8, 12.0)


@pytest.mark.parametrize(
    ("settles_at_s", "recovery_s"),
    [pytest.param(5, 1.0, id="one-second-after"), pytest.param(8, None, id="never")],
)
def test_spike_figures_and_the_recovery_second(
    settles_at_s: float, recovery_s: float | None
) -> None:
    """Baseline p95 10 ms, spike p99 100 ms; recovered in the first second back under 30 ms."""
    spike = open_scenario("spike", (2, 10), (2, 10), (4, 10))
    events = [event(2, "spike"), event(4, "spike over")]
    found = compute(inputs(spike, spike_rows(settles_at_s), events=events))
    assert (found.figures["baseline_p95_ms"], found.figures["spike_p99_ms"]) == (10, 100)
    assert found.figures["recovery_s"] == recovery_s
    noted = "latency did not return to the baseline after the spike" in found.notes
    assert noted is (recovery_s is None)


def failing_resources() -> pd.DataFrame:
    """Every 0.5 s from -1 to 8 s: 50 MiB and 4 sockets before the fault at 2 s, then 60 and 9."""
    t = np.arange(-1, 8, 0.5)
    during = (t >= 2) & (t < 6)
    return pd.DataFrame(
        {
            "t": T0 + t,
            "memory_bytes": np.where(during, 60 * MIB, 50 * MIB),
            "own_fds": np.full(t.size, 20.0),
            "tcp_outbound": np.where(during, 9.0, 4.0),
        }
    )


def failing_rows(rate: float) -> list[Row]:
    """Answered before 2 s and after 6 s; between them 502s, five 500s and three no-answers."""
    during = [(t, 5.0, 502, "http_502") for t, *_ in sent(rate, 2, 6)]
    during[:5] = [(t, 5.0, 500, "http_500") for t, *_ in during[:5]]
    during[5:8] = [(t, 5.0, 0, "ConnectError") for t, *_ in during[5:8]]
    return sent(rate, 0, 2) + during + sent(rate, 6, 8)


FAILING = open_scenario("failing-upstream", (8, 50))
FAULT = [event(2, "mock_config"), event(6, "mock_config")]


def test_memory_while_the_provider_fails_is_per_1k_failures() -> None:
    """+10 MiB over 200 failures is 50 MiB per 1,000; 8 answers were neither mapped nor 200."""
    found = compute(
        inputs(FAILING, failing_rows(50), resources=failing_resources(), events=FAULT)
    ).figures
    assert found["unexpected_status"] == 8.0
    assert found["memory_change_while_failing_mb"] == 10.0
    assert found["failed_while_failing"] == 200.0
    assert found["memory_failing_mb_per_1k"] == 50.0
    assert (found["outbound_tcp_max_before"], found["outbound_tcp_max_while_failing"]) == (4, 9)


def test_too_few_failures_give_no_figure_per_1k() -> None:
    """40 failures are too few to scale to 1,000: a note instead of a figure."""
    found = compute(inputs(FAILING, failing_rows(10), resources=failing_resources(), events=FAULT))
    assert found.figures["failed_while_failing"] == 40.0
    assert "memory_failing_mb_per_1k" not in found.figures
    assert "too few failed requests to judge memory per 1,000 failures" in found.notes


CACHE = open_scenario("cache", (1, 10))
CACHE_ROWS = [*sent(10, 0, 0.8), (0.8, 5.0, 502, "http_502"), (0.9, 5.0, 502, "http_502")]
HIT, MISS = (
    'gateway_cache_lookups_total{outcome="hit"}',
    'gateway_cache_lookups_total{outcome="miss"}',
)


def test_cache_figures_from_the_mock_counters_and_the_gateway_metrics() -> None:
    """8 answers, 2 provider calls: 75 % saved; 6 hits and 2 misses; 3 requests deduplicated."""
    scraped = metrics(
        **{HIT: (0, 6, 6), MISS: (0, 2, 2), "gateway_deduplicated_requests_total": (1, 4, 4)}
    )
    found = compute(inputs(CACHE, CACHE_ROWS, upstream_calls={"requests": 2}, metrics=scraped))
    assert found.figures["upstream_calls"] == 2.0
    assert found.figures["upstream_saved_ratio"] == 0.75
    assert found.figures["cache_hit_ratio"] == 0.75
    assert found.figures["deduplicated"] == 3.0


def test_cache_figures_without_the_mock_or_metrics() -> None:
    """A foreign provider: the saving is unknown (a note); no metrics: no hit ratio."""
    found = compute(inputs(CACHE, CACHE_ROWS))
    assert "upstream calls unavailable: the provider is not loadgate's mock" in found.notes
    assert "upstream_saved_ratio" not in found.figures and "cache_hit_ratio" not in found.figures
    assert found.figures["deduplicated"] is None


def test_more_provider_calls_than_answers_save_nothing() -> None:
    """Retries can call the provider more often than the client asked: saved is 0, not negative."""
    found = compute(inputs(CACHE, CACHE_ROWS, upstream_calls={"requests": 12}))
    assert found.figures["upstream_saved_ratio"] == 0.0


def test_pool_exhaustion_counts_rejections_timeouts_and_accepted_latency() -> None:
    """Three 503s (p99 3 ms), a 504 and a client timeout, six 200s (p99 60 ms), pool metrics."""
    rows: list[Row] = [(i / 10, 10.0 * (i + 1), 200, "") for i in range(6)]
    rows += [(0.6, 1.0, 503, "http_503"), (0.7, 3.0, 503, "http_503"), (0.8, 2.0, 503, "http_503")]
    rows += [(0.9, 30.0, 504, "http_504"), (0.95, 5000.0, 0, "Timeout")]
    scraped = metrics(
        gateway_upstream_pool_connections_in_use=(0, 3, 16),
        gateway_upstream_pool_timeouts_total=(1, 6, 6),
        gateway_shed_requests_total=(0, 7, 7),
    )
    pool = open_scenario("pool-exhaustion", (1, 11))
    found = compute(inputs(pool, rows, metrics=scraped)).figures
    assert (found["rejected"], found["rejected_p99_ms"]) == (3.0, 3.0)
    assert (found["timeouts"], found["accepted_p99_ms"]) == (2.0, 60.0)
    assert (found["pool_in_use_max"], found["pool_timeouts"], found["shed"]) == (16, 5, 7)


SHUTDOWN = open_scenario("shutdown", (10, 2))


def test_shutdown_accounts_for_requests_in_flight_at_sigterm() -> None:
    """Two requests straddle SIGTERM at 5 s: one completes, one is dropped; two refused after."""
    rows: list[Row] = [
        (3.0, 100.0, 200, ""),  # done before
        (4.0, 2000.0, 200, ""),  # in flight, completed
        (4.5, 1000.0, 0, "ServerDisconnectedError"),  # in flight, dropped
        (5.5, 1.0, 0, "ConnectError"),
        (6.0, 1.0, 0, "ConnectError"),
    ]
    record = shutdown(5, 0.02, 1.5, 0)
    found = compute(inputs(SHUTDOWN, rows, shutdown=record)).figures
    assert (found["in_flight_at_sigterm"], found["completed"], found["dropped"]) == (2, 1, 1)
    assert found["not_ready_after_ms"] == pytest.approx(20.0)
    assert (found["exited_after_s"], found["exit_code"], found["sigkill_needed"]) == (1.5, 0, 0)
    assert found["refused_after_sigterm"] == 2.0


def test_a_gateway_that_never_turned_unready_and_needed_sigkill() -> None:
    """`/ready` kept answering 200 and the process outlived its grace: None and 1."""
    record = shutdown(5, None, 10.0, 137)
    found = compute(inputs(SHUTDOWN, sent(2, 0, 5), shutdown=record)).figures
    assert found["not_ready_after_ms"] is None
    assert (found["exit_code"], found["sigkill_needed"]) == (137, 1.0)


def test_a_shutdown_scenario_without_sigterm_says_why() -> None:
    """An external target gets no SIGTERM: a note, and no shutdown figures."""
    found = compute(inputs(SHUTDOWN, sent(2, 0, 10)))
    assert "no SIGTERM was sent: the gateway is not a container loadgate started" in found.notes
    assert "dropped" not in found.figures
