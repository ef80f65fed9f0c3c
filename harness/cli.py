"""The `loadgate` command (also `python -m harness`): dispatch, and the only place that prints.

harness/parser.py    the command line, checked as parsed
harness/options.py   options into typed settings (inputs that could hurt checked first)
reports/console.py   what a run or a tune prints (compare: reports/compare_figures.py)
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import FrameType

from harness.compare.command import compare_thresholds, sides, stored_runs
from harness.errors import (
    EXIT_BUDGET_BREACHED,
    EXIT_ENVIRONMENT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    LoadgateError,
    UsageError,
)
from harness.options import run_settings
from harness.parser import PROJECT_ROOT, build_parser
from harness.progress import ProgressDisplay
from harness.verdict.budgets import load_budgets
from harness.verdict.judge import judge
from reports.compare_figures import compare_lines, round_line
from reports.compare_result import COMPARE_FILE, load_compare
from reports.console import run_lines, tune_lines
from reports.outputs import write_compare_outputs, write_run_outputs
from reports.result import ResultFileError, RunResult, load_result
from reports.summary import append_step_summary
from reports.tune_render import write_tune_report
from reports.tune_result import TUNE_FILE, Margins, load_tune
from scenarios.catalog import SCENARIOS, OpenLoad

__all__ = ["build_parser", "main"]


def _say(lines: Iterable[str]) -> None:
    for line in lines:
        print(line)


def _step_summary(directory: Path) -> None:
    """Append the summary.md of `directory` to a CI job's summary ($GITHUB_STEP_SUMMARY)."""
    if warning := append_step_summary(directory, os.environ.get("GITHUB_STEP_SUMMARY")):
        print(f"warning: {warning}", file=sys.stderr)


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C so every context manager tears down."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def _exit_code(result: RunResult) -> int:
    return EXIT_BUDGET_BREACHED if result.verdict == "fail" else EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from harness.run import pipeline

    outcome = pipeline.run(run_settings(args), ProgressDisplay(quiet=args.quiet))
    _say(run_lines(outcome.result, outcome.report))
    _step_summary(outcome.run_dir)
    return _exit_code(outcome.result)


def _tune(args: argparse.Namespace) -> int:
    from harness.tune.search import TuneSettings, tune, tuned_service

    run = run_settings(args)
    settings = TuneSettings(
        run=run,
        service=tuned_service(run),
        max_runs=args.max_runs,
        time_budget_s=args.time_budget,
        cpu_floor=args.cpu_floor,
        margins=Margins(
            cpu_headroom=args.cpu_headroom,
            memory_peak_factor=args.memory_peak_factor,
            memory_p95_factor=args.memory_p95_factor,
        ),
        write=args.write,
    )
    outcome = tune(settings, ProgressDisplay(quiet=args.quiet))
    _say(tune_lines(outcome.result, outcome.report))
    return EXIT_OK if outcome.result.confirmed else EXIT_BUDGET_BREACHED


def _compare(args: argparse.Namespace) -> int:
    from harness.compare.rounds import CompareSettings, compare, compare_stored, finish

    stored = stored_runs(args)
    if stored is not None:
        limits = compare_thresholds(args, None)
        outcome = compare_stored(*stored, args.output_dir.resolve(), limits, seed=args.seed)
    else:
        base, head = sides(args)
        run = run_settings(args)
        settings = CompareSettings(
            run=run,
            base=base,
            head=head,
            thresholds=compare_thresholds(args, run),
            rounds=int(args.rounds),
            seed=args.seed,
        )
        if not base.chosen and not head.chosen:
            print("base and head are the same gateway: an A/A compare (it measures the noise)")

        def round_done(position: int, side: str, result: RunResult) -> None:
            print(round_line(position, 2 * settings.rounds, side, result))

        outcome = compare(settings, ProgressDisplay(quiet=args.quiet), round_done)
    report = finish(outcome)
    _say([*compare_lines(outcome.result), f"report: {report}"])
    _step_summary(outcome.directory)
    return EXIT_BUDGET_BREACHED if outcome.result.verdict == "fail" else EXIT_OK


def _bench(args: argparse.Namespace) -> int:
    if args.generator:
        return _bench_generator(args)
    from harness.bench.run import BenchSettings, format_table, run_bench

    settings = BenchSettings(
        project_root=PROJECT_ROOT,
        compose_file=args.compose,
        output_dir=args.output_dir.resolve(),
        base_image=args.base_image,
        duration_s=args.duration,
    )
    report, directory = run_bench(settings, ProgressDisplay())
    print(format_table(report))
    print(f"results: {directory / 'bench.json'}")
    missed = [target for target, met, _ in report.verdicts if not met]
    return EXIT_BUDGET_BREACHED if args.check and missed else EXIT_OK


