"""Every file a run leaves for people and CI beside `result.json`, written in one call.

The pipeline (after a run) and `loadgate report` (re-judging a stored result) both call
`write_run_outputs`, so a re-rendered run has the same files as a fresh one.
"""

from __future__ import annotations

from pathlib import Path

from reports.junit import write_junit
from reports.render import write_report
from reports.result import RunResult
from reports.summary import run_summary, write_summary


def write_run_outputs(result: RunResult, run_dir: Path) -> Path:
    """Write report.html, junit.xml and summary.md into `run_dir`; return the report's path."""
    write_junit(result, run_dir)
    write_summary(run_summary(result), run_dir)
    return write_report(result, run_dir)
