"""The locustfile the harness runs: `locust -f scenarios/locustfile.py USER_CLASS ...`.

Adds loadgate's own options (`--lg-samples`, `--lg-rps-per-user`) and records every request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from locust import events
from locust.env import Environment

from scenarios.recorder import SampleRecorder
from scenarios.users import ChatUser, InferUser

__all__ = ["ChatUser", "InferUser"]


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    parser.add_argument("--lg-samples", default="", help="CSV file for per-request samples")
    parser.add_argument("--lg-rps-per-user", type=float, default=0.0, help="requests/s per user")


@events.init.add_listener
def _record_samples(environment: Environment, **_: Any) -> None:
    options = environment.parsed_options
    if options is not None and options.lg_samples:
        SampleRecorder(environment, Path(options.lg_samples))
