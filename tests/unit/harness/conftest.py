"""Helpers shared by the harness's unit tests."""

from __future__ import annotations

import pytest

from harness.cli import main


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`loadgate ARGS` in-process: (exit code, stdout, stderr), argparse's exits included."""
    try:
        code = main(args)
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
