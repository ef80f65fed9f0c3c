"""The rounds of a compare: both sides' images made first, then runs alternating base and head.

Rounds go in ABBA order (base, head, head, base, base, head...): a machine that drifts during
the compare (a warming disk cache, a neighbour starting a job) then weighs on both sides alike
instead of on whichever side ran last. Every round is an ordinary `loadgate run` with the same
scenario, compose limits, budgets and mock provider, written as its own run directory inside
the compare's directory, so each can be opened, re-judged and re-compared like any run.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.compare.analysis import CompareInputs, analyse
from harness.compare.samples import RoundSamples, read_round
from harness.compare.sides import PreparedSide, SideBuilder, SideSpec
from harness.errors import StackNotReadyError, UsageError
from harness.ids import new_id
from harness.progress import ProgressDisplay
from harness.run import pipeline
from harness.settings import RunSettings
from harness.stack.docker import DockerEngine
from harness.stack.images import ImageBuilder
from reports.compare_render import COMPARE_REPORT_FILE
from reports.compare_result import COMPARE_FILE, CompareResult, Metric, Side
from reports.outputs import write_compare_outputs
from reports.result import RunResult
from reports.summary import SUMMARY_FILE


@dataclass(frozen=True)
class CompareSettings:
    run: RunSettings
    """What every round runs (scenario, compose file, budgets...), the gateway aside."""
    base: SideSpec
    head: SideSpec
    thresholds: Mapping[Metric, float]
    rounds: int = 3
    """Rounds per side."""
    seed: int = 0
    resamples: int = 2000


@dataclass(frozen=True)
class CompareOutcome:
    result: CompareResult
    directory: Path


RoundDone = Callable[[int, Side, RunResult], None]


def round_order(rounds: int) -> list[Side]:
    """ABBA...: base head, head base, base head... (`rounds` of each side)."""
    order: list[Side] = []
    for pair in range(rounds):
        order.extend(("base", "head") if pair % 2 == 0 else ("head", "base"))
    return order


def new_compare_id() -> str:
    return new_id("compare")


def _prepare_sides(
    settings: CompareSettings, engine: DockerEngine, compare_id: str, display: ProgressDisplay
) -> dict[Side, PreparedSide]:
    compose, _ = pipeline.prepare(settings.run)
    builder = ImageBuilder(engine, settings.run.project_root, settings.run.base_image, display.say)
    sides = SideBuilder(builder, pipeline.compose_gateway(settings.run, compose), compare_id)
    head = sides.prepare(settings.head, settings.head)
    base = sides.prepare(settings.base, settings.head)
    return {"base": base, "head": head}


def _round_settings(settings: CompareSettings, side: PreparedSide, directory: Path) -> RunSettings:
    run = settings.run
    return dataclasses.replace(
        run,
        output_dir=directory,
        gateway_image=side.tag,
        gateway_build=None,
        gateway_environment={**run.gateway_environment, **side.spec.environment},
    )


def compare(
    settings: CompareSettings, display: ProgressDisplay, round_done: RoundDone
) -> CompareOutcome:
    """Make both sides' images, run the rounds, and compare them."""
    compare_id = new_compare_id()
    engine = DockerEngine.connect()
    try:
        display.phase("images")
        sides = _prepare_sides(settings, engine, compare_id, display)
    finally:
        engine.close()
    directory = settings.run.output_dir / compare_id
    directory.mkdir(parents=True)
    started_at = time.time()
    done: dict[Side, list[RoundSamples]] = {"base": [], "head": []}
    order: list[tuple[Side, RoundSamples]] = []
    problems: list[str] = []
    for position, side in enumerate(round_order(settings.rounds), start=1):
        display.say(f"round {position} of {2 * settings.rounds}: {side}")
        try:
            outcome = pipeline.run(_round_settings(settings, sides[side], directory), display)
        except StackNotReadyError as exc:
            if side == "base":
                raise  # the base must start: without it there is nothing to compare against
            problems.append(head_not_ready(position, exc))
            break
        samples = read_round(outcome.run_dir)
        done[side].append(samples)
        order.append((side, samples))
        round_done(position, side, outcome.result)
    result = analyse(
        CompareInputs(
            compare_id=compare_id,
            started_at=started_at,
            base=done["base"],
            head=done["head"],
            order=order,
            sides={"base": sides["base"], "head": sides["head"]},
            thresholds=settings.thresholds,
            resamples=settings.resamples,
            seed=settings.seed,
            problems=problems,
        )
    )
    return CompareOutcome(result=result, directory=directory)


def head_not_ready(position: int, exc: StackNotReadyError) -> str:
    """A head that never became ready fails the compare (the worst regression), in a line."""
    reason = str(exc).split("\n", 1)[0]
    return f"round {position} (head): the rounds stopped: {reason}"


def compare_stored(
    base: Path,
    head: Path,
    output_dir: Path,
    thresholds: Mapping[Metric, float],
    seed: int = 0,
    resamples: int = 2000,
) -> CompareOutcome:
    """Two runs made earlier, compared as one round each (no Docker)."""
    base_round, head_round = read_round(base), read_round(head)
    if base_round.result.scenario != head_round.result.scenario:
        raise UsageError(
            f"{base} ran scenario {base_round.result.scenario} and {head} ran "
            f"{head_round.result.scenario}: only runs of one scenario compare"
        )
    compare_id = new_compare_id()
    result = analyse(
        CompareInputs(
            compare_id=compare_id,
            started_at=time.time(),
            base=[base_round],
            head=[head_round],
            order=[("base", base_round), ("head", head_round)],
            sides={"base": None, "head": None},
            thresholds=thresholds,
            resamples=resamples,
            seed=seed,
            stored=True,
        )
    )
    directory = output_dir / compare_id
    directory.mkdir(parents=True)
    return CompareOutcome(result=result, directory=directory)


def finish(outcome: CompareOutcome) -> Path:
    """Save the compare's result file, its report and its summary.md; the report's path."""
    result = outcome.result.model_copy(
        update={
            "files": {
                "result": COMPARE_FILE,
                "report": COMPARE_REPORT_FILE,
                "summary": SUMMARY_FILE,
            }
        }
    )
    result.save(outcome.directory)
    return write_compare_outputs(result, outcome.directory)
