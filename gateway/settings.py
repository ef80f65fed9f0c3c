"""Typed gateway configuration, read from the environment once at start-up."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    AnyHttpUrl,
    Field,
    PositiveFloat,
    PositiveInt,
    RedisDsn,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class GatewaySettings(BaseSettings):
    """Everything the gateway reads from its environment.

    Field names are the environment variable names, case-insensitive.
    """

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    provider_auth_token: SecretStr = Field(min_length=1)
    upstream_base_url: AnyHttpUrl
    target_model: str = Field(default="gpt-4o-mini", min_length=1)
    max_concurrency: PositiveInt = 256
    log_level: LogLevel = "INFO"
    redis_url: RedisDsn | None = None
    cache_ttl_seconds: PositiveInt = 300
    cache_timeout_seconds: PositiveFloat = 0.05
    cache_max_temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    """Requests at or below this temperature are deterministic: cached and de-duplicated."""
    upstream_max_connections: PositiveInt = 100
    upstream_max_keepalive: PositiveInt = 50
    upstream_connect_timeout: PositiveFloat = 5.0
    upstream_read_timeout: PositiveFloat = 60.0
    upstream_pool_timeout: PositiveFloat = 1.0
    host: str = "0.0.0.0"  # noqa: S104 - the gateway listens inside its container
    port: int = Field(default=8000, ge=1, le=65535)
    drain_seconds: PositiveFloat = 20.0

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class SettingsError(Exception):
    """The environment does not describe a valid gateway configuration."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid gateway configuration: " + "; ".join(problems))


def load_settings() -> GatewaySettings:
    """Read settings from the environment, turning validation errors into one clear message.

    The offending values are never echoed: one of them may be the provider token.
    """
    try:
        return GatewaySettings()
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise SettingsError(problems) from None
