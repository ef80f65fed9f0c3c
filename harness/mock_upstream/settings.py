"""Mock-upstream configuration: start-up settings from `MOCK_*` variables, and the run-time
configuration (latency model and faults) that `PATCH /admin/config` can change mid-run."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict


class Faults(BaseModel):
    """Misbehaviour on command. Rates are per request, drawn from the seeded generator."""

    model_config = ConfigDict(extra="forbid")

    error_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of requests answered with an error status instead of a completion."""
    error_statuses: dict[int, float] = Field(default_factory=lambda: {500: 1.0})
    """Weights of the statuses used for errors, e.g. {429: 1, 503: 1}."""
    retry_after_s: int = Field(default=1, ge=0)
    """Retry-After sent with 429 and 503."""
    reset_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of requests whose connection is reset (TCP RST) before any answer."""
    slow_headers_rate: float = Field(default=0.0, ge=0, le=1)
    slow_headers_s: NonNegativeFloat = 5.0
    """Accept the request, then wait this long before sending anything."""
    stall_rate: float = Field(default=0.0, ge=0, le=1)
    stall_s: NonNegativeFloat = 5.0
    """Streams that stall halfway through for this long."""
    outage: bool = False
    """Every request is reset: the provider is down."""

    @field_validator("error_statuses")
    @classmethod
    def _error_statuses(cls, value: dict[int, float]) -> dict[int, float]:
        if not value or any(not 400 <= s <= 599 or w < 0 for s, w in value.items()):
            raise ValueError("error_statuses maps 4xx/5xx statuses to non-negative weights")
        if sum(value.values()) <= 0:
            raise ValueError("error_statuses needs a positive weight")
        return value


class RuntimeConfig(BaseModel):
    """What a request is answered with; replaced as a whole by `PATCH /admin/config`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency: Literal["fixed", "lognormal"] = "fixed"
    latency_ms: NonNegativeFloat = 50.0
    """Fixed latency, or the median of the lognormal model (non-streaming answers and TTFT)."""
    latency_p99_ms: NonNegativeFloat | None = None
    """p99 of the lognormal model (required for it, must exceed the median)."""
    completion_tokens: PositiveInt = 64
    """Mean completion length; each answer is within ±25 % of it, capped by max_tokens."""
    tokens_per_s: PositiveFloat = 100.0
    """Streaming: pace of the chunks after the first one."""
    faults: Faults = Field(default_factory=Faults)

    @model_validator(mode="after")
    def _lognormal_needs_p99(self) -> RuntimeConfig:
        p99 = self.latency_p99_ms
        if self.latency == "lognormal" and (p99 is None or p99 <= self.latency_ms):
            raise ValueError("MOCK_LATENCY_P99_MS must be set above MOCK_LATENCY_MS")
        return self

    def patched(self, patch: dict[str, Any]) -> RuntimeConfig:
        """A new configuration with `patch` applied (faults merged key by key)."""
        data = self.model_dump()
        faults = {**data.pop("faults"), **patch.pop("faults", {})}
        return RuntimeConfig.model_validate({**data, **patch, "faults": faults})


class MockSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOCK_", case_sensitive=False, extra="ignore")

    host: str = "0.0.0.0"  # noqa: S104 - listens inside its container
    port: int = Field(default=8080, ge=1, le=65535)
    latency: Literal["fixed", "lognormal"] = "fixed"
    latency_ms: NonNegativeFloat = 50.0
    latency_p99_ms: NonNegativeFloat | None = None
    completion_tokens: PositiveInt = 64
    tokens_per_s: PositiveFloat = 100.0
    seed: int = 1
    model_name: str = "mock-gpt"

    @model_validator(mode="after")
    def _valid_runtime(self) -> MockSettings:
        self.runtime()
        return self

    def runtime(self) -> RuntimeConfig:
        return RuntimeConfig(
            latency=self.latency,
            latency_ms=self.latency_ms,
            latency_p99_ms=self.latency_p99_ms,
            completion_tokens=self.completion_tokens,
            tokens_per_s=self.tokens_per_s,
        )
