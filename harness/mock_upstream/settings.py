"""Mock-upstream configuration from `MOCK_*` environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeFloat, PositiveInt, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class MockSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOCK_", case_sensitive=False, extra="ignore")

    host: str = "0.0.0.0"  # noqa: S104 - listens inside its container
    port: int = Field(default=8080, ge=1, le=65535)
    latency: Literal["fixed", "lognormal"] = "fixed"
    latency_ms: NonNegativeFloat = 50.0
    """Fixed latency, or the median of the lognormal model."""
    latency_p99_ms: NonNegativeFloat | None = None
    """p99 of the lognormal model (required for it, must exceed the median)."""
    completion_tokens: PositiveInt = 64
    """Mean completion length; each answer is within ±25 % of it, capped by max_tokens."""
    seed: int = 1
    model_name: str = "mock-gpt"

    @model_validator(mode="after")
    def _lognormal_needs_p99(self) -> MockSettings:
        p99 = self.latency_p99_ms
        if self.latency == "lognormal" and (p99 is None or p99 <= self.latency_ms):
            raise ValueError("MOCK_LATENCY_P99_MS must be set above MOCK_LATENCY_MS")
        return self
