"""Runs the load generator in its own processes, bounded in time, and follows their samples.

Closed load is Locust, open load is `scenarios.openmodel` (their command lines:
`harness.run.generator_commands`). Generators run as subprocesses so that Locust's gevent
monkey-patching never touches the harness (which samples containers in threads). Each generator
process writes its own samples file; they are merged into one `samples.csv` at the end (raw
rows, so percentiles of the merged run are exact, not averages of averages), and their notes on
the answers (first failures, provider-token hits: `scenarios.inspection`) into one
`responses.jsonl`. The CPU the generators used is measured, so a run whose generator was the
bottleneck can be refused.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import shutil
import signal
import subprocess
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import LoadGeneratorError
from harness.run.generator_commands import (
    REQUEST_TIMEOUT_S,
    STOP_TIMEOUT_S,
    locust_command,
    master_command,
    open_model_command,
)
from harness.run.model_choice import LAUNCHED_STACK_MODEL
from harness.run.workers import REPORT_WAIT_S, read_workers
from harness.settings import Distributed
from reports.result import WorkerRecord
from scenarios.catalog import OpenLoad, Scenario
from scenarios.inspection import ResponseNotes, read_notes, write_notes
from scenarios.plan import open_shares, plan_for
from scenarios.samples import HEADER, RowReader

GRACE_S = 30.0
WINDOW_S = 5.0
PARTS_DIR = "samples.parts"


@dataclass(frozen=True)
class Progress:
    elapsed_s: float
    remaining_s: float
    requests: int
    errors: int
    window_p95_ms: float | None


@dataclass(frozen=True)
class GeneratorStats:
    """What the load generator did and what it cost."""

    model: str
    processes: int
    cpu_s: float
    wall_s: float
    busiest_process_cores: float
    """CPU of the busiest generator process over the run, in cores (1.0 saturates it)."""
    scheduled: int | None = None
    sent: int | None = None
    missed: int | None = None
    unfinished: int | None = None
    workers: tuple[WorkerRecord, ...] = ()
    """Each worker of a distributed run (`--expect-workers`)."""


@dataclass(frozen=True)
class LoadRun:
    samples: Path
    generator: GeneratorStats
    started_at: float
    """Unix time the load began (the open model's schedule origin)."""
    stopped_early: tuple[float, str] | None = None
    """When and why `stop_when` ended the load before its schedule did."""
    responses: ResponseNotes = field(default_factory=ResponseNotes)
    """The generators' notes on the answers (also kept as `responses.jsonl`)."""


class SampleTail:
    """Reads rows appended to the generators' samples files since the last call."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._readers: dict[Path, RowReader] = {}
        self.requests = 0
        self.errors = 0
        self.first_start: float | None = None
        self.rows: list[tuple[float, float, bool]] = []
        """(start, latency ms, failed) of every row so far."""
        self.kinds: Counter[str] = Counter()
        """How many rows so far had each error kind ("" for a success)."""
        self._window: deque[tuple[float, float]] = deque()

    def poll(self, now: float) -> None:
        for path in sorted(self._directory.glob("*.csv")):
            if path not in self._readers:
                self._readers[path] = RowReader(path)
            self._count(self._readers[path].read())
        while self._window and self._window[0][0] < now - WINDOW_S:
            self._window.popleft()

    def _count(self, rows: list[list[str]]) -> None:
        for row in rows:
            start, latency = float(row[0]), float(row[1])
            self.requests += 1
            self.errors += 1 if row[4] else 0
            self.kinds[row[4]] += 1
            self.rows.append((start, latency, bool(row[4])))
            if self.first_start is None or start < self.first_start:
                self.first_start = start
            self._window.append((start + latency / 1000, latency))

    def window_p95(self) -> float | None:
        if not self._window:
            return None
        latencies = sorted(latency for _, latency in self._window)
        return latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()


StopWhen = Callable[[SampleTail, float, float], str | None]
"""(tail, load_started_at, now) -> a reason to end the load now, or None."""


@dataclass
class _Processes:
    handles: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def start(self, command: list[str], log_path: Path, environment: Mapping[str, str]) -> None:
        with log_path.open("w") as log_file:
            self.handles.append(
                subprocess.Popen(
                    command,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **environment},
                    start_new_session=True,  # Ctrl-C reaches the harness, which stops them
                )
            )
        self.logs.append(log_path)

    def interrupt(self) -> None:
        """Ask the generators to stop sending and finish what they sent (SIGINT)."""
        for process in self.handles:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)

    def running(self) -> bool:
        return any(p.poll() is None for p in self.handles)

    def stop(self) -> None:
        for process in self.handles:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.handles:
            try:
                process.wait(timeout=STOP_TIMEOUT_S + 5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def check(self) -> None:
        for process, log_path in zip(self.handles, self.logs, strict=True):
            if process.returncode != 0:
                output = log_path.read_text()[-2000:]
                raise LoadGeneratorError(
                    f"the load generator exited with code {process.returncode}:\n{output}"
                )


@dataclass(frozen=True)
class _Generators:
    """Starts the load generators of a run: local processes, or the master of its workers."""

    chosen: Scenario
    host: str
    run_dir: Path
    model: str | None
    environment: Mapping[str, str]

    @property
    def _deadline_s(self) -> float:
        return self.chosen.duration_s + STOP_TIMEOUT_S + GRACE_S + REQUEST_TIMEOUT_S

    def local(self, processes: int) -> tuple[_Processes, float]:
        group, parts = _Processes(), self.run_dir / PARTS_DIR
        load = self.chosen.load
        if isinstance(load, OpenLoad):
            for share in open_shares(processes, load.max_in_flight):
                command = open_model_command(self.chosen, self.host, parts, share, self.model)
                log = self.run_dir / f"generator-{share.index}.log"
                group.start(command, log, self.environment)
        else:
            samples = parts / "samples.csv"
            command = locust_command(self.chosen, self.host, samples, processes, self.model)
            group.start(command, self.run_dir / "locust.log", self.environment)
        return group, self._deadline_s

    def master(self, distributed: Distributed) -> tuple[_Processes, float]:
        """The plan goes to the master in a file (never a credential: workers hold their own)."""
        parts = self.run_dir / PARTS_DIR
        model = self.model or LAUNCHED_STACK_MODEL
        plan = plan_for(self.chosen, self.host, distributed.workers, model, REQUEST_TIMEOUT_S)
        (parts / "plan.json").write_text(plan.model_dump_json())
        group = _Processes()
        command = master_command(parts / "plan.json", distributed, parts)
        group.start(command, self.run_dir / "master.log", self.environment)
        return group, self._deadline_s + distributed.join_timeout_s + REPORT_WAIT_S


def run_load(
    chosen: Scenario,
    host: str,
    run_dir: Path,
    on_progress: Callable[[Progress], None],
    environment: Mapping[str, str] | None = None,
    processes: int = 1,
    on_started: Callable[[float], None] | None = None,
    stop_when: StopWhen | None = None,
    model: str | None = None,
    distributed: Distributed | None = None,
) -> LoadRun:
    """Run the scenario's load to completion; interrupts stop the generators first.

    `on_started(unix_time)` is called once, as soon as the load has begun; `stop_when` is asked
    twice a second whether to end the load early (the generators then stop sending and finish
    what they sent). `model` is what OpenAI bodies name (`model_choice.resolve_model`; None: the
    launched stack's). `distributed`: the load comes from workers through a Locust master
    (`scenarios.master`), whose rows arrive in `parts` like a local generator's.
    """
    parts = run_dir / PARTS_DIR
    parts.mkdir()
    open_model = isinstance(chosen.load, OpenLoad)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    generators = _Generators(chosen, host, run_dir, model, environment or {})
    if distributed is not None:
        group, deadline_s = generators.master(distributed)
    else:
        group, deadline_s = generators.local(processes)
    tail = SampleTail(parts)
    started, started_wall = time.monotonic(), time.time()
    load_started_at: float | None = None
    stopped_early: tuple[float, str] | None = None
    try:
        while group.running():
            elapsed = time.monotonic() - started
            if elapsed > deadline_s:
                raise LoadGeneratorError(
                    f"the load generator did not stop within {deadline_s:.0f} s"
                )
            tail.poll(time.time())
            if load_started_at is None:
                load_started_at = _load_started(parts, tail, open_model or bool(distributed))
                if load_started_at is not None and on_started is not None:
                    on_started(load_started_at)
            elif stop_when is not None and stopped_early is None:
                reason = stop_when(tail, load_started_at, time.time())
                if reason is not None:
                    stopped_early = (time.time(), reason)
                    group.interrupt()
            on_progress(
                Progress(
                    elapsed,
                    max(0.0, chosen.duration_s - elapsed),
                    tail.requests,
                    tail.errors,
                    tail.window_p95(),
                )
            )
            time.sleep(0.1 if load_started_at is None else 0.5)
    finally:
        group.stop()
        tail.close()
    group.check()
    wall_s = time.monotonic() - started
    if distributed is not None:
        stats = distributed_stats(parts, open_model, wall_s)
        check_some_worker_ran(stats.workers)
    else:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s = (children.ru_utime - children_before.ru_utime) + (
            children.ru_stime - children_before.ru_stime
        )
        stats = _generator_stats(parts, open_model, processes, cpu_s, wall_s)
    samples = merge_samples(parts, run_dir / "samples.csv")
    responses = read_responses(parts)
    write_notes(responses, run_dir / "responses.jsonl")
    shutil.rmtree(parts)
    return LoadRun(samples, stats, load_started_at or started_wall, stopped_early, responses)


def _load_started(parts: Path, tail: SampleTail, open_model: bool) -> float | None:
    if open_model:
        marks = sorted(parts.glob("started-*"))
        return float(marks[0].read_text()) if marks else None
    return tail.first_start


def read_responses(parts: Path) -> ResponseNotes:
    """The generators' notes on the answers so far (safe mid-run: a line being written is left
    for the next read), merged over their processes."""
    lines: list[str] = []
    for path in sorted(parts.glob("responses-*.jsonl")):
        lines.extend(path.read_text(errors="replace").splitlines())
    return read_notes(lines)


def merge_samples(parts: Path, merged: Path) -> Path:
    """All generators' rows in one file, in order of start time."""
    rows: list[list[str]] = []
    for path in sorted(parts.glob("*.csv")):
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            rows.extend(row for row in reader if len(row) == len(HEADER))
    if not rows:
        raise LoadGeneratorError("the load generator recorded no samples")
    rows.sort(key=lambda row: float(row[0]))
    with merged.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return merged


def _generator_stats(
    parts: Path, open_model: bool, processes: int, cpu_s: float, wall_s: float
) -> GeneratorStats:
    if not open_model:
        return GeneratorStats(
            model="closed",
            processes=processes,
            cpu_s=cpu_s,
            wall_s=wall_s,
            busiest_process_cores=cpu_s / wall_s / processes if wall_s else 0.0,
        )
    summaries = [json.loads(p.read_text()) for p in sorted(parts.glob("generator-*.json"))]
    if len(summaries) != processes:
        raise LoadGeneratorError("a load generator process ended without its summary")
    return GeneratorStats(
        model="open",
        processes=processes,
        cpu_s=sum(s["cpu_s"] for s in summaries),
        wall_s=wall_s,
        busiest_process_cores=max(s["cpu_s"] / s["wall_s"] for s in summaries),
        scheduled=sum(s["scheduled"] for s in summaries),
        sent=sum(s["sent"] for s in summaries),
        missed=sum(s["missed"] for s in summaries),
        unfinished=sum(s["unfinished"] for s in summaries),
    )


def check_some_worker_ran(workers: tuple[WorkerRecord, ...]) -> None:
    """No row from any worker, and a worker said why: that reason, not "no samples"."""
    failed = [w for w in workers if w.error]
    if failed and not any(w.requests for w in workers):
        first = failed[0]
        last_line = (first.error or "").strip().splitlines()[-1][:300]
        raise LoadGeneratorError(
            f"no worker could run its share; worker {first.index} ({first.host}): "
            f"{(first.error or '').splitlines()[0][:200]} ... {last_line}"
        )


def distributed_stats(parts: Path, open_model: bool, wall_s: float) -> GeneratorStats:
    """The generator of a distributed run: its workers, each as the master recorded it."""
    workers = read_workers(parts)
    counted = [w for w in workers if w.scheduled is not None] if open_model else []

    def total(figure: Callable[[WorkerRecord], int | None]) -> int | None:
        return sum(figure(w) or 0 for w in counted) if counted else None

    return GeneratorStats(
        model="open" if open_model else "closed",
        processes=len(workers),
        cpu_s=sum(w.cpu_s for w in workers),
        wall_s=wall_s,
        busiest_process_cores=max((w.cores for w in workers), default=0.0),
        scheduled=total(lambda w: w.scheduled),
        sent=total(lambda w: w.sent),
        missed=total(lambda w: w.missed),
        unfinished=total(lambda w: w.unfinished),
        workers=workers,
    )
