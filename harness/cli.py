"""The `loadgate` command (also `python -m harness`). The only place that prints."""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

import httpx
from pydantic import SecretStr

from harness.compare.command import (
    add_compare_options,
    compare_thresholds,
    sides,
    stored_runs,
)
from harness.errors import (
    EXIT_BUDGET_BREACHED,
    EXIT_ENVIRONMENT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    LoadgateError,
    UsageError,
)
from harness.failfast import FAILED_FAST_PREFIX, printable
from harness.judge import judge, load_budgets
from harness.models import valid_model_name
from harness.progress import ProgressDisplay
from harness.settings import ExternalTarget, RunSettings
from harness.units import UnitError, parse_duration
from harness.wiring import parse_gateway_environment
from reports.compare_figures import compare_lines, round_line
from reports.figures import number
from reports.outputs import write_run_outputs
from reports.result import MIB, ResultFileError, RunResult, load_result
from reports.summary import append_step_summary
from reports.tune_render import write_tune_report
from reports.tune_result import TUNE_FILE, Margins, TuneResult, load_tune
from scenarios.catalog import PROTOCOL_USERS, SCENARIOS, OpenLoad, adjusted, scenario

PROJECT_ROOT = Path(__file__).resolve().parents[1]

EXIT_CODES = """exit codes:
  0    run finished and every budget and check passed (or --no-budgets and the integrity
       checks passed)
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


def _checked(
    parse: Callable[[str], float], accept: Callable[[float], bool], what: str, requirement: str
) -> Callable[[str], float]:
    """An argparse type: `parse` the text, refuse what `accept` rejects, in one clear message."""

    def convert(text: str) -> float:
        try:
            value = parse(text)
        except UnitError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if not accept(value):
            raise argparse.ArgumentTypeError(f"{text!r} {requirement}")
        return value

    return convert


_positive_float = _checked(float, lambda v: v > 0, "a number", "must be greater than 0")
_non_negative_float = _checked(float, lambda v: v >= 0, "a number", "must not be negative")
_positive_int = _checked(int, lambda v: v > 0, "a whole number", "must be greater than 0")
_port = _checked(int, lambda v: 0 < v < 65536, "a port number", "is not a port (1-65535)")
_duration = _checked(parse_duration, lambda v: v > 0, "a duration", "must be longer than 0")


def _model_name(text: str) -> str:
    if not valid_model_name(text):
        raise argparse.ArgumentTypeError("is not printable ASCII of 1 to 256 characters")
    return text


def _add_load_options(
    parser: argparse.ArgumentParser,
    default_scenario: str,
    default_budgets: Path | None,
    build_base_flag: str = "--base-image",
) -> None:
    """The options `run` and `tune` share: what load, against which deployment, judged how."""
    add = parser.add_argument
    add(
        "--scenario",
        default=default_scenario,
        choices=sorted(SCENARIOS),
        help=f"default: {default_scenario}",
    )
    add(
        "--budgets",
        type=Path,
        default=default_budgets,
        metavar="FILE",
        help="budgets YAML to judge each run by"
        + (
            f" (default: {default_budgets.relative_to(PROJECT_ROOT)})"
            if default_budgets
            else " (default: budgets/<scenario>.yml, else budgets/default.yml)"
        ),
    )
    add(
        "--compose",
        type=Path,
        default=PROJECT_ROOT / "docker-compose.prod.yml",
        metavar="FILE",
        help="compose file with the services and limits",
    )
    add(
        "--output-dir",
        type=Path,
        default=Path("runs"),
        metavar="DIR",
        help="where run directories are written (default: ./runs)",
    )
    add(
        "--duration", type=_duration, metavar="DURATION", help="override the load duration (15, 2m)"
    )
    add("--users", type=_positive_int, metavar="N", help="override the number of users")
    add(
        "--rate",
        type=_positive_float,
        metavar="RPS",
        help="override the total target request rate (spread over the users)",
    )
    add(
        build_base_flag,
        dest="base_image",
        default="python:3.11-slim",
        metavar="IMAGE",
        help="base image for loadgate's images (a Debian stand-in is built if it cannot be had)",
    )
    add(
        "--ready-timeout",
        type=_positive_float,
        default=60.0,
        metavar="SECONDS",
        help="how long each service may take to become ready",
    )
    add("-q", "--quiet", action="store_true", help="no progress display")
    add(
        "--protocol",
        choices=sorted(PROTOCOL_USERS),
        help="the contract to drive: infer (POST /v1/infer) or openai (POST /v1/chat/completions);"
        " default: the scenario's",
    )
    add(
        "--model",
        type=_model_name,
        metavar="NAME",
        help="with --protocol openai: the model every body names (default: the one the target's"
        " GET /v1/models lists, or the mock provider's); ignored with --protocol infer",
    )
    add("--stream", action="store_true", help="with --protocol openai: streamed answers (SSE)")
    add(
        "--processes",
        type=_positive_int,
        default=1,
        metavar="N",
        help="load generator processes (closed model: Locust master + N workers)",
    )


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "--target",
        metavar="URL",
        help="drive this running deployment instead of launching the stack "
        "(no container measurements)",
    )
    add(
        "--token-env",
        metavar="NAME",
        help="environment variable holding the target's bearer token (never printed or stored)",
    )
    add(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="extra request header for the target (repeatable)",
    )
    add(
        "--gateway-image",
        metavar="IMAGE",
        help="launch this image as the gateway (compose limits and environment still apply)",
    )
    add(
        "--gateway-build",
        type=Path,
        metavar="DIR",
        help="build the gateway from DIR with its own Dockerfile, then launch it the same way",
    )
    _add_launch_options(parser)


def _add_launch_options(parser: argparse.ArgumentParser) -> None:
    """How the gateway loadgate launches is wired: its port, its variables, its services."""
    add = parser.add_argument
    add("--ready-path", default="/ready", metavar="PATH", help="the gateway's readiness probe")
    add(
        "--gateway-port",
        type=_port,
        metavar="PORT",
        help="the port the gateway serves on in its container (default: the compose service's "
        "published port, else the image's one EXPOSEd port, else 8000)",
    )
    add(
        "--gateway-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a variable of the gateway (repeatable); VALUE may hold {upstream_url}, "
        "{provider_token} and {redis_url}, e.g. LLM_API_BASE={upstream_url}",
    )
    add(
        "--gateway-service",
        metavar="NAME",
        help="the compose service that is the gateway "
        "(default: the one built from a Dockerfile or publishing a port)",
    )
    add(
        "--redis-service",
        metavar="NAME",
        help="the compose service that is Redis (default: the one running a Redis image)",
    )


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""An HTTP field name (RFC 9110 token)."""
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")
"""What an environment variable's name looks like, so it may be printed (a token would not)."""