def _bench_generator(args: argparse.Namespace) -> int:
    from harness.bench.generator import format_generator_table, run_generator_bench

    bench, directory = run_generator_bench(PROJECT_ROOT, args.output_dir.resolve(), args.duration)
    print(format_generator_table(bench))
    print(f"results: {directory / 'bench-generator.json'}")
    return EXIT_BUDGET_BREACHED if args.check and not bench.met else EXIT_OK


def _report(args: argparse.Namespace) -> int:
    path: Path = args.result
    if (path / TUNE_FILE).exists() or path.name == TUNE_FILE:
        tune_result = load_tune(path)
        directory = path if path.is_dir() else path.parent
        _say(tune_lines(tune_result, write_tune_report(tune_result, directory)))
        return EXIT_OK if tune_result.confirmed else EXIT_BUDGET_BREACHED
    if (path / COMPARE_FILE).exists() or path.name == COMPARE_FILE:
        return _report_compare(path, args.budgets)
    result = load_result(path)
    if args.budgets:
        result = judge(result, load_budgets(args.budgets))
    run_dir = path if path.is_dir() else path.parent
    report = write_run_outputs(result, run_dir)
    _say(run_lines(result, report))
    _step_summary(run_dir)
    return _exit_code(result)


def _report_compare(path: Path, budgets: Path | None) -> int:
    """A stored compare, re-rendered (compare.html, summary.md) and printed as it ended."""
    if budgets is not None:
        raise UsageError("--budgets re-judges a run; a compare keeps the thresholds it ran with")
    result = load_compare(path)
    directory = path if path.is_dir() else path.parent
    report = write_compare_outputs(result, directory)
    _say([*compare_lines(result), f"report: {report}"])
    _step_summary(directory)
    return EXIT_BUDGET_BREACHED if result.verdict == "fail" else EXIT_OK


def _clean(args: argparse.Namespace) -> int:
    from harness.stack.docker import DockerEngine

    engine = DockerEngine.connect()
    try:
        done = engine.remove_leftovers(everything=args.everything)
    finally:
        engine.close()
    print(
        f"removed {done.containers} container(s) and {done.networks} network(s) "
        "left by loadgate runs"
    )
    for reason, count in sorted(done.kept.items()):
        print(f"kept {count} container(s) or network(s): {reason}")
    if done.kept:
        print("`loadgate clean --all` removes them too")
    return EXIT_OK


def _worker(args: argparse.Namespace) -> int:
    """Becomes the worker process (Locust's gevent must not patch a process that has already
    imported the harness): signals then reach Locust's worker directly."""
    host, port = args.master
    command = [sys.executable, "-m", "scenarios.worker", "--master", f"{host}:{port}"]
    if args.target:
        command += ["--target", args.target]
    sys.stdout.flush()
    os.execv(sys.executable, command)  # noqa: S606 - the arguments were parsed and checked
    return EXIT_OK  # not reached: execv replaced this process


def _scenarios(_: argparse.Namespace) -> int:
    for item in SCENARIOS.values():
        model = "open" if isinstance(item.load, OpenLoad) else "closed"
        print(f"{item.name:<17} {model:<7} {item.duration_s:>4.0f}s  {item.description}")
    return EXIT_OK


def _worker_image(args: argparse.Namespace) -> int:
    """Build the worker image from this tree; print its tag and id (progress on stderr)."""
    from harness.stack.docker import DockerEngine
    from harness.stack.images import ImageBuilder

    engine = DockerEngine.connect()
    try:
        builder = ImageBuilder(engine, PROJECT_ROOT, args.base_image, ProgressDisplay().say)
        info = builder.worker_image(args.tag)
    finally:
        engine.close()
    print(f"{info.name} {info.id}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    signal.signal(signal.SIGTERM, _on_sigterm)
    handlers = {
        "run": _run,
        "tune": _tune,
        "bench": _bench,
        "report": _report,
        "compare": _compare,
        "clean": _clean,
        "scenarios": _scenarios,
        "worker": _worker,
        "worker-image": _worker_image,
    }
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
    except ResultFileError as exc:
        print(f"loadgate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # an output file that cannot be written: a full disk, a read-only dir
        where = f": {exc.filename}" if exc.filename else ""
        print(f"loadgate: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_ENVIRONMENT


if __name__ == "__main__":
    sys.exit(main())
