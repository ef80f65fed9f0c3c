"""Typed gateway configuration, read from the environment once at start-up."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import (
    AnyHttpUrl,
    Field,
    PositiveFloat,
    PositiveInt,
    RedisDsn,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
MIB = 1024 * 1024


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
    request_body_timeout_seconds: PositiveFloat = 5.0
    """The most a client may take to send its request body (408 after it)."""
    upstream_max_response_bytes: PositiveInt = 4 * MIB
    upstream_max_event_bytes: PositiveInt = 1 * MIB
    gateway_api_keys: SecretStr | None = None
    """Comma-separated client keys; unset, the gateway asks for none."""
    gateway_protect_metrics: bool | None = None
    """Whether /metrics needs a key (by default: when keys are set)."""
    gateway_protect_docs: bool | None = None
    """Whether /docs and /openapi.json need a key (by default: when keys are set)."""

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("gateway_api_keys", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`GATEWAY_API_KEYS=` (as `${GATEWAY_API_KEYS:-}` in a compose file gives) asks none."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("gateway_api_keys")
    @classmethod
    def _usable_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        keys = _split_keys(value.get_secret_value())
        if not keys:
            raise ValueError("no key in the list (comma-separated keys expected)")
        if any(char.isspace() for key in keys for char in key):
            raise ValueError("a key contains whitespace")
        return value

    @model_validator(mode="after")
    def _protection_needs_keys(self) -> Self:
        if self.gateway_api_keys is None:
            for name in ("gateway_protect_metrics", "gateway_protect_docs"):
                if getattr(self, name):
                    raise ValueError(f"{name.upper()} needs GATEWAY_API_KEYS")
        return self

    def client_keys(self) -> tuple[str, ...]:
        """The client keys, in order; empty when the gateway asks for none."""
        if self.gateway_api_keys is None:
            return ()
        return _split_keys(self.gateway_api_keys.get_secret_value())

    def upstream_for_log(self) -> str:
        """The provider URL without userinfo, query or fragment: safe for a log line."""
        url = self.upstream_base_url
        default_port = 443 if url.scheme == "https" else 80
        port = "" if url.port in (None, default_port) else f":{url.port}"
        return f"{url.scheme}://{url.host}{port}{url.path or ''}"


def _split_keys(raw: str) -> tuple[str, ...]:
    return tuple(key.strip() for key in raw.split(",") if key.strip())


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
            ": ".join(
                part
                for part in (".".join(str(p) for p in error["loc"]).upper(), error["msg"])
                if part
            )
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise SettingsError(problems) from None
