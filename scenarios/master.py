"""The master of a distributed run: `python -m scenarios.master --plan FILE --bind HOST:PORT ...`.

The harness starts it instead of local generators when a run expects workers
(`loadgate run --expect-workers N --master-bind HOST:PORT`). It is a Locust master: the workers
register with it, and their heartbeats, start and stop are Locust's. It waits (bounded) for the
workers, sends each the plan (`scenarios.plan`: the open model's schedule split into shares, or
the closed model's users, which Locust itself spreads over the workers), starts the load, and
writes the rows each worker sends into a samples file of that worker's own in the parts
directory, which the harness tails and merges as it does the local generators' (so percentiles
of the run come from every request). It ends the load at its time, when the harness interrupts
it (SIGINT or SIGTERM), or at once when a worker is lost (no heartbeat, or it quit before
reporting): the run would no longer be the load it claims. `workers.json` then records each
worker (host, share, rows, its CPU, its schedule's counts, lost or not) and, when the run could
not start, why.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gevent
import zmq
from locust.env import Environment
from locust.rpc.protocol import Message
from locust.runners import STATE_MISSING, MasterRunner
from zmq import green

from scenarios.plan import (
    DONE,
    PLAN,
    REPORT_WAIT_S,
    ROWS,
    STOP,
    WORKERS_FILE,
    ClosedPlan,
    Plan,
    WorkerSummary,
    checked_row,
    checked_summary,
    host_port,
    open_shares,
)
from scenarios.samples import SampleWriter
from scenarios.users import ChatUser, InferUser

log = logging.getLogger("loadgate.master")

MAX_MESSAGE_BYTES = 32 * 1024 * 1024
"""A peer that sends a bigger message is disconnected by ZeroMQ before it is read (a batch of
`scenarios.worker.BATCH_ROWS` rows is well under 1 MiB)."""
START_MARGIN_S = 1.5
"""The open schedule starts this long after the plans go out, so every worker starts on time."""
STOP_TIMEOUT_S = 5
WATCH_EVERY_S = 0.2


@dataclass
class WorkerState:
    """One worker as the master saw it."""

    index: int
    client_id: str
    host: str
    share: str
    rows: int = 0
    rejected_rows: int = 0
    summary: dict[str, Any] | None = None
    lost_after_s: float | None = None
    """Seconds into the load when it was lost (no heartbeat, or it left before reporting)."""


@dataclass
class Outcome:
    expected: int
    joined: int
    failure: str | None = None
    workers: list[WorkerState] = field(default_factory=list)


class Master:
    def __init__(self, runner: MasterRunner, plan: Plan, parts: Path) -> None:
        self._runner = runner
        self._plan = plan
        self._parts = parts
        self._workers: dict[str, WorkerState] = {}
        self._writers: dict[str, SampleWriter] = {}
        self._max_rows = plan.max_rows()
        self._interrupted = False
        self._load_started = 0.0
        self._window = (0.0, 0.0)
        """The starts a row may have (`Plan.row_window`), once the load started."""
        self._enrolled: frozenset[str] | None = None
        runner.register_message(ROWS, self.on_rows)
        runner.register_message(DONE, self.on_done)
        runner.handle_message = self._gate(runner.handle_message)  # type: ignore[method-assign,assignment]

    def _gate(self, handle: Callable[[str, Message], None]) -> Callable[[str, Message], None]:
        """Locust believes the node id a message claims; the gate holds it to the connection's
        own, and once the workers are enrolled, hears no one else: a late or extra worker is
        told to quit (Locust would otherwise hand it users the run never counts)."""

        def gate(client_id: str, msg: Message) -> None:
            if msg.node_id != client_id:
                return
            if self._enrolled is None or client_id in self._enrolled:
                handle(client_id, msg)
            elif msg.type == "client_ready":
                log.warning("a worker joined after the run's workers were enrolled: told to quit")
                self._runner.send_message("quit", None, client_id=client_id)

        return gate

    def interrupt(self) -> None:
        """SIGINT from the harness: end the load now, keep what was sent."""
        self._interrupted = True

    def on_rows(self, environment: Environment, msg: Any, **_: Any) -> None:
        worker = self._workers.get(msg.node_id)
        rows = msg.data.get("rows") if isinstance(msg.data, dict) else None
        if worker is None or worker.summary is not None or not isinstance(rows, list):
            return
        writer = self._writers[msg.node_id]
        for values in rows:
            row = checked_row(values, self._window) if worker.rows < self._max_rows else None
            if row is None:
                worker.rejected_rows += 1
                continue
            worker.rows += 1
            writer.add(row)
        writer.flush()

    def on_done(self, environment: Environment, msg: Any, **_: Any) -> None:
        worker = self._workers.get(msg.node_id)
        summary = checked_summary(msg.data)
        if worker is None or worker.summary is not None:
            return
        if summary is None:
            summary = WorkerSummary(host=worker.host, cpu_s=0, wall_s=0, error="bad summary")
        worker.summary = summary.model_dump()
        notes = self._parts / f"responses-w{worker.index}.jsonl"
        notes.write_text("".join(line + "\n" for line in summary.notes))

    def run(self, expected: int, join_timeout_s: float) -> Outcome:
        joined = self._await_workers(expected, join_timeout_s)
        outcome = Outcome(expected=expected, joined=len(joined))
        if self._interrupted:
            outcome.failure = f"interrupted while waiting for workers ({len(joined)} of {expected})"
            return outcome
        if len(joined) < expected:
            outcome.failure = (
                f"only {len(joined)} of {expected} workers joined within {join_timeout_s:g} s"
            )
            return outcome
        self._enrol(joined)
        if isinstance(self._plan.load, ClosedPlan):
            self._run_closed(self._plan.load)
        else:
            self._run_open()
        self._mark_unreported()
        outcome.workers = sorted(self._workers.values(), key=lambda w: w.index)
        for writer in self._writers.values():
            writer.close()
        return outcome

    def _await_workers(self, expected: int, timeout_s: float) -> list[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self._interrupted:
            ready = [c.id for c in self._runner.clients.ready]
            if len(ready) >= expected:
                return ready[:expected]
            gevent.sleep(0.2)
        return [c.id for c in self._runner.clients.ready][:expected]

    def _enrol(self, joined: list[str]) -> None:
        self._enrolled = frozenset(joined)
        shares = open_shares(len(joined), self._open_max_in_flight(), None)
        for index, client_id in enumerate(joined):
            host = _printable(client_id.rsplit("_", 1)[0])[:255] or "unknown"
            share = (
                "users: none yet"
                if isinstance(self._plan.load, ClosedPlan)
                else f"send {index + 1} of every {len(joined)}, "
                f"{shares[index].max_in_flight} in flight at most"
            )
            self._workers[client_id] = WorkerState(index, client_id, host, share)
            self._writers[client_id] = SampleWriter(self._parts / f"samples-w{index}.csv")

    def _open_max_in_flight(self) -> int:
        load = self._plan.load
        return 1 if isinstance(load, ClosedPlan) else load.max_in_flight

    def _mark_started(self, at: float) -> None:
        self._load_started = at
        self._window = self._plan.row_window(at)
        (self._parts / "started-master").write_text(f"{at:.6f}")

    def _run_closed(self, load: ClosedPlan) -> None:
        for client_id in self._workers:
            self._runner.send_message(PLAN, self._plan.model_dump(), client_id=client_id)
        self._mark_started(time.time())
        self._runner.start(load.users, load.spawn_rate)
        deadline = time.monotonic() + self._plan.duration_s
        while time.monotonic() < deadline and not self._interrupted and not self._lost():
            self._note_users()
            gevent.sleep(WATCH_EVERY_S)
        self._runner.stop()
        self._await_reports()

    def _run_open(self) -> None:
        start_at = time.time() + START_MARGIN_S
        shares = open_shares(len(self._workers), self._open_max_in_flight(), start_at)
        for worker in self._workers.values():
            plan = self._plan.model_copy(update={"share": shares[worker.index]})
            self._runner.send_message(PLAN, plan.model_dump(), client_id=worker.client_id)
        self._mark_started(start_at)
        deadline = start_at + self._plan.duration_s + self._plan.timeout_s + REPORT_WAIT_S
        stopping = False
        while time.time() < deadline and not self._all_reported():
            if not stopping and (self._interrupted or self._lost()):
                stopping = True
                self._runner.send_message(STOP, None)
            gevent.sleep(WATCH_EVERY_S)
        self._lost()

    def _note_users(self) -> None:
        """A closed load's share of each worker: the users Locust gave it (it spreads them)."""
        for client_id, worker in self._workers.items():
            node = self._runner.clients.get(client_id)
            if node is not None and node.user_classes_count:
                worker.share = f"{sum(node.user_classes_count.values())} users"

    def _lost(self) -> bool:
        """Marks the workers gone before they reported (missed heartbeats, or they quit)."""
        now = time.time()
        for client_id, worker in self._workers.items():
            if worker.summary is not None or worker.lost_after_s is not None:
                continue
            node = self._runner.clients.get(client_id)
            if node is None or node.state == STATE_MISSING:
                worker.lost_after_s = round(max(0.0, now - self._load_started), 3)
                log.error("worker %s (%s) lost", worker.index, worker.host)
        return any(w.lost_after_s is not None for w in self._workers.values())

    def _mark_unreported(self) -> None:
        """A worker still connected but silent at the end (its generator hung, or it is not
        one of ours) failed its share: the run is not the load it claims either."""
        for worker in self._workers.values():
            if worker.summary is None and worker.lost_after_s is None:
                log.error("worker %s (%s) sent no summary", worker.index, worker.host)
                error = "it sent no summary by the end of the run"
                worker.summary = WorkerSummary(
                    host=worker.host, cpu_s=0, wall_s=0, error=error
                ).model_dump()

    def _all_reported(self) -> bool:
        return all(
            w.summary is not None or w.lost_after_s is not None for w in self._workers.values()
        )

    def release(self) -> None:
        """Every enrolled worker is told to quit (Locust's own message): one that stopped its
        users is no longer among the runner's clients, and would otherwise wait out the
        master's heartbeat timeout."""
        for client_id in self._workers:
            self._runner.send_message("quit", None, client_id=client_id)

    def _await_reports(self) -> None:
        deadline = time.monotonic() + REPORT_WAIT_S
        while time.monotonic() < deadline and not self._all_reported():
            self._lost()
            gevent.sleep(WATCH_EVERY_S)
        self._lost()


