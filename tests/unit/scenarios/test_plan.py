"""The plan a master sends its workers: shares that add up to the whole schedule, and messages
checked on the way in (a hostile master or worker cannot smuggle anything through)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from scenarios.arrivals import Stage, intended_offsets
from scenarios.catalog import SCENARIOS, adjusted
from scenarios.plan import (
    MAX_WORKER_RPS,
    REPORT_WAIT_S,
    OpenPlan,
    Plan,
    checked_row,
    checked_summary,
    open_model_arguments,
    open_shares,
    plan_for,
)
from scenarios.samples import row


def _plan(**changes: Any) -> dict[str, Any]:
    plan = plan_for(SCENARIOS["spike"], "http://gateway:8000", 3, None, 30.0).model_dump()
    plan.update(changes)
    return plan


@pytest.mark.parametrize("workers", [1, 2, 3, 7], ids=["one", "two", "three", "seven"])
def test_shares_of_the_schedule_add_up_to_the_whole_schedule(workers: int) -> None:
    """Every send of the schedule is some worker's, exactly once, at its own time."""
    stages = [Stage(2, 100), Stage(1, 250), Stage(2, 30)]
    whole = list(intended_offsets(stages))
    shares = open_shares(workers, 100, start_at=1_000.0)
    parts = sorted(
        t for share in shares for t in intended_offsets(stages, share=(share.index, share.of))
    )
    assert len(parts) == len(whole)
    assert all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(parts, whole, strict=True))


def test_connections_are_split_without_losing_any() -> None:
    """max_in_flight is shared out whole (the first workers take the remainder), one at least."""
    assert [s.max_in_flight for s in open_shares(3, 1024)] == [342, 341, 341]
    assert [s.max_in_flight for s in open_shares(4, 2)] == [1, 1, 1, 1]
    assert {s.start_at for s in open_shares(3, 10, start_at=5.0)} == {5.0}


def test_a_workers_command_line_runs_its_share_from_the_shared_origin() -> None:
    """The generator of worker 1 of 3 gets its index, the whole stages and the origin."""
    plan = Plan.model_validate(_plan())
    share = open_shares(3, 1024, start_at=1_800_000_000.5)[1]
    files = {"samples": "s.csv", "summary": "g.json", "started": "st"}
    arguments = open_model_arguments(plan, "http://10.0.0.9:8000", share, files)
    joined = " ".join(arguments)
    assert "--url http://10.0.0.9:8000" in joined
    assert "--index 1 --of 3" in joined and "--max-in-flight 341" in joined
    assert "--stages 15:100,10:800,20:100" in joined
    assert "--start-at 1800000000.500000" in joined


def test_a_closed_plan_carries_the_users_and_their_pace() -> None:
    """A closed scenario's plan names the user class, the users and their rate."""
    chosen = adjusted(SCENARIOS["steady"], protocol="openai")
    plan = plan_for(chosen, "http://127.0.0.1:8000", 2, "gpt-x", 30.0)
    assert plan.load.kind == "closed"
    assert plan.load.model_dump() == {
        "kind": "closed",
        "user_class": "ChatUser",
        "users": 12,
        "spawn_rate": 12.0,
        "rps_per_user": 5.0,
    }
    assert plan.model == "gpt-x"


@pytest.mark.parametrize(
    "changes",
    [
        {"url": "file:///etc/passwd"},
        {"url": "http://"},
        {"url": "http://gw:8000/\r\nX-Injected: 1"},
        {"model": "gpt\x1b[31m"},
        {"timeout_s": 1e9},
        {"duration_s": -1},
        {"workers": 0},
        {"token": "secret"},
        {"load": {"kind": "open", "stages": [[10, 1e12]], "max_in_flight": 1}},
        {"load": {"kind": "open", "stages": [], "max_in_flight": 1}},
        {"load": {"kind": "closed", "user_class": "os.system", "users": 1, "spawn_rate": 1,
                  "rps_per_user": 1}},
    ],
    ids=[
        "file-url", "no-host", "header-injection", "escape-in-model", "huge-timeout",
        "negative-duration", "no-workers", "extra-field", "absurd-rate", "no-stages",
        "unknown-user-class",
    ],
)  # fmt: skip
def test_a_worker_refuses_a_plan_that_is_not_one(changes: dict[str, Any]) -> None:
    """Whatever a master sends, a worker runs only a plan within bounds, to an http(s) URL."""
    with pytest.raises(ValidationError):
        Plan.model_validate(_plan(**changes))


def test_a_row_sent_by_a_worker_is_kept_as_written() -> None:
    """A row as the recorder makes it, or as read back from a generator's file, is accepted."""
    made = row(1_800_000_000.25, 41.5, "/v1/infer", 200, "", 512, 0.3)
    assert checked_row(list(made)) == made
    as_read = [str(v) for v in made]
    assert checked_row(as_read) == made


