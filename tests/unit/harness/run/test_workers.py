"""A distributed run's workers as the harness reads them: each worker's own figures from its own
rows, the merged run's percentiles from every row, and a run that could not start said plainly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.errors import LoadGeneratorError
from harness.run.runner import check_some_worker_ran, distributed_stats, merge_samples
from harness.run.workers import read_workers
from reports import aggregate
from scenarios.plan import WORKERS_FILE
from scenarios.samples import HEADER


def _worker(index: int, summary: dict[str, Any] | None, **changes: Any) -> dict[str, Any]:
    entry = {
        "index": index,
        "client_id": f"host-{index}_abc",
        "host": f"host-{index}",
        "share": f"send {index + 1} of every 2",
        "rows": 0,
        "rejected_rows": 0,
        "summary": summary,
        "lost_after_s": None,
    }
    return {**entry, **changes}


def _summary(cpu_s: float, wall_s: float, missed: int = 0) -> dict[str, Any]:
    return {
        "host": "machine",
        "cpu_s": cpu_s,
        "wall_s": wall_s,
        "scheduled": 100,
        "sent": 100 - missed,
        "missed": missed,
        "unfinished": 0,
        "notes": [],
        "error": None,
    }


def _rows(path: Path, latencies: np.ndarray, lag_ms: float) -> None:
    lines = [",".join(HEADER)]
    lines += [f"{1000 + i / 100:.6f},{v:.3f},/v1/infer,200,,10,{lag_ms:.3f},," for i, v in
              enumerate(latencies)]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")


def _record(parts: Path, workers: list[dict[str, Any]], failure: str | None = None) -> None:
    outcome = {"expected": 2, "joined": len(workers), "failure": failure, "workers": workers}
    (parts / WORKERS_FILE).write_text(json.dumps(outcome))


def test_each_worker_is_figured_from_its_own_rows(tmp_path: Path) -> None:
    """Requests, CPU cores and schedule lag per worker; the run's schedule counts are summed."""
    rng = np.random.default_rng(3)
    _rows(tmp_path / "samples-w0.csv", rng.uniform(10, 20, 100), lag_ms=0.5)
    _rows(tmp_path / "samples-w1.csv", rng.uniform(10, 20, 98), lag_ms=30.0)
    _record(
        tmp_path,
        [
            _worker(0, _summary(2.0, 10.0), rows=100),
            _worker(1, _summary(8.0, 10.0, missed=2), rows=98),
        ],
    )
    stats = distributed_stats(tmp_path, open_model=True, wall_s=12.0)
    first, second = stats.workers
    assert (first.requests, second.requests) == (100, 98)
    assert first.cores == pytest.approx(0.2) and second.cores == pytest.approx(0.8)
    assert (first.lag_p99_ms, second.lag_p99_ms) == (0.5, 30.0)
    assert stats.busiest_process_cores == pytest.approx(0.8)
    assert (stats.scheduled, stats.sent, stats.missed) == (200, 198, 2)
    assert stats.processes == 2


def test_the_merged_run_has_the_percentiles_of_every_request(tmp_path: Path) -> None:
    """A fast worker and a slow one: the run's p99 is that of all their rows together, not the
    average of their p99s (which would describe no request at all)."""
    rng = np.random.default_rng(7)
    fast, slow = rng.uniform(10, 20, 900), rng.uniform(200, 400, 100)
    _rows(tmp_path / "samples-w0.csv", fast, 0.1)
    _rows(tmp_path / "samples-w1.csv", slow, 0.1)
    merged = aggregate.load_requests(merge_samples(tmp_path, tmp_path / "samples.csv"))
    every = np.concatenate([np.round(fast, 3), np.round(slow, 3)])
    for q in (50, 95, 99):
        assert aggregate.latency_stats(merged).model_dump()[f"p{q}_ms"] == pytest.approx(
            aggregate.percentile(every, q)
        )
    averaged = (aggregate.percentile(fast, 99) + aggregate.percentile(slow, 99)) / 2
    assert aggregate.latency_stats(merged).p99_ms != pytest.approx(averaged, rel=0.05)


def test_a_lost_worker_and_a_failed_one_are_recorded(tmp_path: Path) -> None:
    """A worker lost mid-run keeps the rows it sent; one whose generator failed says why."""
    _rows(tmp_path / "samples-w0.csv", np.full(10, 12.0), 0.1)
    failed = {**_summary(0, 1.0), "scheduled": None, "error": "the generator exited with code 2"}
    _record(
        tmp_path,
        [_worker(0, None, rows=10, lost_after_s=4.5), _worker(1, failed)],
    )
    lost, broken = read_workers(tmp_path)
    assert lost.lost_after_s == 4.5 and lost.requests == 10 and lost.scheduled is None
    assert broken.error == "the generator exited with code 2" and broken.lag_p99_ms is None


def test_workers_that_never_all_joined_are_a_generator_failure(tmp_path: Path) -> None:
    """The master's reason reaches the user as one line (exit code of a generator failure)."""
    _record(tmp_path, [], failure="only 1 of 2 workers joined within 30 s")
    with pytest.raises(LoadGeneratorError, match="only 1 of 2 workers joined within 30 s"):
        read_workers(tmp_path)


def test_a_master_that_ended_without_its_record_is_a_generator_failure(tmp_path: Path) -> None:
    """No workers.json at all (the master crashed): said, not a traceback."""
    with pytest.raises(LoadGeneratorError, match="without its record"):
        read_workers(tmp_path)


def test_workers_that_all_failed_say_why_instead_of_no_samples(tmp_path: Path) -> None:
    """Every worker's generator failed to start (a missing module in its image, say): the run's
    error is the workers' own reason, with its last line, not "no samples"."""
    error = "the generator exited with code 1: Traceback\n  ...\nModuleNotFoundError: x"
    failed = {**_summary(0, 1.0), "scheduled": None, "error": error}
    _record(tmp_path, [_worker(0, failed), _worker(1, failed)])
    stats = distributed_stats(tmp_path, open_model=True, wall_s=5.0)
    with pytest.raises(LoadGeneratorError, match=r"worker 0 .*exited with code 1.*ModuleNotFound"):
        check_some_worker_ran(stats.workers)