def _listen(environment: Environment, host: str, port: int) -> MasterRunner:
    """Locust's master runner, its socket created with `MAX_MESSAGE_BYTES` (ZeroMQ copies a
    listener's options when it binds, which Locust does as it creates the runner: the option
    is the default of the context Locust's `zmq.green` socket comes from, for that moment only)."""
    base = green.Context

    class LimitedContext(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)

    green.Context = LimitedContext  # type: ignore[misc]
    try:
        return environment.create_master_runner(host, port)
    finally:
        green.Context = base  # type: ignore[misc]


def _printable(text: str) -> str:
    """`text` without what a terminal or a report would interpret (the client id is the peer's
    choice)."""
    return "".join(c for c in text if " " <= c <= "~")


def write_outcome(outcome: Outcome, path: Path) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(outcome), indent=2))
    os.replace(temporary, path)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m scenarios.master", description=__doc__)
    p.add_argument("--plan", type=Path, required=True, help="the plan, as JSON")
    p.add_argument("--bind", type=host_port, required=True, help="HOST:PORT workers connect to")
    p.add_argument("--expect-workers", type=int, required=True)
    p.add_argument("--workers-timeout", type=float, required=True, help="seconds to join")
    p.add_argument("--parts", type=Path, required=True, help="directory of the run's parts")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s master %(levelname)s %(message)s")
    plan = Plan.model_validate_json(args.plan.read_text())
    user_class = plan.load.user_class if isinstance(plan.load, ClosedPlan) else "InferUser"
    users = {"InferUser": InferUser, "ChatUser": ChatUser}[user_class]
    environment = Environment(user_classes=[users], stop_timeout=STOP_TIMEOUT_S)
    host, port = args.bind
    try:
        runner = _listen(environment, host, port)
    except Exception as exc:  # noqa: BLE001 - Locust raises zmq's errors as they are
        print(f"cannot listen for workers on {host}:{port}: {exc}", file=sys.stderr)
        return 3
    master = Master(runner, plan, args.parts)
    gevent.signal_handler(signal.SIGINT, master.interrupt)
    gevent.signal_handler(signal.SIGTERM, master.interrupt)
    outcome = master.run(args.expect_workers, args.workers_timeout)
    write_outcome(outcome, args.parts / WORKERS_FILE)
    master.release()
    runner.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
