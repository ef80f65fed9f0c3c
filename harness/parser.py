"""`loadgate`'s command line: its commands, options and argument types, checked as parsed.

Every option a command does not have is given a default (`set_defaults`), so the code that turns
options into settings (`harness.options`) reads one namespace shape, never `getattr`.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.compare.command import add_compare_options
from harness.run.model_choice import valid_model_name
from harness.units import UnitError, parse_duration
from scenarios.catalog import PROTOCOL_USERS, SCENARIOS
from scenarios.plan import host_port, url_argument

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
    _add_gateway_options(parser)


def _add_gateway_options(parser: argparse.ArgumentParser) -> None:
    """Which gateway loadgate launches (an image, a build directory), and how it is wired."""
    add = parser.add_argument
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


def _add_distributed_options(parser: argparse.ArgumentParser) -> None:
    """Load from other machines: this run is the master, `loadgate worker`s join it."""
    add = parser.add_argument
    add(
        "--expect-workers",
        type=_positive_int,
        metavar="N",
        help="the load comes from N `loadgate worker --master HOST:PORT` processes (Locust "
        "master/worker); the run waits for them (--workers-timeout) and fails if one is lost",
    )
    add(
        "--master-bind",
        type=host_port,
        metavar="HOST:PORT",
        help="where the master listens for workers (with --expect-workers; e.g. 0.0.0.0:5557 "
        "on a private network: the port is unauthenticated)",
    )
    add(
        "--workers-timeout",
        type=_duration,
        default=120.0,
        metavar="DURATION",
        help="how long the master waits for its workers to join (default 120s)",
    )


_IMAGE_REFERENCE = re.compile(
    # a registry host, optional: localhost or a name with a dot, a port if any, or a name:port
    r"(?:(?:(?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)(?::[0-9]+)?|[A-Za-z0-9-]+:[0-9]+)/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
)
"""What Docker accepts as `-t`: [host[:port]/]path[:tag], the path in lower case."""


def _image_tag(text: str) -> str:
    if len(text) > 255 or not _IMAGE_REFERENCE.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an image name (e.g. registry.example.com/loadgate/worker:1.0)"
        )
    return text


def _add_worker_image_command(commands: argparse._SubParsersAction[Any]) -> None:
    """`loadgate worker-image`: build the image workers (and the run's master) run elsewhere."""
    worker_image = commands.add_parser(
        "worker-image",
        help="build the image `loadgate worker` runs in on other machines (e.g. Kubernetes); "
        "prints its tag and id",
    )
    worker_image.add_argument(
        "--tag",
        type=_image_tag,
        default="loadgate/worker:latest",
        metavar="TAG",
        help="the image's name, e.g. your registry's (default: loadgate/worker:latest)",
    )
    worker_image.add_argument(
        "--base-image",
        default="python:3.11-slim",
        metavar="IMAGE",
        help="the Python image to build on (a Debian stand-in is built if it cannot be had)",
    )


NO_TARGET: dict[str, object] = {
    "target": None,
    "token_env": None,
    "header": [],
    "gateway_image": None,
    "gateway_build": None,
}
"""What a command without --target and --gateway-image/--gateway-build reads for them."""
NO_LAUNCH_OPTIONS: dict[str, object] = {
    "ready_path": "/ready",
    "gateway_port": None,
    "gateway_env": [],
    "gateway_service": None,
    "redis_service": None,
}
"""What a command without the launch options reads for them."""
NO_WORKERS: dict[str, object] = {
    "expect_workers": None,
    "master_bind": None,
    "workers_timeout": 120.0,
}
"""What a command whose load is always local (`tune`, `compare`) reads for the workers."""


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
    _add_distributed_options(run)

    tune = commands.add_parser(
        "tune",
        help="find the smallest compose limits that meet the budgets, and write them back",
        epilog=EXIT_CODES,
        formatter_class=formatter,
    )
    _add_load_options(
        tune, default_scenario="steady", default_budgets=PROJECT_ROOT / "budgets" / "default.yml"
    )
    _add_gateway_options(tune)
    tune.set_defaults(target=None, token_env=None, header=[], **NO_WORKERS, no_budgets=False)
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
    compare.set_defaults(**NO_TARGET, **NO_WORKERS)
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
        help="benchmark loadgate's open-model generator instead, beside Locust and wrk"
        " (wrk needs Docker: skipped, and said so, without an engine)",
    )

    worker = commands.add_parser(
        "worker",
        help="join a distributed run as one of its load generators (`loadgate run "
        "--expect-workers N --master-bind HOST:PORT` on the master)",
    )
    worker.add_argument(
        "--master", type=host_port, required=True, metavar="HOST:PORT", help="the run's master"
    )
    worker.add_argument(
        "--target",
        type=url_argument,
        metavar="URL",
        help="the target's URL as this machine reaches it (default: the master's); the token "
        "and headers come from this worker's environment (LOADGATE_TARGET_TOKEN, "
        "LOADGATE_TARGET_HEADERS, LOADGATE_SCAN_SECRET), never from the master",
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
    _add_worker_image_command(commands)
    return parser
