"""Typed options of a run, built once by the CLI and passed down."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from harness.stack.services import ResourceLimits
from scenarios.catalog import Scenario
from scenarios.credentials import HEADERS_ENV, SCAN_SECRET_ENV, TOKEN_ENV


@dataclass(frozen=True)
class ExternalTarget:
    """A deployment that is already running: loadgate starts nothing and measures no container."""

    url: str
    token: SecretStr | None = None
    """Bearer token, read from an environment variable; never printed, never stored."""
    headers: dict[str, str] = field(default_factory=dict)

    def locust_environment(self) -> dict[str, str]:
        """What the Locust process needs to reach the target (its environment only)."""
        environment = {HEADERS_ENV: json.dumps(self.headers)}
        if self.token is not None:
            environment[TOKEN_ENV] = self.token.get_secret_value()
        return environment

    def headers_with_token(self) -> dict[str, str]:
        """The headers a request to the target carries, its bearer token included."""
        if self.token is None:
            return dict(self.headers)
        return {**self.headers, "Authorization": f"Bearer {self.token.get_secret_value()}"}


@dataclass(frozen=True)
class StackCredentials:
    """The secrets of a stack loadgate launches, made anew for each run: the provider token the
    gateway is given (answers are scanned for it) and the client key the gateway asks of its
    callers (`GATEWAY_API_KEYS`). Never printed, never stored."""

    provider_token: str
    client_key: str

    def generator_environment(self) -> dict[str, str]:
        return {
            HEADERS_ENV: "{}",
            TOKEN_ENV: self.client_key,
            SCAN_SECRET_ENV: self.provider_token,
        }

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.client_key}"}


@dataclass(frozen=True)
class Distributed:
    """Load from workers on other machines (`--expect-workers`), through a Locust master that
    listens on `bind` and waits `join_timeout_s` for them."""

    workers: int
    bind: tuple[str, int]
    join_timeout_s: float
    credentials: StackCredentials | None = None
    """For a stack loadgate launches: its secrets, which every worker holds in its own
    environment too (they are never sent to the workers)."""


@dataclass(frozen=True)
class RunSettings:
    scenario: Scenario
    project_root: Path
    compose_file: Path
    output_dir: Path
    budgets_file: Path | None = None
    base_image: str = "python:3.11-slim"
    ready_timeout_s: float = 60.0
    gateway_limits: ResourceLimits | None = None
    """Limits to apply instead of the compose file's (what `loadgate tune` varies)."""
    target: ExternalTarget | None = None
    """Drive this running deployment instead of launching the stack."""
    gateway_image: str | None = None
    """Launch this image as the gateway instead of building the compose file's."""
    gateway_build: Path | None = None
    """Build the gateway from this directory's own Dockerfile instead."""
    ready_path: str = "/ready"
    processes: int = 1
    """Load generator processes."""
    distributed: Distributed | None = None
    """Load from workers instead of local generator processes."""
    gateway_port: int | None = None
    """The port the gateway serves on in its container (default: compose file, image, 8000)."""
    gateway_environment: dict[str, str] = field(default_factory=dict)
    """--gateway-env: variables for the gateway, values may hold `wiring.PLACEHOLDERS`."""
    gateway_service: str | None = None
    """The compose service that is the gateway (default: found, see `ComposeFile.find_services`)."""
    redis_service: str | None = None
    """The compose service that is Redis (default: found)."""
    model: str | None = None
    """The model OpenAI bodies name: `--model`, or what `model_choice.resolve_model` chose."""
