"""`loadgate report` of a stored compare: re-rendered and printed as it ended, without Docker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.unit.reports.fixtures import sample_compare

if TYPE_CHECKING:
    from tests.unit.harness.conftest import Cli


@pytest.mark.parametrize(("regressed", "code"), [(True, 1), (False, 0)], ids=["fail", "pass"])
def test_a_stored_compare_is_rendered_again(
    tmp_path: Path, cli: Cli, regressed: bool, code: int
) -> None:
    """compare.html and summary.md are written, the table printed, the exit code its verdict's."""
    sample_compare(regressed=regressed).save(tmp_path)
    exit_code, out, err = cli(["report", str(tmp_path)])
    assert exit_code == code, err
    assert (tmp_path / "compare.html").read_text().startswith("<!doctype html>")
    assert "| Metric | Base | Head |" in (tmp_path / "summary.md").read_text()
    assert out.splitlines()[-2].startswith("verdict: " + ("FAIL" if regressed else "PASS"))


def test_a_crafted_compare_file_is_one_line(tmp_path: Path, cli: Cli) -> None:
    """A compare.json whose round names a path is refused by the loader, exit 2."""
    data = json.loads(sample_compare().model_dump_json())
    data["rounds"][0]["run_id"] = "../../etc"
    (tmp_path / "compare.json").write_text(json.dumps(data))
    exit_code, _, err = cli(["report", str(tmp_path / "compare.json")])
    assert exit_code == 2
    assert "is not a loadgate compare (rounds.0.run_id" in err


def test_a_compare_is_not_re_judged_with_budgets(tmp_path: Path, cli: Cli) -> None:
    """--budgets applies to a run; for a compare it is refused rather than ignored."""
    sample_compare().save(tmp_path)
    (tmp_path / "budgets.yml").write_text("latency_p95_ms: 100\n")
    exit_code, _, err = cli(["report", str(tmp_path), "--budgets", str(tmp_path / "budgets.yml")])
    assert exit_code == 2
    assert "a compare keeps the thresholds it ran with" in err
