"""The locustfile the harness runs: `locust -f scenarios/locustfile.py USER_CLASS ...`.

Adds loadgate's own options (`--lg-samples`, `--lg-rps-per-user`, `--lg-model`) and records
every request and notes its answer, in files next to `--lg-samples`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from scenarios.recorder import SampleRecorder
from scenarios.users import ChatUser, InferUser

__all__ = ["ChatUser", "InferUser"]


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    parser.add_argument("--lg-samples", default="", help="CSV file for per-request samples")
    parser.add_argument("--lg-rps-per-user", type=float, default=0.0, help="requests/s per user")
    parser.add_argument("--lg-model", default="", help="the model OpenAI bodies name (ChatUser)")


@events.init.add_listener
def _record_samples(environment: Environment, **_: Any) -> None:
    """Each process that makes requests records them; distributed, that is each worker, in a
    file of its own (the harness merges them), and never the master."""
    options = environment.parsed_options
    if options is None or not options.lg_samples:
        return
    if isinstance(environment.runner, MasterRunner):
        return
    path = Path(options.lg_samples)
    if isinstance(environment.runner, WorkerRunner):
        path = path.with_name(f"{path.stem}-{os.getpid()}{path.suffix}")
    SampleRecorder(environment, path)
