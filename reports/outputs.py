"""Every file a run leaves for people and CI beside `result.json`, written in one call.

The pipeline (after a run) and `loadgate report` (re-judging a stored result) both call
`write_run_outputs`, so a re-rendered run has the same files as a fresh one; a compare and
`loadgate report` of a compare directory both call `write_compare_outputs`.
"""

from __future__ import annotations

from pathlib import Path

from reports.compare_render import write_compare_report
from reports.compare_result import CompareResult
from reports.junit import write_junit
from reports.render import write_report
from reports.result import RunResult
from reports.summary import compare_summary, run_summary, write_summary


def write_run_outputs(result: RunResult, run_dir: Path) -> Path:
    """Write report.html, junit.xml and summary.md into `run_dir`; return the report's path."""
    write_junit(result, run_dir)
    write_summary(run_summary(result), run_dir)
    return write_report(result, run_dir)


def write_compare_outputs(result: CompareResult, directory: Path) -> Path:
    """Write compare.html, junit.xml and summary.md into `directory`; return the report's
    path."""
    write_junit(result, directory)
    write_summary(compare_summary(result), directory)
    return write_compare_report(result, directory)
