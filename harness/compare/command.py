"""`loadgate compare`: its options, checked up front, and the command itself.

    loadgate compare [--base-image A | --base-build DIR | --base-ref REF]
                     [--head-image B | --head-build DIR] [--rounds N] [--max-regression SPEC]
    loadgate compare RUN_A RUN_B      two stored run directories, compared without Docker

No side given is the compose file's gateway (the working tree): with neither side given, the
compare is an A/A comparison, which measures the noise of the machine.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from harness.compare.sides import SideSpec, check_ref
from harness.compare.thresholds import parse_max_regression, thresholds
from harness.errors import UsageError
from harness.settings import RunSettings
from harness.stack.wiring import parse_gateway_environment
from harness.verdict.budgets import load_budgets
from reports.compare_result import Metric

MAX_ROUNDS = 20
SIDE_FLAGS = {
    "base_gateway_image": "--base-image",
    "base_gateway_build": "--base-build",
    "base_ref": "--base-ref",
    "head_gateway_image": "--head-image",
    "head_gateway_build": "--head-build",
    "base_env": "--base-env",
    "head_env": "--head-env",
}
"""Where each flag that makes a side lands (`--base-image` must not be `run`'s build base)."""


def add_compare_options(
    parser: argparse.ArgumentParser, rounds_type: Callable[[str], float]
) -> None:
    add = parser.add_argument
    add(
        "runs",
        nargs="*",
        type=Path,
        metavar="RUN",
        help="two stored run directories to compare (base, then head) instead of running",
    )
    add(
        "--base-image",
        dest="base_gateway_image",
        metavar="IMAGE",
        help="the base side: an image in the engine",
    )
    add(
        "--base-build",
        dest="base_gateway_build",
        type=Path,
        metavar="DIR",
        help="the base side: DIR built with its Dockerfile",
    )
    add(
        "--base-ref",
        metavar="GIT_REF",
        help="the base side: this git ref, built the way the head is (a worktree of the ref)",
    )
    add(
        "--head-image",
        dest="head_gateway_image",
        metavar="IMAGE",
        help="the head side: an image in the engine",
    )
    add(
        "--head-build",
        dest="head_gateway_build",
        type=Path,
        metavar="DIR",
        help="the head side: DIR built with its Dockerfile",
    )
    for side in ("base", "head"):
        add(
            f"--{side}-env",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help=f"a variable for the {side} gateway only (repeatable; as --gateway-env)",
        )
    add(
        "--rounds",
        type=rounds_type,
        default=3,
        metavar="N",
        help=f"rounds per side, base and head alternately (default 3, at most {MAX_ROUNDS})",
    )
    add(
        "--max-regression",
        type=parse_max_regression,
        default={},
        metavar="SPEC",
        help="what counts as a regression, e.g. p95=10%%,throughput=5%%,error_rate=0.5%% "
        "(metrics: p50 p95 p99 throughput error_rate memory_p95 cpu_per_request; default: the "
        "budgets file's compare: block, else built-in thresholds)",
    )
    add("--seed", type=int, default=0, metavar="N", help="seed of the bootstrap (default 0)")


def sides(args: argparse.Namespace) -> tuple[SideSpec, SideSpec]:
    """The two sides, checked: at most one way to make each."""
    for side_flags in (list(SIDE_FLAGS)[:3], list(SIDE_FLAGS)[3:5]):
        given = [SIDE_FLAGS[f] for f in side_flags if getattr(args, f)]
        if len(given) > 1:
            raise UsageError(f"{' and '.join(given)} are alternatives: give one")
    if int(args.rounds) > MAX_ROUNDS:
        raise UsageError(f"--rounds {int(args.rounds)}: at most {MAX_ROUNDS} rounds per side")
    base = SideSpec(
        side="base",
        image=args.base_gateway_image,
        build=args.base_gateway_build,
        ref=check_ref(args.base_ref) if args.base_ref else None,
        environment=parse_gateway_environment(args.base_env, "--base-env"),
    )
    head = SideSpec(
        side="head",
        image=args.head_gateway_image,
        build=args.head_gateway_build,
        environment=parse_gateway_environment(args.head_env, "--head-env"),
    )
    return base, head


def stored_runs(args: argparse.Namespace) -> tuple[Path, Path] | None:
    """RUN_A RUN_B, when given: then nothing runs, so no flag that makes a side may be given."""
    if not args.runs:
        return None
    if len(args.runs) != 2:
        raise UsageError(
            f"compare takes two stored run directories (base, then head), not {len(args.runs)}"
        )
    given = [flag for dest, flag in SIDE_FLAGS.items() if getattr(args, dest)]
    if given:
        flags = ", ".join(given)
        raise UsageError(f"{flags}: nothing is run when two stored runs are compared")
    for run in args.runs:
        if not run.is_dir():
            raise UsageError(f"{run} is not a run directory")
    return args.runs[0], args.runs[1]


def compare_thresholds(args: argparse.Namespace, run: RunSettings | None) -> dict[Metric, float]:
    """Built-in thresholds, then the budgets file's `compare:` block, then --max-regression."""
    budgets = None
    budgets_file = run.budgets_file if run is not None else args.budgets
    if budgets_file is not None:
        budgets = load_budgets(budgets_file)
    return dict(thresholds(budgets, args.max_regression))
