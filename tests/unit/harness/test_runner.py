"""Following Locust's sample file while it runs."""

from __future__ import annotations

from pathlib import Path

from harness.runner import LoadPlan, SampleTail, locust_command

HEADER = "start,latency_ms,name,status,error,bytes\n"


def test_tail_counts_rows_as_they_are_appended(tmp_path: Path) -> None:
    """Rows are counted once, partial lines wait for their end, errors are counted."""
    path = tmp_path / "samples.csv"
    tail = SampleTail(path)
    tail.poll(now=100.0)
    assert tail.requests == 0  # no file yet
    path.write_text(
        HEADER + "99.0,10.0,/v1/infer,200,,5\n99.1,30.0,/v1/infer,502,http_502,5\n99.2,20"
    )
    tail.poll(now=100.0)
    assert (tail.requests, tail.errors) == (2, 1)
    with path.open("a") as handle:
        handle.write(".0,/v1/infer,200,,5\n")
    tail.poll(now=100.0)
    assert (tail.requests, tail.errors) == (3, 1)
    assert tail.window_p95() == 30.0
    tail.poll(now=200.0)
    assert tail.window_p95() is None  # everything fell out of the 5 s window
    tail.close()


def test_locust_is_bounded_and_records_samples(tmp_path: Path) -> None:
    """The command is headless, time-bounded, and points the recorder at the run directory."""
    plan = LoadPlan("InferUser", users=4, spawn_rate=4, duration_s=12.4, rps_per_user=2.5)
    command = locust_command(plan, "http://127.0.0.1:9", tmp_path / "s.csv")
    joined = " ".join(command)
    assert "--headless" in command and "--run-time 12s" in joined and "--stop-timeout 5" in joined
    assert f"--lg-samples {tmp_path / 's.csv'}" in joined and "--lg-rps-per-user 2.5" in joined
    assert command[command.index("-f") + 2] == "InferUser"
