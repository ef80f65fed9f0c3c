"""`loadgate compare`'s options: each mistake is one line and exit 2, before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.unit.harness.compare.conftest import MakeRun

if TYPE_CHECKING:
    from tests.unit.harness.conftest import Cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--base-image", "a", "--base-build", "b"],
            "--base-image and --base-build are alternatives",
        ),
        (
            ["--base-build", "a", "--base-ref", "main"],
            "--base-build and --base-ref are alternatives",
        ),
        (
            ["--head-image", "a", "--head-build", "b"],
            "--head-image and --head-build are alternatives",
        ),
        (["--base-ref=--output=x"], "--base-ref is not a git ref"),
        (["--base-ref", "main; id"], "--base-ref is not a git ref"),
        (["--rounds", "21"], "at most 20 rounds per side"),
        (["--head-env", "NO_VALUE"], "--head-env item 1 is not NAME=VALUE"),
        (["run-a"], "two stored run directories"),
        (["a", "b", "c"], "not 3"),
    ],
    ids=[
        "two-base-sides",
        "build-and-ref",
        "two-head-sides",
        "ref-option",
        "ref-shell",
        "too-many-rounds",
        "bad-env",
        "one-run",
        "three-runs",
    ],
)
def test_bad_compare_options_are_one_line(args: list[str], message: str, cli: Cli) -> None:
    """Each mistake names the flag, exits 2, prints no traceback."""
    code, _, err = cli(["compare", *args])
    assert code == 2
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize("value", ["0", "-1", "x"], ids=["zero", "negative", "not-a-number"])
def test_rounds_must_be_a_positive_whole_number(value: str, cli: Cli) -> None:
    """--rounds is checked by the parser."""
    code, _, err = cli(["compare", "--rounds", value])
    assert code == 2
    assert "--rounds" in err


def test_stored_runs_take_no_side_flags(make_run: MakeRun, cli: Cli) -> None:
    """Two stored runs are compared as they are: a flag that would make a side is refused."""
    a, b = make_run("a", [1.0]), make_run("b", [1.0])
    code, _, err = cli(["compare", str(a), str(b), "--head-image", "x"])
    assert code == 2
    assert "--head-image: nothing is run when two stored runs are compared" in err


def test_a_stored_run_that_is_not_a_directory_is_named(
    tmp_path: Path, make_run: MakeRun, cli: Cli
) -> None:
    """RUN_A RUN_B must be directories."""
    code, _, err = cli(["compare", str(make_run("a", [1.0])), str(tmp_path / "nope")])
    assert code == 2
    assert "is not a run directory" in err


def test_stored_runs_of_different_scenarios_do_not_compare(
    tmp_path: Path, make_run: MakeRun, cli: Cli
) -> None:
    """A steady run against a smoke run is refused: their figures mean different things."""
    a = make_run("a", [1.0, 2.0])
    b = make_run("b", [1.0, 2.0], scenario="steady")
    code, _, err = cli(["compare", str(a), str(b), "--output-dir", str(tmp_path / "out")])
    assert code == 2
    assert "only runs of one scenario compare" in err
