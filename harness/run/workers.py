"""The workers of a distributed run, as its master recorded them (`scenarios.master`), with the
figures of each computed from its own rows: the merged run's percentiles come from every row of
every worker, and each worker's health (CPU, schedule lag, missed sends) is judged on its own,
so one worker that could not keep up is not averaged away by the others."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from harness.errors import LoadGeneratorError
from reports import aggregate
from reports.result import WorkerRecord
from scenarios.plan import REPORT_WAIT_S, WORKERS_FILE
from scenarios.samples import HEADER

__all__ = ["REPORT_WAIT_S", "read_workers"]


def _lags(path: Path) -> np.ndarray:
    if not path.is_file():
        return np.empty(0)
    lags = []
    with path.open() as handle:
        next(handle, None)
        for line in handle:
            fields = line.rstrip("\n").split(",")
            if len(fields) == len(HEADER) and fields[6]:
                lags.append(float(fields[6]))
    return np.asarray(lags, dtype=float)


def _count(summary: dict[str, object], name: str) -> int | None:
    value = summary.get(name)
    return None if value is None else int(str(value))


def _worker(entry: dict[str, object], parts: Path) -> WorkerRecord:
    """One worker as the result records it: the master's entry, its summary, its own rows."""
    summary = entry.get("summary") or {}
    assert isinstance(summary, dict)
    lags = _lags(parts / f"samples-w{entry['index']}.csv")
    wall = float(summary.get("wall_s", 0.0))
    cpu = float(summary.get("cpu_s", 0.0))
    return WorkerRecord(
        index=int(str(entry["index"])),
        host=str(summary.get("host") or entry["host"]),
        share=str(entry["share"]),
        requests=int(str(entry["rows"])),
        rejected_rows=int(str(entry["rejected_rows"])),
        cpu_s=cpu,
        wall_s=wall,
        cores=cpu / wall if wall > 0 else 0.0,
        lag_p50_ms=aggregate.percentile(lags, 50) if lags.size else None,
        lag_p99_ms=aggregate.percentile(lags, 99) if lags.size else None,
        scheduled=_count(summary, "scheduled"),
        sent=_count(summary, "sent"),
        missed=_count(summary, "missed"),
        unfinished=_count(summary, "unfinished"),
        lost_after_s=None if entry["lost_after_s"] is None else float(str(entry["lost_after_s"])),
        error=None if summary.get("error") is None else str(summary["error"]),
    )


def read_workers(parts: Path) -> tuple[WorkerRecord, ...]:
    """Each worker of the run; a run whose workers never all joined is a generator failure."""
    path = parts / WORKERS_FILE
    if not path.is_file():
        raise LoadGeneratorError("the master of the distributed run ended without its record")
    outcome = json.loads(path.read_text())
    if outcome["failure"]:
        raise LoadGeneratorError(f"distributed run: {outcome['failure']}")
    return tuple(_worker(entry, parts) for entry in outcome["workers"])
