"""A worker of a distributed run: `loadgate worker --master HOST:PORT` (this module's `main`).

It is a Locust worker: it registers with the master, keeps its heartbeat and obeys its start and
stop, all Locust's own. The master then sends the plan (`scenarios.plan`); a closed plan runs as
Locust users here (the master's start and stop spawn and stop them), an open plan runs this
worker's share of the arrival schedule with loadgate's open-model generator, as a child process
(asyncio, kept apart from this process's gevent). Either way every request's sample row goes to
the master in batches (`lg_rows`) and, at the end, the worker's summary (`lg_done`).

The target's credentials come from this process's own environment only (`LOADGATE_TARGET_TOKEN`,
`LOADGATE_TARGET_HEADERS`, `LOADGATE_SCAN_SECRET`): nothing secret travels between master and
workers. `--target` overrides the plan's URL with the address of the target as this machine sees
it. A worker joins one run and exits when the master ends it (or after Locust's own timeouts when
the master is gone).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gevent
from locust import argument_parser
from locust.env import Environment
from locust.runners import WorkerRunner

from scenarios.inspection import redacted_tail, responses_path
from scenarios.plan import (
    DONE,
    MAX_NOTE_LINES,
    PLAN,
    ROWS,
    STOP,
    ClosedPlan,
    Plan,
    WorkerSummary,
    host_port,
    open_model_arguments,
    url_argument,
)
from scenarios.recorder import SampleRecorder
from scenarios.samples import Row, RowReader
from scenarios.users import ChatUser, InferUser

log = logging.getLogger("loadgate.worker")

SHIP_EVERY_S = 0.5
BATCH_ROWS = 5000
"""Rows per `lg_rows` message at most (a message stays well under a few hundred kB)."""
HOST_NAME_MAX = 255
GENERATOR_STOP_S = 10.0
"""How long a generator stopped as its worker leaves has to finish what it sent."""
LOG_TAIL_CHARS = 1500


class MasterSink:
    """The recorder's rows, sent to the master in batches (`lg_rows`) when flushed."""

    def __init__(self, runner: WorkerRunner) -> None:
        self._runner = runner
        self._rows: list[list[Any]] = []

    def add(self, sample: Row) -> None:
        self._rows.append(list(sample))

    def extend(self, rows: list[list[str]]) -> None:
        self._rows.extend(rows)

    def flush(self) -> None:
        while self._rows:
            batch, self._rows = self._rows[:BATCH_ROWS], self._rows[BATCH_ROWS:]
            self._runner.send_message(ROWS, {"rows": batch})

    def close(self) -> None:
        self.flush()


def _process_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _host_name() -> str:
    name = socket.gethostname()
    return "".join(c for c in name if 32 <= ord(c) < 127)[:HOST_NAME_MAX] or "unknown"


def _notes(path: Path) -> tuple[str, ...]:
    if not path.is_file():
        return ()
    lines = path.read_text(errors="replace").splitlines()
    return tuple(line for line in lines[:MAX_NOTE_LINES] if line)