def _unsafe_character(text: str) -> str:
    """What is wrong with a header value or token: a control or non-ASCII character, or ''."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text if ch != "\t"):
        return "holds a control character (a trailing newline?)"
    if not text.isascii():
        return "holds a non-ASCII character"
    return ""


def _target_url(text: str) -> str:
    """--target, checked; no message repeats it, for a URL may carry a secret."""
    if _unsafe_character(text) or any(ch.isspace() for ch in text):
        raise UsageError("--target holds whitespace, a control or a non-ASCII character")
    if "?" in text or "#" in text:
        raise UsageError(
            "--target must not carry a query string or a fragment (they may hold secrets and "
            "would be sent as part of every request path): use --token-env or --header"
        )
    try:
        url = httpx.URL(text)
        port = url.port
    except httpx.InvalidURL as exc:
        raise UsageError("--target is not a valid URL: its host or port cannot be read") from exc
    if url.scheme not in ("http", "https") or "://" not in text:
        raise UsageError("--target is not an http(s) URL: it must start with http:// or https://")
    if url.userinfo:
        raise UsageError("--target must not carry credentials: use --token-env")
    if not url.host:
        raise UsageError("--target is not an http(s) URL: it has no host")
    if port is not None and not 0 < port < 65536:
        raise UsageError("--target has a port outside 1-65535")
    return str(url).rstrip("/")


def _token(variable: str) -> SecretStr:
    """The bearer token from the environment variable `variable`, checked."""
    name = variable if _ENV_NAME.fullmatch(variable) else "given"
    value = os.environ.get(variable)
    if not value:
        raise UsageError(f"--token-env: environment variable {name} is not set")
    problem = _unsafe_character(value) or ("holds a tab" if "\t" in value else "")
    if problem:
        raise UsageError(f"--token-env: the token in environment variable {name} {problem}")
    return SecretStr(value)


def _headers(given: list[str]) -> dict[str, str]:
    """--header 'Name: value' options; a message names the header only when its name parses."""
    headers = {}
    for header in given:
        name, sep, value = header.partition(":")
        name = name.strip()
        if not sep:
            raise UsageError("--header is not 'Name: value': it has no colon")
        if not _HEADER_NAME.fullmatch(name):
            raise UsageError("--header is not 'Name: value': the name is not a valid header name")
        problem = _unsafe_character(value)
        if problem:
            raise UsageError(f"--header {name}: the value {problem}")
        headers[name] = value.strip()
    return headers


def _external_target(args: argparse.Namespace) -> ExternalTarget | None:
    """The --target options, checked: one clear usage error for each mistake, no secret in it."""
    if args.gateway_image and args.gateway_build:
        raise UsageError("--gateway-image and --gateway-build are alternatives: give one")
    if args.target is None:
        if args.token_env or args.header:
            raise UsageError("--token-env and --header apply to --target only")
        return None
    launch_flags = {
        "--gateway-image": args.gateway_image,
        "--gateway-build": args.gateway_build,
        "--gateway-port": args.gateway_port,
        "--gateway-env": args.gateway_env,
        "--gateway-service": args.gateway_service,
        "--redis-service": args.redis_service,
    }
    given = [flag for flag, value in launch_flags.items() if value]
    if given:
        raise UsageError(
            f"--target drives a running deployment: it launches no gateway ({', '.join(given)} "
            "apply to a gateway loadgate launches)"
        )
    url = _target_url(args.target)
    token = _token(args.token_env) if args.token_env else None
    return ExternalTarget(url=url, token=token, headers=_headers(args.header))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loadgate",
        description="Load-test and validate an async LLM gateway deployment.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    formatter = argparse.RawDescriptionHelpFormatter

    run = commands.add_parser(
        "run",
        help="launch the stack, drive load, write result and report",
        epilog=EXIT_CODES,
        formatter_class=formatter,
    )
    _add_load_options(run, default_scenario="smoke", default_budgets=None)
    run.add_argument(
        "--no-budgets",
        action="store_true",
        help="do not judge the run against budgets (only the integrity checks: a leaked token, "
        "an OOM kill, a generator that could not keep up); the verdict line says so",
    )
    _add_target_options(run)

    tune = commands.add_parser(
        "tune",
        help="find the smallest compose limits that meet the budgets, and write them back",
        epilog=EXIT_CODES,
        formatter_class=formatter,
    )
    _add_load_options(
        tune, default_scenario="steady", default_budgets=PROJECT_ROOT / "budgets" / "default.yml"
    )
    add = tune.add_argument
    add(
        "--max-runs",
        type=_positive_int,
        default=8,
        metavar="N",
        help="most runs in all, confirmation included (default 8)",
    )
    add(
        "--time-budget",
        type=_duration,
        default=900.0,
        metavar="DURATION",
        help="most time for the search, e.g. 600 or 10m (default 15m)",
    )
    add(
        "--cpu-floor",
        type=_positive_float,
        default=0.1,
        metavar="CORES",
        help="lowest CPU limit the search tries (default 0.1)",
    )
    add(
        "--cpu-headroom",
        type=_non_negative_float,
        default=0.2,
        metavar="FRACTION",
        help="added to the smallest passing CPU limit (default 0.2)",
    )
    add(
        "--memory-peak-factor",
        type=_positive_float,
        default=1.15,
        metavar="X",
        help="memory limit >= peak working set x this (default 1.15)",
    )
    add(
        "--memory-p95-factor",
        type=_positive_float,
        default=1.2,
        metavar="X",
        help="memory limit >= p95 working set x this (default 1.2)",
    )
    add("--write", action="store_true", help="write the confirmed limits into the compose file")

    compare = commands.add_parser(
        "compare",
        help="run the same load against a base and a head gateway, alternately, and judge the "
        "difference with confidence intervals (exit 1 when something regressed)",
        epilog=EXIT_CODES,
        formatter_class=formatter,
    )
    _add_load_options(
        compare, default_scenario="steady", default_budgets=None, build_base_flag="--build-base"
    )
    compare.add_argument(
        "--no-budgets",
        action="store_true",
        help="do not judge each round against budgets (only the integrity checks)",
    )
    _add_launch_options(compare)
    add_compare_options(compare, _positive_int)

    bench = commands.add_parser(
        "bench", help="measure the gateway's hot path against the mock alone and naive gateways"
    )
    bench.add_argument(
        "--compose",
        type=Path,
        default=PROJECT_ROOT / "docker-compose.prod.yml",
        metavar="FILE",
        help="compose file the gateway's settings come from",
    )
    bench.add_argument("--output-dir", type=Path, default=Path("runs"), metavar="DIR")
    bench.add_argument(
        "--duration",
        type=_duration,
        default=5.0,
        metavar="DURATION",
        help="each measurement's length (default 5 s)",
    )
    bench.add_argument("--base-image", default="python:3.11-slim", metavar="IMAGE")
    bench.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    bench.add_argument(
        "--generator",
        action="store_true",
        help="benchmark loadgate's open-model generator instead (no Docker needed)",
    )

    report = commands.add_parser(
        "report", help="re-render the report of a run or a tune from its files, without Docker"
    )
    report.add_argument(
        "result", type=Path, help="result.json or tune.json, or the directory holding it"
    )
    report.add_argument(
        "--budgets", type=Path, metavar="FILE", help="judge a run's result against these budgets"
    )

    clean = commands.add_parser(
        "clean",
        help="remove containers and networks left by crashed runs (runs still going are spared)",
    )
    clean.add_argument(
        "--all",
        action="store_true",
        dest="everything",
        help="remove every loadgate container and network, those of live runs included",
    )
    commands.add_parser("scenarios", help="list the scenarios")
    return parser


def _print_verdict(result: RunResult, report: Path) -> None:
    lat = result.latency
    figures = result.findings.figures
    offered = figures.get("offered_rps")
    served = "" if offered is None else f" (offered {offered:.1f} req/s)"
    print(
        f"scenario {result.scenario}: {lat.count:,} requests, {result.throughput_rps:.1f} req/s"
        f"{served}, errors {result.errors.rate * 100:.2f} %"
    )
    print(
        f"latency p50 {lat.p50_ms:.1f} ms, p95 {lat.p95_ms:.1f} ms, p99 {lat.p99_ms:.1f} ms, "
        f"max {lat.max_ms:.1f} ms"
    )
    service = result.service_latency
    if service is not None:
        print(
            f"  (from each request's intended send time; from its actual send, as a closed loop "
            f"alone would report: p50 {service.p50_ms:.1f}, p95 {service.p95_ms:.1f}, "
            f"p99 {service.p99_ms:.1f} ms)"
        )
    memory = result.memory
    if memory:
        print(
            f"gateway memory p50 {memory.p50_bytes / MIB:.1f} MiB, "
            f"p95 {memory.p95_bytes / MIB:.1f} MiB, max {memory.max_bytes / MIB:.1f} MiB "
            f"({memory.samples} samples at {memory.rate_hz:.1f} Hz)"
        )
    _print_probes_and_scan(result)
    for step in result.findings.steps:
        mark = {True: " pass", False: " FAIL", None: ""}[step.passed]
        p95 = "-" if step.p95_ms is None else f"{step.p95_ms:.1f}"
        print(
            f"  {step.name:<28} {step.throughput_rps:7.1f} req/s  p95 {p95:>7} ms  "
            f"errors {step.error_rate * 100:5.2f} %{mark}"
        )
    if figures:
        shown = ", ".join(
            f"{name} {'n/a' if value is None else number(value)}" for name, value in figures.items()
        )
        print(f"found: {shown}")
    for note in result.findings.notes:
        print(f"note: {printable(note)}")
    for budget in result.budgets:
        mark = {True: "pass", False: "FAIL", None: "n/a "}[budget.passed]
        observed = "unavailable" if budget.observed is None else number(budget.observed)
        limit = number(budget.limit)
        print(f"  [{mark}] {budget.name}: {observed} (limit {limit} {budget.unit})".rstrip())
    print(f"verdict: {_verdict_line(result)}")
    print(f"report: {report}")


def _print_probes_and_scan(result: RunResult) -> None:
    readiness = result.readiness
    if readiness is not None:
        first = f"; first: {readiness.first_failure}" if readiness.first_failure else ""
        print(
            f"readiness GET {readiness.path}: {readiness.failures} of {readiness.probes} probes "
            f"failed (timeout {readiness.timeout_s:g} s){first}"
        )
    scan = result.responses
    if scan is not None and scan.token_hits:
        where = ", ".join(sorted({f"{h.route} {h.status} ({h.where})" for h in scan.token_hits}))
        print(f"the provider token was in {len(scan.token_hits)} answer(s): {where}")


def _verdict_line(result: RunResult) -> str:
    """PASS, FAIL with the first reason a user must act on, or NOT JUDGED."""
    if result.verdict == "no-budgets":
        return "NOT JUDGED (--no-budgets: no budget was applied; integrity checks passed)"
    if result.verdict == "pass":
        return "PASS"
    failed = [b.name for b in result.budgets if b.passed is False]
    cause = next((n for n in result.findings.notes if n.startswith(FAILED_FAST_PREFIX)), None)
    if "requests_all_failing" in failed and cause is not None:
        return f"FAIL: {printable(cause)}"
    if {"generator_cpu_cores", "generator_lag_p99_ms"} & set(failed):
        return (
            "FAIL: the load generator was the bottleneck: this run says nothing about the gateway"
        )
    if not failed:
        return "FAIL: no budget of the budgets file could be measured in this run"
    return "FAIL (" + ", ".join(failed) + ")"


def _exit_code(result: RunResult) -> int:
    return EXIT_BUDGET_BREACHED if result.verdict == "fail" else EXIT_OK


def _scenario_budgets(name: str) -> Path:
    """`budgets/<scenario>.yml`, the scenario's own budgets, else `budgets/default.yml`: no
    scenario runs unjudged unless asked to (`--no-budgets`)."""
    path = PROJECT_ROOT / "budgets" / f"{name}.yml"
    return path if path.is_file() else PROJECT_ROOT / "budgets" / "default.yml"


def _budgets_file(args: argparse.Namespace, scenario_name: str) -> Path | None:
    if getattr(args, "no_budgets", False):
        if args.budgets is not None:
            raise UsageError("--budgets and --no-budgets are alternatives: give one")
        return None
    return args.budgets if args.budgets is not None else _scenario_budgets(scenario_name)


def _run_settings(args: argparse.Namespace) -> RunSettings:
    chosen = scenario(args.scenario)
    if args.users and isinstance(chosen.load, OpenLoad):
        raise UsageError(f"--users: {chosen.name} is an open-model scenario (use --rate)")
    protocol = args.protocol or chosen.protocol
    if (args.stream or chosen.stream) and protocol != "openai":
        raise UsageError(f"{chosen.name}: streaming needs --protocol openai, not {protocol}")
    final = adjusted(
        chosen,
        protocol=args.protocol,
        duration_s=args.duration,
        rate_rps=args.rate,
        users=args.users,
        stream=True if args.stream else None,
    )
    budgets = _budgets_file(args, chosen.name)
    return RunSettings(
        scenario=final,
        project_root=PROJECT_ROOT,
        compose_file=args.compose,
        output_dir=args.output_dir.resolve(),
        budgets_file=budgets,
        processes=args.processes,
        base_image=args.base_image,
        ready_timeout_s=args.ready_timeout,
        target=_external_target(args) if hasattr(args, "target") else None,
        gateway_image=getattr(args, "gateway_image", None),
        gateway_build=getattr(args, "gateway_build", None),
        ready_path=getattr(args, "ready_path", "/ready"),
        gateway_port=getattr(args, "gateway_port", None),
        gateway_environment=parse_gateway_environment(getattr(args, "gateway_env", [])),
        gateway_service=getattr(args, "gateway_service", None),
        redis_service=getattr(args, "redis_service", None),
        model=args.model,
    )


def _run(args: argparse.Namespace) -> int:
    from harness import pipeline

    outcome = pipeline.run(_run_settings(args), ProgressDisplay(quiet=args.quiet))
    _print_verdict(outcome.result, outcome.report)
    if warning := append_step_summary(outcome.run_dir, os.environ.get("GITHUB_STEP_SUMMARY")):
        print(f"warning: {warning}", file=sys.stderr)
    return _exit_code(outcome.result)


def _tune(args: argparse.Namespace) -> int:
    from harness.tune import TuneSettings, tune

    settings = TuneSettings(
        run=_run_settings(args),
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
    _print_tune(outcome.result, outcome.report)
    return EXIT_OK if outcome.result.confirmed else EXIT_BUDGET_BREACHED


def _print_tune(result: TuneResult, report: Path) -> None:
    print(f"{'role':<13}{'cpus':>6}{'memory':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>8}  verdict")
    for p in result.points:
        p95 = "-" if p.p95_ms is None else f"{p.p95_ms:.1f}"
        p99 = "-" if p.p99_ms is None else f"{p.p99_ms:.1f}"
        rps = "-" if p.throughput_rps is None else f"{p.throughput_rps:.1f}"
        verdict = "pass" if p.passed else f"FAIL {p.reason}"
        memory = f"{p.memory_bytes / MIB:.0f}M"
        print(f"{p.role:<13}{p.cpus:>6g}{memory:>9}{p95:>9}{p99:>9}{rps:>8}  {verdict}")
    print(f"search ended: {result.stop_reason}")
    rec = result.recommendation
    if rec is None:
        print("no recommendation: no limits met every budget")
    else:
        print(
            f"recommended: cpus {rec.cpus:g} (reservation {rec.reserved_cpus:g}), "
            f"memory {rec.memory_bytes / MIB:.0f} MiB "
            f"(reservation {rec.reserved_memory_bytes / MIB:.0f} MiB)"
        )
        for line in rec.explanation:
            print(f"  {line}")
        print("confirmation run: " + ("PASS" if result.confirmed else "FAIL"))
        print(result.compose_diff, end="")
        if result.written:
            print(f"written to {result.compose_file}")
        elif result.confirmed:
            print("not written (pass --write to apply it)")
    print(f"report: {report}")


def _compare(args: argparse.Namespace) -> int:
    from harness.compare.rounds import CompareSettings, compare, compare_stored, finish

    stored = stored_runs(args)
    if stored is not None:
        limits = compare_thresholds(args, None)
        outcome = compare_stored(*stored, args.output_dir.resolve(), limits, seed=args.seed)
    else:
        base, head = sides(args)
        run = _run_settings(args)
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
    for line in compare_lines(outcome.result):
        print(line)
    print(f"report: {report}")
    if warning := append_step_summary(outcome.directory, os.environ.get("GITHUB_STEP_SUMMARY")):
        print(f"warning: {warning}", file=sys.stderr)
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

    bench, directory = run_generator_bench(args.output_dir.resolve(), args.duration)
    print(format_generator_table(bench))
    print(f"results: {directory / 'bench-generator.json'}")
    return EXIT_BUDGET_BREACHED if args.check and not bench.met else EXIT_OK


def _report(args: argparse.Namespace) -> int:
    path: Path = args.result
    if (path / TUNE_FILE).exists() or path.name == TUNE_FILE:
        tune_result = load_tune(path)
        directory = path if path.is_dir() else path.parent
        _print_tune(tune_result, write_tune_report(tune_result, directory))
        return EXIT_OK if tune_result.confirmed else EXIT_BUDGET_BREACHED
    result = load_result(path)
    if args.budgets:
        result = judge(result, load_budgets(args.budgets))
    run_dir = path if path.is_dir() else path.parent
    report = write_run_outputs(result, run_dir)
    _print_verdict(result, report)
    if warning := append_step_summary(run_dir, os.environ.get("GITHUB_STEP_SUMMARY")):
        print(f"warning: {warning}", file=sys.stderr)
    return _exit_code(result)


def _clean(args: argparse.Namespace) -> int:
    from harness.docker import DockerEngine

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


def _scenarios(_: argparse.Namespace) -> int:
    for item in SCENARIOS.values():
        model = "open" if isinstance(item.load, OpenLoad) else "closed"
        print(f"{item.name:<17} {model:<7} {item.duration_s:>4.0f}s  {item.description}")
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
    except KeyError as exc:  # unknown scenario
        print(f"loadgate: {exc.args[0]}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
