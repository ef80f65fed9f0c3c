"""The `loadgate` command (also `python -m harness`). The only place that prints."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from harness.budgets import load_budgets
from harness.collect import rejudge
from harness.errors import (
    EXIT_BUDGET_BREACHED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    LoadgateError,
    UsageError,
)
from harness.progress import ProgressDisplay
from harness.settings import RunSettings
from reports.render import write_report
from reports.result import ResultFileError, RunResult, load_result
from scenarios.catalog import SCENARIOS, scenario

PROJECT_ROOT = Path(__file__).resolve().parents[1]

EXIT_CODES = """exit codes:
  0    run finished and every budget passed (or no budgets were given)
  1    a budget was breached
  2    bad usage: flags, budgets file, compose file or result file
  3    environment failure: no Docker engine, an image build failed, the stack never became ready
  4    the load generator failed
  130  interrupted (Ctrl-C or SIGTERM); everything started was removed
"""


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C so every context manager tears down."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loadgate",
        description="Load-test and validate an async LLM gateway deployment.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="launch the stack, drive load, write result and report",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "--scenario", default="smoke", choices=sorted(SCENARIOS), help="default: smoke"
    )
    run.add_argument(
        "--budgets", type=Path, metavar="FILE", help="budgets YAML to judge the run by"
    )
    run.add_argument(
        "--compose",
        type=Path,
        default=PROJECT_ROOT / "docker-compose.prod.yml",
        metavar="FILE",
        help="compose file with the services and limits",
    )
    run.add_argument(
        "--output-dir",
        type=Path,
        default=Path("runs"),
        metavar="DIR",
        help="where run directories are written (default: ./runs)",
    )
    run.add_argument(
        "--duration", type=_positive_float, metavar="SECONDS", help="override the load duration"
    )
    run.add_argument(
        "--users", type=_positive_int, metavar="N", help="override the number of users"
    )
    run.add_argument(
        "--rate",
        type=_positive_float,
        metavar="RPS",
        help="override the total target request rate (spread over the users)",
    )
    run.add_argument(
        "--base-image",
        default="python:3.11-slim",
        metavar="IMAGE",
        help="base image for loadgate's images (a Debian stand-in is built if it cannot be had)",
    )
    run.add_argument(
        "--ready-timeout",
        type=_positive_float,
        default=60.0,
        metavar="SECONDS",
        help="how long each service may take to become ready",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no progress display")

    report = commands.add_parser(
        "report", help="re-render the HTML report of a result, without Docker"
    )
    report.add_argument("result", type=Path, help="result.json, or the run directory holding it")
    report.add_argument(
        "--budgets", type=Path, metavar="FILE", help="judge the result against these budgets"
    )

    commands.add_parser("clean", help="remove containers and networks left by crashed runs")
    commands.add_parser("scenarios", help="list the scenarios")
    return parser


def _print_verdict(result: RunResult, report: Path) -> None:
    lat = result.latency
    print(
        f"scenario {result.scenario}: {lat.count:,} requests, {result.throughput_rps:.1f} req/s, "
        f"errors {result.errors.rate * 100:.2f} %"
    )
    print(
        f"latency p50 {lat.p50_ms:.1f} ms, p95 {lat.p95_ms:.1f} ms, p99 {lat.p99_ms:.1f} ms, "
        f"max {lat.max_ms:.1f} ms"
    )
    memory = result.memory
    if memory:
        mib = 1024 * 1024
        print(
            f"gateway memory p50 {memory.p50_bytes / mib:.1f} MiB, "
            f"p95 {memory.p95_bytes / mib:.1f} MiB, max {memory.max_bytes / mib:.1f} MiB "
            f"({memory.samples} samples at {memory.rate_hz:.1f} Hz)"
        )
    for budget in result.budgets:
        mark = {True: "pass", False: "FAIL", None: "n/a "}[budget.passed]
        observed = "unavailable" if budget.observed is None else f"{budget.observed:.4g}"
        print(
            f"  [{mark}] {budget.name}: {observed} (limit {budget.limit:g} {budget.unit})".rstrip()
        )
    print(f"verdict: {result.verdict.upper()}")
    print(f"report: {report}")


def _exit_code(result: RunResult) -> int:
    return EXIT_BUDGET_BREACHED if result.verdict == "fail" else EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from harness import pipeline

    chosen = scenario(args.scenario)
    overrides: dict[str, float | int] = {}
    if args.duration:
        overrides["duration_s"] = args.duration
    if args.users:
        overrides["users"] = args.users
        overrides["spawn_rate"] = args.users
    users = int(overrides.get("users", chosen.users))
    if args.rate:
        overrides["rps_per_user"] = args.rate / users
    settings = RunSettings(
        scenario=dataclasses.replace(chosen, **overrides),  # type: ignore[arg-type]
        project_root=PROJECT_ROOT,
        compose_file=args.compose,
        output_dir=args.output_dir.resolve(),
        budgets_file=args.budgets,
        base_image=args.base_image,
        ready_timeout_s=args.ready_timeout,
        quiet=args.quiet,
    )
    display = ProgressDisplay(quiet=args.quiet)
    outcome = pipeline.run(settings, display)
    _print_verdict(outcome.result, outcome.report)
    return _exit_code(outcome.result)


def _report(args: argparse.Namespace) -> int:
    try:
        result = load_result(args.result)
    except ResultFileError as exc:
        raise UsageError(str(exc)) from exc
    if args.budgets:
        result = rejudge(result, load_budgets(args.budgets))
    run_dir = args.result if args.result.is_dir() else args.result.parent
    report = write_report(result, run_dir)
    _print_verdict(result, report)
    return _exit_code(result)


def _clean(_: argparse.Namespace) -> int:
    from harness.docker import DockerEngine

    engine = DockerEngine.connect()
    try:
        containers, networks = engine.remove_leftovers()
    finally:
        engine.close()
    print(f"removed {containers} container(s) and {networks} network(s) left by loadgate runs")
    return EXIT_OK


def _scenarios(_: argparse.Namespace) -> int:
    for item in SCENARIOS.values():
        print(f"{item.name:<12} {item.description}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    signal.signal(signal.SIGTERM, _on_sigterm)
    handlers = {"run": _run, "report": _report, "clean": _clean, "scenarios": _scenarios}
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        print(
            "\nloadgate: interrupted; everything this run started has been removed", file=sys.stderr
        )
        return EXIT_INTERRUPTED
    except LoadgateError as exc:
        print(f"loadgate: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyError as exc:  # unknown scenario
        print(f"loadgate: {exc.args[0]}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
