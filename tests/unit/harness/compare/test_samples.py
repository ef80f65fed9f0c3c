"""A run directory read back as a round, and crafted ones refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.compare.samples import read_round
from reports.result import ResultFileError
from tests.unit.harness.compare.conftest import MakeRun


def test_a_round_holds_every_request_and_the_per_round_figures(make_run: MakeRun) -> None:
    """Latencies and failures per request; throughput, memory p95 and CPU per request."""
    run = make_run("r1", [10.0, 20.0, 30.0, 40.0], failed=[False, True, False, False])
    samples = read_round(run)
    assert samples.latencies.tolist() == [10.0, 20.0, 30.0, 40.0]
    assert samples.failed.tolist() == [False, True, False, False]
    assert samples.throughput_rps == 60.0
    assert samples.memory_p95_bytes == 60 * 1024 * 1024
    # 0.2 cores x 15 s / 4 requests = 750 ms of CPU per request
    assert samples.cpu_ms_per_request == pytest.approx(750.0)


def test_without_the_achieved_rate_the_headline_throughput_is_used(make_run: MakeRun) -> None:
    """A run that did not measure `achieved_rps` still has a throughput."""
    assert read_round(make_run("r1", [5.0], achieved_rps=None)).throughput_rps == 39.5


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "/etc/passwd", ".hidden", "", "sub/samples.csv"],
    ids=["parent", "absolute", "hidden", "empty", "nested"],
)
def test_a_samples_name_that_leaves_the_directory_is_refused(make_run: MakeRun, name: str) -> None:
    """A crafted result cannot make the compare read a file outside its run directory."""
    run = make_run("r1", [5.0])
    data = json.loads((run / "result.json").read_text())
    data["files"]["samples"] = name
    (run / "result.json").write_text(json.dumps(data))
    with pytest.raises(ResultFileError, match="names no samples file"):
        read_round(run)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("start,latency_ms,error\n1,nan,\n", "not a finite number"),
        ("start,latency_ms,error\n1,inf,\n", "not a finite number"),
        ("start,error\n1,\n", "no latency_ms column"),
        ('start,latency_ms,error\n1,"unclosed\n', "not a loadgate samples file"),
    ],
    ids=["nan", "inf", "no-column", "broken-csv"],
)
def test_a_crafted_samples_file_is_refused(make_run: MakeRun, content: str, message: str) -> None:
    """Latencies that are not finite, or a file that is not CSV, are one line."""
    run = make_run("r1", [5.0])
    (run / "samples.csv").write_text(content)
    with pytest.raises(ResultFileError, match=message):
        read_round(run)


def test_a_missing_samples_file_is_named(make_run: MakeRun) -> None:
    """A run directory whose samples were deleted says which file is missing."""
    run = make_run("r1", [5.0])
    (run / "samples.csv").unlink()
    with pytest.raises(ResultFileError, match=r"samples file samples\.csv is missing"):
        read_round(run)


def test_a_directory_without_a_result_is_refused(tmp_path: Path) -> None:
    """Not a run directory: the loader's own message."""
    with pytest.raises(ResultFileError, match="cannot read result file"):
        read_round(tmp_path)


def test_latencies_are_floats_even_when_written_as_integers(make_run: MakeRun) -> None:
    """Whole-millisecond latencies are read as numbers the statistics can use."""
    samples = read_round(make_run("r1", np.array([1, 2, 3])))
    assert samples.latencies.dtype == np.float64
