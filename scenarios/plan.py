"""What a run's master tells its workers, and how the work is split and gathered back.

A distributed run (`loadgate run --expect-workers N`, `loadgate worker --master HOST:PORT`) runs
on Locust's master/worker engine: registration, heartbeats, start and stop are Locust's. What
loadgate adds travels as Locust custom messages, checked here on the way in:

- `lg_plan`, master to each worker: the `Plan` (scenario, payload settings, target URL and, for
  the open model, this worker's `OpenShare` of the arrival schedule). Never a credential: each
  worker takes the target's token and headers, and the secret answers are scanned for, from its
  own environment (`scenarios.credentials`).
- `lg_rows`, worker to master: batches of sample rows (`scenarios.samples`), every request's
  own row, so the master's percentiles are computed over every request of every worker.
- `lg_done`, worker to master: the worker's `WorkerSummary` (its CPU, its schedule's counts,
  its notes on the answers).
- `lg_stop`, master to workers: end the open schedule now (the run is stopped early).

A worker obeys only a plan that validates (a hostile or confused master cannot make it send to a
non-HTTP URL, at an absurd rate or for hours), and the master keeps only rows and summaries that
validate (a hostile worker cannot poison the result with text or non-finite numbers).
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from scenarios.arrivals import Stage
from scenarios.catalog import PROTOCOL_USERS, ClosedLoad, OpenLoad, Scenario
from scenarios.samples import HEADER, Row

PLAN = "lg_plan"
ROWS = "lg_rows"
DONE = "lg_done"
STOP = "lg_stop"

WORKERS_FILE = "workers.json"
"""The master's record of its workers, in the run's parts directory."""
REPORT_WAIT_S = 15.0
"""How long stopped workers have to send their last rows and summary."""

MAX_DURATION_S = 24 * 3600.0
MAX_RATE_RPS = 1_000_000.0
MAX_USERS = 100_000
MAX_NOTE_LINES = 200
MAX_NOTE_CHARS = 4096
MAX_COUNT = 10**12
"""A bound on a summary's counts: more sends than a day at `MAX_RATE_RPS` is a lie."""
CLOCK_MARGIN_S = 300.0
"""A row's start may be this far outside the run's window: a closed-model worker stamps its rows
with its own clock, which may be a few minutes off the master's. Further off is not a row of this
run (and a start of 0 or 1e15 would stretch every per-second figure over years)."""
LATENCY_TOLERANCE_MS = 1.0
"""A latency may be this far below 0 (a clock read a hair before the intended time)."""
MAX_WORKER_RPS = 20_000
"""Rows per second of the run a closed-model worker may send at most: several times what one
Locust process on one core completes, so only a flood reaches it."""
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpenPlan(_Strict):
    kind: Literal["open"] = "open"
    stages: tuple[
        tuple[
            Annotated[float, Field(gt=0, le=MAX_DURATION_S)],
            Annotated[float, Field(ge=0, le=MAX_RATE_RPS)],
        ],
        ...,
    ] = Field(min_length=1, max_length=1000)
    """(duration s, rate req/s) of each stage of the whole schedule, all workers together."""
    arrival: Literal["uniform", "poisson"] = "uniform"
    max_in_flight: int = Field(ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _bounded_schedule(self) -> OpenPlan:
        if sum(duration for duration, _ in self.stages) > MAX_DURATION_S:
            raise ValueError(f"the stages last longer than {MAX_DURATION_S:g} s together")
        return self

    @property
    def sends(self) -> float:
        """The sends of the whole schedule, all workers together."""
        return sum(duration * rate for duration, rate in self.stages)


class ClosedPlan(_Strict):
    kind: Literal["closed"] = "closed"
    user_class: Literal["InferUser", "ChatUser"]
    users: int = Field(ge=1, le=MAX_USERS)
    spawn_rate: float = Field(gt=0, le=MAX_USERS)
    rps_per_user: float = Field(ge=0, le=MAX_RATE_RPS)


class OpenShare(_Strict):
    """Worker `index` of `of`: its interleaved part of the schedule, from the shared origin."""

    index: int = Field(ge=0)
    of: int = Field(ge=1, le=10_000)
    max_in_flight: int = Field(ge=1, le=1_000_000)
    start_at: float | None = Field(default=None, gt=0)
    """Unix time the schedule starts, the same for every worker (None: when the process does)."""

    @model_validator(mode="after")
    def _index_within(self) -> OpenShare:
        if self.index >= self.of:
            raise ValueError(f"share {self.index} of {self.of} does not exist")
        return self


class Plan(_Strict):
    url: str = Field(max_length=2048)
    protocol: Literal["infer", "openai"]
    model: str | None = Field(default=None, max_length=256)
    prompts: Literal["varied", "repeated"] = "varied"
    stream: bool = False
    timeout_s: float = Field(gt=0, le=600)
    seed: int = Field(ge=0, le=2**31)
    duration_s: float = Field(gt=0, le=MAX_DURATION_S)
    workers: int = Field(ge=1, le=10_000)
    load: OpenPlan | ClosedPlan = Field(discriminator="kind")
    share: OpenShare | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        return checked_url(url)

    @field_validator("model")
    @classmethod
    def _printable_model(cls, model: str | None) -> str | None:
        if model is not None and not _PRINTABLE.match(model):
            raise ValueError("the model name must be printable ASCII")
        return model

    @property
    def stages(self) -> list[Stage]:
        assert isinstance(self.load, OpenPlan)
        return [Stage(duration, rate) for duration, rate in self.load.stages]

    def runnable(self) -> str | None:
        """Why a worker cannot run this plan as its own (None: it can): an open plan needs this
        worker's share of the schedule, among the plan's workers."""
        if isinstance(self.load, OpenPlan) and self.share is None:
            return "an open plan without this worker's share"
        if self.share is not None and self.share.of != self.workers:
            return f"a share of {self.share.of} workers in a plan for {self.workers}"
        return None

    def row_window(self, started_at: float) -> tuple[float, float]:
        """The starts a row of this run, whose load began at `started_at`, can have."""
        end = started_at + self.duration_s + self.timeout_s + REPORT_WAIT_S
        return started_at - CLOCK_MARGIN_S, end + CLOCK_MARGIN_S

    def max_rows(self) -> int:
        """The rows one worker may send: its share of the open schedule (with room for Poisson
        arrivals), or `MAX_WORKER_RPS` over the closed run; more is a flood, not a load."""
        if isinstance(self.load, OpenPlan):
            return math.ceil(1.2 * self.load.sends / self.workers) + 1000
        return math.ceil((self.duration_s + self.timeout_s + REPORT_WAIT_S) * MAX_WORKER_RPS)


def checked_url(url: str) -> str:
    """An http(s) URL with a host and nothing that could smuggle another request in."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host: {url[:200]!r}")
    if not _PRINTABLE.match(url) or " " in url:
        raise ValueError("the URL must be printable ASCII without spaces")
    return url


def host_port(text: str) -> tuple[str, int]:
    """HOST:PORT (an IPv6 host in brackets), as `--master-bind`, `--master` and the master's
    `--bind` take it; an argparse type (its error is the option's one line)."""
    host, _, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    digits = port.isascii() and port.isdigit()
    if not host or not digits or not 0 < int(port) < 65536 or not host.isprintable():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host, int(port)


def url_argument(text: str) -> str:
    """`checked_url` as an argparse type (a worker's `--target`)."""
    try:
        return checked_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def plan_for(
    scenario: Scenario, url: str, workers: int, model: str | None, timeout_s: float
) -> Plan:
    """The plan of `scenario` against `url`, for `workers` workers (before their shares),
    each request given `timeout_s` seconds."""
    load = scenario.load
    plan_load: OpenPlan | ClosedPlan
    if isinstance(load, OpenLoad):
        plan_load = OpenPlan(
            stages=tuple((s.duration_s, s.rate_rps) for s in load.stages),
            arrival=load.arrival,
            max_in_flight=load.max_in_flight,
        )
    else:
        assert isinstance(load, ClosedLoad)
        plan_load = ClosedPlan(
            user_class=PROTOCOL_USERS[scenario.protocol],
            users=load.users,
            spawn_rate=load.spawn_rate,
            rps_per_user=load.rps_per_user,
        )
    return Plan(
        url=url,
        protocol=scenario.protocol,
        model=model if scenario.protocol == "openai" else None,
        prompts=scenario.prompts,
        stream=scenario.stream,
        timeout_s=timeout_s,
        seed=1,
        duration_s=scenario.duration_s,
        workers=workers,
        load=plan_load,
    )


def open_shares(workers: int, max_in_flight: int, start_at: float | None = None) -> list[OpenShare]:
    """Worker i of n takes every n-th send of the schedule (`arrivals.intended_offsets`) and a
    part of `max_in_flight`; the parts add up to the whole (at least one each)."""
    base, extra = divmod(max_in_flight, workers)
    return [
        OpenShare(
            index=index,
            of=workers,
            max_in_flight=max(1, base + (1 if index < extra else 0)),
            start_at=start_at,
        )
        for index in range(workers)
    ]


def open_model_arguments(
    plan: Plan, url: str, share: OpenShare, files: dict[str, str]
) -> list[str]:
    """The arguments of `python -m scenarios.openmodel` that run `share` of `plan` against `url`,
    writing `files` (samples, summary, started). The one place both the local processes and the
    workers get their command line from."""
    assert isinstance(plan.load, OpenPlan)
    stages = ",".join(f"{duration:g}:{rate:g}" for duration, rate in plan.load.stages)
    arguments = [
        "--url", url,
        "--protocol", plan.protocol,
        *(["--model", plan.model] if plan.protocol == "openai" and plan.model else []),
        "--stages", stages,
        "--arrival", plan.load.arrival,
        "--prompts", plan.prompts,
        "--max-in-flight", str(share.max_in_flight),
        "--timeout", f"{plan.timeout_s:g}",
        "--seed", str(plan.seed),
        "--index", str(share.index),
        "--of", str(share.of),
        "--samples", files["samples"],
        "--summary", files["summary"],
        "--started", files["started"],
    ]  # fmt: skip
    if share.start_at is not None:
        arguments += ["--start-at", f"{share.start_at:.6f}"]
    if plan.stream:
        arguments.append("--stream")
    return arguments


class WorkerSummary(_Strict):
    """What a worker reports when its part of the run is over."""

    host: str = Field(max_length=255)
    cpu_s: float = Field(ge=0, le=1e7)
    """CPU its load cost: the generator process's own for open load, the Locust worker's for
    closed load."""
    wall_s: float = Field(ge=0, le=1e7)
    scheduled: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    sent: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    missed: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    unfinished: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    notes: tuple[Annotated[str, Field(max_length=MAX_NOTE_CHARS)], ...] = Field(
        default=(), max_length=MAX_NOTE_LINES
    )
    """Its lines of `responses.jsonl` (`scenarios.inspection`): first failures, token hits."""
    error: str | None = Field(default=None, max_length=2000)
    """Why its load could not run (the generator failed), when it could not."""

    @field_validator("host")
    @classmethod
    def _printable_host(cls, host: str) -> str:
        if not _PRINTABLE.match(host):
            raise ValueError("the host name must be printable ASCII")
        return host


def checked_summary(data: Any) -> WorkerSummary | None:
    """A worker's summary, or None when what it sent is not one."""
    try:
        return WorkerSummary.model_validate(data)
    except ValidationError:
        return None


def _number(text: str, low: float, high: float, optional: bool = False) -> bool:
    """`text` is a number within [low, high] (or empty, when `optional`)."""
    if optional and text == "":
        return True
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and low <= value <= high


def _whole(value: Any) -> int | None:
    """A non-negative whole number, as an int or as its digits (a row read back from a file)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 15:
        return int(value)
    return None


def checked_row(values: Sequence[Any], window: tuple[float, float] = (0.0, math.inf)) -> Row | None:
    """A sample row as a worker sent it, or None when it is not one (wrong shape, text where a
    number belongs, a number that is not finite or is negative, unprintable names, a start
    outside `window` or a latency longer than it: `Plan.row_window`)."""
    if not isinstance(values, list | tuple) or len(values) != len(HEADER):
        return None
    start, latency, name, status, error, size, lag, ttft, tokens = values
    strings = (start, latency, name, error, lag, ttft, tokens)
    if not all(isinstance(v, str) and len(v) <= 128 for v in strings):
        return None
    status, size = _whole(status), _whole(size)
    if status is None or size is None or status >= 1000:
        return None
    longest_ms = (window[1] - window[0]) * 1000
    if not (
        _number(start, *window)
        and _number(latency, -LATENCY_TOLERANCE_MS, longest_ms)
        and _number(lag, 0, longest_ms, optional=True)
        and _number(ttft, 0, longest_ms, optional=True)
    ):
        return None
    if not (_PRINTABLE.match(name) and _PRINTABLE.match(error) and "," not in name + error):
        return None
    if tokens and not (tokens.isascii() and tokens.isdigit()):
        return None
    return (start, latency, name, status, error, size, lag, ttft, tokens)
