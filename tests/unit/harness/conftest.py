"""Helpers and fixtures shared by the harness's unit tests: the CLI in-process, and
`pipeline.run` faked for the tune loop (runs that pass by their limits, on a fake clock)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.progress import ProgressDisplay
from harness.run import pipeline
from harness.settings import RunSettings
from harness.stack.services import ResourceLimits
from harness.tune.search import TuneSettings
from scenarios.catalog import scenario
from tests.unit.conftest import MakeResult

ROOT = Path(__file__).resolve().parents[3]
MIB = 1024 * 1024


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`loadgate ARGS` in-process: (exit code, stdout, stderr), argparse's exits included."""
    from harness.cli import main

    try:
        code = main(args)
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


Cli = Callable[[list[str]], tuple[int, str, str]]
"""`cli(ARGS)`: (exit code, stdout, stderr) of `loadgate ARGS` run in-process."""


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """`loadgate ARGS` in-process, its output captured by this test's `capsys`."""
    return lambda args: run_cli(args, capsys)


class FakeClock:
    """Monotonic seconds that move only when a fake run takes time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclasses.dataclass
class FakeRuns:
    """`pipeline.run` without Docker: a run passes when its limits reach `needs_cpus` and
    `needs_memory`; each takes `takes_s` of `clock`; `raises` replaces the run at those CPUs."""

    make_result: MakeResult
    needs_cpus: float = 0.3
    needs_memory: int = 0
    takes_s: float = 0.0
    clock: FakeClock = dataclasses.field(default_factory=FakeClock)
    raises: dict[float, Exception] = dataclasses.field(default_factory=dict)
    limits: list[ResourceLimits] = dataclasses.field(default_factory=list)

    @property
    def calls(self) -> int:
        return len(self.limits)

    @property
    def cpus(self) -> list[float | None]:
        return [limit.cpus for limit in self.limits]

    def __call__(self, settings: RunSettings, display: ProgressDisplay) -> SimpleNamespace:
        limits = settings.gateway_limits or ResourceLimits()
        self.limits.append(limits)
        self.clock.now += self.takes_s
        if limits.cpus in self.raises:
            raise self.raises[limits.cpus]
        passed = (limits.cpus or 0) >= self.needs_cpus
        passed &= (limits.memory_bytes or 0) >= self.needs_memory
        result = self.make_result("pass" if passed else "fail")
        return SimpleNamespace(result=result.model_copy(update={"run_id": f"run-{self.calls}"}))


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch, make_result: MakeResult) -> FakeRuns:
    """`pipeline.run` replaced by a `FakeRuns` (its thresholds may be changed by the test)."""
    fake = FakeRuns(make_result)
    monkeypatch.setattr(pipeline, "run", fake)
    return fake


TuneSettingsFor = Callable[..., TuneSettings]
"""`tune_settings(compose_text, write=False, **changes)`: over files in the test's tmp_path."""


@pytest.fixture
def tune_settings(tmp_path: Path) -> TuneSettingsFor:
    """Tune settings over `compose.yml` and `budgets.yml` (p95 250 ms) written to tmp_path."""

    def settings(compose: str, write: bool = False, **changes: object) -> TuneSettings:
        (tmp_path / "compose.yml").write_bytes(compose.encode())
        (tmp_path / "budgets.yml").write_text("latency_p95_ms: 250\n")
        run = RunSettings(
            scenario=scenario("steady"),
            project_root=ROOT,
            compose_file=tmp_path / "compose.yml",
            output_dir=tmp_path / "runs",
            budgets_file=tmp_path / "budgets.yml",
        )
        values: dict[str, object] = {"run": run, "max_runs": 4, "write": write, **changes}
        return TuneSettings(**values)  # type: ignore[arg-type]

    return settings
