"""The command line of each load generator: Locust for closed load, the open-model generator.

Closed load is Locust, headless (`--processes N` for Locust's own distributed mode: a master and
N forked workers), its users from `scenarios/locustfile.py`; open load is `scenarios.openmodel`,
N processes each taking an interleaved share of the schedule (and of `max_in_flight`). Both name
the model OpenAI bodies carry. `harness.run.runner` starts them and follows their samples.
"""

from __future__ import annotations

import sys
from pathlib import Path

import scenarios
from harness.run.model_choice import LAUNCHED_STACK_MODEL
from harness.settings import Distributed
from scenarios.catalog import OpenLoad, Scenario
from scenarios.plan import OpenShare, open_model_arguments, plan_for

LOCUSTFILE = Path(scenarios.__file__).parent / "locustfile.py"
STOP_TIMEOUT_S = 5
"""Locust's --stop-timeout: how long its users get to finish what they sent."""
REQUEST_TIMEOUT_S = 30.0


def _model_option(chosen: Scenario, option: str, model: str | None) -> list[str]:
    """The model OpenAI bodies name; None means the launched stack's (the mock provider's)."""
    return [option, model or LAUNCHED_STACK_MODEL] if chosen.protocol == "openai" else []


def locust_command(
    chosen: Scenario, host: str, samples: Path, processes: int = 1, model: str | None = None
) -> list[str]:
    load = chosen.load
    assert not isinstance(load, OpenLoad)
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        chosen.user_class,
        "--headless",
        "--host",
        host,
        "--users",
        str(load.users),
        "--spawn-rate",
        str(load.spawn_rate),
        "--run-time",
        f"{max(1, round(chosen.duration_s))}s",
        "--stop-timeout",
        str(STOP_TIMEOUT_S),
        "--only-summary",
        "--exit-code-on-error",
        "0",
        "--loglevel",
        "WARNING",
        "--lg-samples",
        str(samples),
        "--lg-rps-per-user",
        str(load.rps_per_user),
        *_model_option(chosen, "--lg-model", model),
    ]
    if processes > 1:
        command += ["--processes", str(processes)]
    return command


def open_model_command(
    chosen: Scenario, host: str, parts: Path, share: OpenShare, model: str | None = None
) -> list[str]:
    """Process `share.index` of `share.of`, writing its files into `parts`."""
    plan = plan_for(chosen, host, share.of, model or LAUNCHED_STACK_MODEL, REQUEST_TIMEOUT_S)
    files = {
        "samples": str(parts / f"samples-{share.index}.csv"),
        "summary": str(parts / f"generator-{share.index}.json"),
        "started": str(parts / f"started-{share.index}"),
    }
    arguments = open_model_arguments(plan, host, share, files)
    return [sys.executable, "-m", "scenarios.openmodel", *arguments]


def master_command(plan: Path, distributed: Distributed, parts: Path) -> list[str]:
    """The Locust master of a distributed run (`scenarios.master`): it waits for the workers,
    sends them `plan`, and writes their rows into `parts`."""
    host, port = distributed.bind
    return [
        sys.executable,
        "-m",
        "scenarios.master",
        "--plan",
        str(plan),
        "--bind",
        f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "--expect-workers",
        str(distributed.workers),
        "--workers-timeout",
        f"{distributed.join_timeout_s:g}",
        "--parts",
        str(parts),
    ]
