"""The benchmark's arithmetic: reading wrk's output and judging the targets."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from harness.bench.baselines import BaselinePoint, run_locust
from harness.bench.generator import GeneratorPoint, format_generator_table, summarise
from harness.bench.run import Measurement, Target, judge
from harness.bench.wrk import _child_cpu_s, parse, stat_cpu_s

WRK_OUTPUT = """Running 5s test @ http://gateway:8000/v1/chat/completions
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.89ms    1.02ms  21.33ms   80.12%
  Latency Distribution
     50%    3.89ms
     75%    4.31ms
     90%    5.02ms
     99%  712.00us
  19896 requests in 5.00s, 10.17MB read
  Non-2xx or 3xx responses: 3
  Socket errors: connect 0, read 1, write 0, timeout 2
Requests/sec:   3979.12
Transfer/sec:      2.03MB
CHILD-STAT 7 (sh) S 1 7 7 0 -1 4194560 95 280 0 0 0 0 123 77 20 0 1 0 1234 4255744 200
"""


def test_wrk_output_is_read_with_units_and_errors() -> None:
    """Percentiles in us/ms, the rate, and non-2xx plus socket errors are all read."""
    result = parse(WRK_OUTPUT, connections=16, cpu_s=2.0)
    assert result.rps == 3979.12
    assert result.requests == 19896
    assert result.p50_ms == 3.89
    assert result.p99_ms == pytest.approx(0.712)
    assert result.errors == 6


def test_wrk_cpu_comes_from_the_shell_children_accounting() -> None:
    """cutime + cstime of the waiting shell, in clock ticks, are wrk's CPU seconds."""
    assert _child_cpu_s(WRK_OUTPUT) == pytest.approx(2.0)


def test_unreadable_output_is_an_error() -> None:
    """A wrk that printed no figures is not silently a zero."""
    with pytest.raises(ValueError, match="cannot read"):
        parse("unable to connect to gateway:8000", connections=1, cpu_s=0)


def target(name: str, rows: list[tuple[int, float, float, float]]) -> Target:
    t = Target(name, "http://x")
    t.results = [Measurement(name, c, rps, p50, p99, 0, {}) for c, rps, p50, p99 in rows]
    return t


def test_targets_are_judged_from_the_measurements() -> None:
    """Added latency at c=1, best throughput under the p99 bound, and the two ratios."""
    mock = target("mock", [(1, 5000, 0.20, 0.33), (64, 13000, 4.5, 8.4)])
    gateway = target("gw", [(1, 1500, 0.64, 1.20), (16, 3900, 3.9, 7.2), (64, 4400, 14, 60)])
    naive = target("naive", [(1, 690, 1.4, 5.2), (16, 546, 24, 101), (64, 375, 147, 642)])
    verdicts = {
        name.split(" (")[0]: (met, figures) for name, met, figures in judge(mock, gateway, naive)
    }
    assert verdicts["added p50 latency at c=1 <= 0.5 ms"] == (True, "0.440 ms")
    assert verdicts["throughput at p99 < 50 ms >= 2,000 req/s"] == (
        True,
        "3,900 req/s",
    )  # 64 is over
    assert verdicts["... >= 30 % of direct-to-mock"] == (True, "30% of 13,000")
    met, figures = verdicts["... >= 10x naive pooled httpx at 64 connections"]
    assert met is True
    assert figures.startswith("11.7x (4,400 vs 375 req/s)")
    assert figures.endswith("best against best 7.1x")  # 3,900 / 546 (c=1 is not a throughput)


def generator_point(
    rate: float, per_core: float, lag_p99: float, errors: int = 0
) -> GeneratorPoint:
    return GeneratorPoint(
        rate_rps=rate,
        achieved_rps=rate,
        errors=errors,
        generator_cores=rate / per_core,
        per_core_rps=per_core,
        lag_p50_ms=0.1,
        lag_p99_ms=lag_p99,
        mock_cores=0.3,
    )


def test_generator_bench_counts_only_steps_driven_on_time() -> None:
    """A fast step whose lag p99 broke the bound, or with errors, does not count."""
    bench = summarise(
        [
            generator_point(1000, 16000, 1.0),
            generator_point(3000, 24000, 9.0),  # fast, but late
            generator_point(2000, 30000, 1.0, errors=3),  # fast, but failing
        ]
    )
    assert bench.best_per_core_rps == 16000 and bench.met
    assert "16,000 req/s per generator core (target 15,000: met)" in format_generator_table(bench)
    assert not summarise([generator_point(1000, 14000, 1.0)]).met


def test_generator_table_sets_locust_and_wrk_beside_it_and_says_what_was_skipped() -> None:
    """The yardsticks share the table; a saturated mock is marked; a skipped one says why."""
    locust = BaselinePoint("Locust FastHttpUser", "32 users", 2500, 0, 0.98, 2551, 0.45)
    bench = summarise(
        [generator_point(4000, 20000, 1.5)], [locust], {"wrk": "no Docker engine answers"}
    )
    table = format_generator_table(bench).splitlines()
    assert table[1].startswith("loadgate open model") and "20,000" in table[1]
    assert table[2].startswith("Locust FastHttpUser") and "2,551" in table[2]
    assert table[3] == "wrk                    skipped: no Docker engine answers"
    assert table[-1].endswith("(target 15,000: met)")
    saturated = summarise([generator_point(5000, 20000, 1.5)], [replace(locust, mock_cores=0.95)])
    assert format_generator_table(saturated).splitlines()[2].endswith("0.95  mock-bound")


def test_stat_cpu_reads_own_or_children_time() -> None:
    """utime+stime for the process, cutime+cstime for its children; a ')' in comm is fine."""
    stat = "42 (odd) name) S 1 1 1 0 -1 0 0 0 0 0 150 50 300 100 20 0 1 0 0"
    assert stat_cpu_s(stat) == pytest.approx(2.0)
    assert stat_cpu_s(stat, children=True) == pytest.approx(4.0)


def test_locust_yardstick_measures_its_own_window_against_a_real_server() -> None:
    """One Locust process posts the body to a loopback server; its rate and CPU come back."""
    received: list[bytes] = []

    async def chat(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.json_response({"choices": []})

    async def scenario() -> BaselinePoint:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", chat)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        try:
            url = str(server.make_url("")).rstrip("/")
            return await asyncio.to_thread(run_locust, url, 2.0, os.getpid(), '{"hello":1}')
        finally:
            await server.close()

    point = asyncio.run(scenario())
    assert point.generator == "Locust FastHttpUser" and point.errors == 0
    assert point.achieved_rps > 50 and 0 < point.cores <= 1.2
    assert point.per_core_rps == pytest.approx(point.achieved_rps / point.cores, rel=0.01)
    assert received and all(body == b'{"hello":1}' for body in received)
