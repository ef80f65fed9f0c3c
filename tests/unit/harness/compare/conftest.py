"""Run directories made on disk for the compare's unit tests: a result file and its samples."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from harness.stack.docker import DockerEngine
from reports import aggregate
from reports.result import BudgetVerdict, LatencyStats, RunResult
from scenarios.samples import HEADER
from tests.unit.conftest import sample_result

MakeRun = Callable[..., Path]


@pytest.fixture(autouse=True)
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests never reach a Docker engine: a compare that would run fails at once."""

    def refuse(cls: type[DockerEngine]) -> DockerEngine:
        raise AssertionError("a unit test tried to connect to the Docker engine")

    monkeypatch.setattr(DockerEngine, "connect", classmethod(refuse))


def _latency(latencies: np.ndarray) -> LatencyStats:
    stats = {key: aggregate.percentile(latencies, q) for key, q in aggregate.PERCENTILES.items()}
    return LatencyStats(
        count=int(latencies.size),
        mean_ms=float(latencies.mean()),
        max_ms=float(latencies.max()),
        **stats,
    )


@pytest.fixture
def make_run(tmp_path: Path) -> MakeRun:
    """`make_run(name, latencies, failed=None, failed_checks=(), achieved_rps=60.0, **result)`:
    a run directory under tmp_path whose samples file holds those requests."""

    def make(
        name: str,
        latencies: Sequence[float] | np.ndarray,
        failed: Sequence[bool] | None = None,
        failed_checks: Sequence[str] = (),
        achieved_rps: float | None = 60.0,
        **update: object,
    ) -> Path:
        values = np.asarray(latencies, dtype=float)
        errors = list(failed) if failed is not None else [False] * values.size
        run_dir = tmp_path / name
        run_dir.mkdir()
        lines = [",".join(HEADER)]
        for index, (latency, error) in enumerate(zip(values, errors, strict=True)):
            kind = "http_502" if error else ""
            lines.append(f"{1_767_225_605 + index * 0.01:.3f},{latency:.3f},infer,200,{kind},10,,,")
        (run_dir / "samples.csv").write_text("\n".join(lines) + "\n")
        base = sample_result()
        budgets = [
            BudgetVerdict(name=check, limit=0, observed=1, unit="", passed=False)
            for check in failed_checks
        ]
        figures = {} if achieved_rps is None else {"achieved_rps": achieved_rps}
        result: RunResult = base.model_copy(
            update={
                "run_id": name,
                "latency": _latency(values) if values.size else base.latency,
                "budgets": budgets,
                "verdict": "fail" if budgets else "pass",
                "findings": base.findings.model_copy(update={"figures": figures}),
                "files": {"samples": "samples.csv"},
                **update,
            }
        )
        result.save(run_dir)
        return run_dir

    return make