@pytest.mark.parametrize(
    "values",
    [
        ["1.0", "nan", "/v1/infer", 200, "", 10, "", "", ""],
        ["1.0", "inf", "/v1/infer", 200, "", 10, "", "", ""],
        ["1.0", "2.0", "/v1/infer", "²", "", 10, "", "", ""],
        ["1.0", "2.0", "/v1/infer", 200, "", -5, "", "", ""],
        ["1.0", "2.0", "/v1/infer", 200, "", 10, "", ""],
        ["1.0", "2.0", "<script>\x00", 200, "", 10, "", "", ""],
        ["1.0", "2.0", "/v1/infer", 200, "", 10, "", "", "7x"],
        ["1.0", "2.0", "/v1/infer", True, "", 10, "", "", ""],
        "1.0,2.0,/v1/infer,200,,10,,,",
    ],
    ids=[
        "nan", "infinite", "unicode-digit", "negative-size", "short", "control-character",
        "tokens-not-a-number", "boolean-status", "a-string",
    ],
)  # fmt: skip
def test_a_row_that_is_not_a_sample_is_refused(values: Any) -> None:
    """Text where a number belongs, non-finite numbers, wrong shapes: dropped, never merged."""
    assert checked_row(values) is None


def test_a_summary_is_checked_before_it_is_recorded() -> None:
    """A worker's summary with impossible figures or an unprintable host is not one."""
    good = {"host": "worker-1", "cpu_s": 1.5, "wall_s": 10.0, "notes": ['{"kind":"scanned"}']}
    summary = checked_summary(good)
    assert summary is not None and summary.host == "worker-1"
    assert checked_summary({**good, "cpu_s": -1}) is None
    assert checked_summary({**good, "host": "w\x1b]0;x\x07"}) is None
    assert checked_summary({**good, "notes": ["x"] * 10_000}) is None
    assert checked_summary("not a mapping") is None


WINDOW = Plan.model_validate(_plan()).row_window(1_800_000_000.0)


@pytest.mark.parametrize(
    ("start", "latency", "lag"),
    [
        ("0", "2.0", ""),
        ("1e15", "2.0", ""),
        ("1799999000.0", "2.0", ""),
        ("1800001000.0", "2.0", ""),
        ("1800000001.0", "-50.0", ""),
        ("1800000001.0", "1e12", ""),
        ("1800000001.0", "2.0", "-3.0"),
    ],
    ids=[
        "start-zero", "start-far-future", "start-before-window", "start-after-window",
        "negative-latency", "latency-longer-than-the-run", "negative-lag",
    ],
)  # fmt: skip
def test_a_row_outside_the_runs_window_is_refused(start: str, latency: str, lag: str) -> None:
    """Starts far from the run (which would stretch every per-second figure over years) and
    negative or impossible durations are not rows of this run."""
    assert checked_row([start, latency, "/v1/infer", 200, "", 10, lag, "", ""], WINDOW) is None


def test_a_row_within_the_window_and_a_skewed_clock_is_kept() -> None:
    """A worker whose clock is a minute off the master's still has its rows counted."""
    for start in (1_800_000_000.5, 1_800_000_000.0 - 60, 1_800_000_000.0 + 200):
        made = row(start, 41.5, "/v1/infer", 200, "", 512, 0.3)
        assert checked_row(list(made), WINDOW) == made


def test_a_worker_may_send_its_share_of_rows_and_not_a_flood() -> None:
    """Open load: about its share of the schedule's sends; closed: a rate no Locust process
    reaches."""
    plan = Plan.model_validate(_plan())
    assert isinstance(plan.load, OpenPlan)
    assert plan.load.sends / 3 < plan.max_rows() < 1.3 * plan.load.sends / 3 + 1000
    closed = plan_for(SCENARIOS["steady"], "http://gateway:8000", 2, None, 30.0)
    assert closed.max_rows() == (closed.duration_s + 30.0 + REPORT_WAIT_S) * MAX_WORKER_RPS


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({}, "an open plan without this worker's share"),
        ({"share": {"index": 0, "of": 5, "max_in_flight": 1}}, "a share of 5 workers"),
    ],
    ids=["open-without-share", "share-of-other-workers"],
)
def test_a_plan_a_worker_cannot_run_as_its_own_says_why(changes: dict[str, Any], why: str) -> None:
    """A plan that validates but gives this worker no share of its own is refused, with why."""
    reason = Plan.model_validate(_plan(**changes)).runnable()
    assert reason is not None and reason.startswith(why)
    share = {"index": 2, "of": 3, "max_in_flight": 1, "start_at": 1e9}
    assert Plan.model_validate(_plan(share=share)).runnable() is None


@pytest.mark.parametrize(
    "changes",
    [
        {"share": {"index": 3, "of": 3, "max_in_flight": 1}},
        {"load": {"kind": "open", "stages": [[86_400, 1]] * 2, "max_in_flight": 1}},
        {"load": {"kind": "open", "stages": [[1, 1]] * 1001, "max_in_flight": 1}},
    ],
    ids=["share-beyond-the-workers", "stages-longer-than-a-day", "thousands-of-stages"],
)
def test_a_plan_beyond_its_bounds_is_refused(changes: dict[str, Any]) -> None:
    """A share no worker has, or a schedule that lasts days together, is not a plan."""
    with pytest.raises(ValidationError):
        Plan.model_validate(_plan(**changes))


def test_a_summary_with_counts_beyond_any_run_is_refused() -> None:
    """A worker claiming more sends than a day at the maximum rate is lying."""
    assert checked_summary({"host": "w", "cpu_s": 1, "wall_s": 1, "scheduled": 10**15}) is None
