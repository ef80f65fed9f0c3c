"""Typed options of a run, built once by the CLI and passed down."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.compose import ResourceLimits
from scenarios.catalog import Scenario


@dataclass(frozen=True)
class RunSettings:
    scenario: Scenario
    project_root: Path
    compose_file: Path
    output_dir: Path
    budgets_file: Path | None = None
    base_image: str = "python:3.11-slim"
    ready_timeout_s: float = 60.0
    quiet: bool = False
    gateway_limits: ResourceLimits | None = None
    """Limits to apply instead of the compose file's (what `loadgate tune` varies)."""