class WorkerAgent:
    """Runs the plan the master sends, ships the rows, reports when done."""

    def __init__(self, environment: Environment, runner: WorkerRunner, target: str | None) -> None:
        self._environment = environment
        self._runner = runner
        self._target = target
        self._directory = Path(tempfile.mkdtemp(prefix="loadgate-worker-"))
        self._recorder: SampleRecorder | None = None
        self._generator: subprocess.Popen[bytes] | None = None
        self._started = (0.0, 0.0)
        self._done = False
        self._planned = False
        runner.register_message(PLAN, self.on_plan)
        runner.register_message(STOP, self.on_stop)
        environment.events.test_stop.add_listener(self.on_test_stop)

    def on_plan(self, environment: Environment, msg: Any, **_: Any) -> None:
        if self._planned:
            log.error("the master sent a second plan; ignored: this worker runs one plan")
            return
        self._planned = True
        try:
            plan = Plan.model_validate(msg.data)
            why = plan.runnable()
        except ValueError as exc:
            why = str(exc)
        if why is not None:
            log.error("the master sent a plan that is not one; ignored: %s", why[:500])
            self._report(WorkerSummary(host=_host_name(), cpu_s=0, wall_s=0, error="bad plan"))
            return
        url = self._target or plan.url
        log.info("plan received: %s load on %s", plan.load.kind, url)
        self._started = (time.monotonic(), _process_cpu_s())
        if isinstance(plan.load, ClosedPlan):
            self._prepare_users(plan, plan.load, url)
        else:
            gevent.spawn(self._run_share, plan, url)

    def _prepare_users(self, plan: Plan, load: ClosedPlan, url: str) -> None:
        """Locust's spawn message follows: the users it starts find their settings here."""
        options = self._environment.parsed_options
        assert options is not None
        options.lg_rps_per_user = load.rps_per_user
        options.lg_model = plan.model or ""
        options.num_users = load.users
        options.expect_workers = plan.workers
        for user_class in self._environment.user_classes:
            user_class.host = url
        samples = self._directory / "samples.csv"
        self._recorder = SampleRecorder(self._environment, samples, MasterSink(self._runner))

    def on_test_stop(self, **_: Any) -> None:
        """Closed load: the users have stopped; the last rows and the summary go out before
        Locust tells the master this worker stopped."""
        if self._recorder is None or self._done:
            return
        self._recorder.close()
        wall_started, cpu_started = self._started
        self._report(
            WorkerSummary(
                host=_host_name(),
                cpu_s=_process_cpu_s() - cpu_started,
                wall_s=time.monotonic() - wall_started,
                notes=_notes(responses_path(self._directory / "samples.csv")),
            )
        )

    def _run_share(self, plan: Plan, url: str) -> None:
        """Open load: this worker's share of the schedule, by the open-model generator."""
        assert plan.share is not None
        files = {
            name: str(self._directory / file)
            for name, file in (("samples", "samples.csv"), ("summary", "summary.json"))
        }
        files["started"] = str(self._directory / "started")
        command = [sys.executable, "-m", "scenarios.openmodel"]
        command += open_model_arguments(plan, url, plan.share, files)
        log_path = self._directory / "generator.log"
        with log_path.open("wb") as log_file:
            self._generator = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
        sink = MasterSink(self._runner)
        reader: RowReader | None = None
        samples = Path(files["samples"])
        while True:
            running = self._generator.poll() is None
            if reader is None and samples.is_file():
                reader = RowReader(samples)
            if reader is not None:
                sink.extend(reader.read())
                sink.flush()
            if not running:
                break
            gevent.sleep(SHIP_EVERY_S)
        if reader is not None:
            reader.close()
        self._report(self._share_summary(Path(files["summary"]), log_path, samples))

    def _share_summary(self, summary_file: Path, log_path: Path, samples: Path) -> WorkerSummary:
        assert self._generator is not None
        wall_started, _ = self._started
        notes = _notes(responses_path(samples))
        if self._generator.returncode != 0 or not summary_file.is_file():
            tail = redacted_tail(log_path, LOG_TAIL_CHARS)
            error = f"the generator exited with code {self._generator.returncode}: {tail}"
            return WorkerSummary(
                host=_host_name(),
                cpu_s=0,
                wall_s=time.monotonic() - wall_started,
                notes=notes,
                error=error[:2000],
            )
        data = json.loads(summary_file.read_text())
        return WorkerSummary(
            host=_host_name(),
            cpu_s=float(data["cpu_s"]),
            wall_s=float(data["wall_s"]),
            scheduled=int(data["scheduled"]),
            sent=int(data["sent"]),
            missed=int(data["missed"]),
            unfinished=int(data["unfinished"]),
            notes=notes,
        )

    def on_stop(self, **_: Any) -> None:
        """The master stopped the run early: the generator stops sending, finishes what it sent."""
        if self._generator is not None and self._generator.poll() is None:
            self._generator.send_signal(signal.SIGINT)

    def close(self) -> None:
        """This worker is leaving (the master ended it, or went silent past Locust's heartbeat
        timeout): a generator still running its share is stopped, not left behind to load the
        target for the rest of its schedule."""
        if self._generator is None or self._generator.poll() is not None:
            return
        self._generator.send_signal(signal.SIGINT)
        try:
            self._generator.wait(timeout=GENERATOR_STOP_S)
        except subprocess.TimeoutExpired:
            self._generator.kill()
            self._generator.wait()

    def _report(self, summary: WorkerSummary) -> None:
        self._done = True
        self._runner.send_message(DONE, summary.model_dump())


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="loadgate worker", description=__doc__.split("\n\n")[0])
    p.add_argument("--master", type=host_port, required=True, help="HOST:PORT of the run")
    p.add_argument("--target", type=url_argument, help="the target's URL as this machine sees it")
    return p


def _options() -> argparse.Namespace:
    """Locust's own defaults, which its worker runner reads, plus loadgate's (set by the plan)."""
    defaults = argument_parser.get_empty_argument_parser()
    argument_parser.setup_parser_arguments(defaults)
    options: argparse.Namespace = defaults.parse_args(args=[])
    options.lg_rps_per_user = 0.0
    options.lg_model = ""
    options.lg_samples = ""
    return options


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    host, port = args.master
    environment = Environment(user_classes=[InferUser, ChatUser], parsed_options=_options())
    try:
        runner = environment.create_worker_runner(host, port)
    except ConnectionError:
        print(f"loadgate worker: no master answered at {host}:{port}", file=sys.stderr)
        return 3
    agent = WorkerAgent(environment, runner, args.target)

    def leave() -> None:
        """SIGTERM: the generator stops, the master hears this worker quit (it counts it lost)."""
        agent.on_stop()
        environment.events.quitting.fire(environment=environment, reverse=True)
        runner.quit()

    gevent.signal_handler(signal.SIGTERM, leave)
    try:
        runner.greenlet.join()
    finally:
        agent.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
