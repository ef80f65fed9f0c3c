"""Gateway settings: validated at start-up, with a clear message that never echoes the token."""

from __future__ import annotations

import pytest

from gateway.__main__ import main
from gateway.settings import SettingsError, load_settings

SECRET = "sk-do-not-print-me-4242"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        "PROVIDER_AUTH_TOKEN",
        "UPSTREAM_BASE_URL",
        "MAX_CONCURRENCY",
        "LOG_LEVEL",
        "REDIS_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("UPSTREAM_BASE_URL", "http://provider.test")
    return monkeypatch


def test_missing_token_fails_naming_the_variable(env: pytest.MonkeyPatch) -> None:
    """Without PROVIDER_AUTH_TOKEN the gateway refuses to start and says which variable."""
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "PROVIDER_AUTH_TOKEN" in str(caught.value)


def test_invalid_values_are_listed_without_echoing_secrets(env: pytest.MonkeyPatch) -> None:
    """Every bad variable is named; no input value appears in the message."""
    env.setenv("PROVIDER_AUTH_TOKEN", SECRET)
    env.setenv("MAX_CONCURRENCY", "-3")
    env.setenv("LOG_LEVEL", "chatty")
    env.setenv("UPSTREAM_BASE_URL", f"not a url {SECRET}")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert (
        "MAX_CONCURRENCY" in message and "LOG_LEVEL" in message and "UPSTREAM_BASE_URL" in message
    )
    assert SECRET not in message


def test_valid_environment_is_typed(env: pytest.MonkeyPatch) -> None:
    """Values are parsed into their types; the token stays secret in repr."""
    env.setenv("PROVIDER_AUTH_TOKEN", SECRET)
    env.setenv("MAX_CONCURRENCY", "12")
    env.setenv("LOG_LEVEL", "debug")
    settings = load_settings()
    assert settings.max_concurrency == 12
    assert settings.log_level == "DEBUG"
    assert SECRET not in repr(settings)
    assert settings.provider_auth_token.get_secret_value() == SECRET


def test_entry_point_exits_2_with_one_clear_line(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m gateway` with a bad environment prints one line and exits 2, no traceback."""
    env.setenv("MAX_CONCURRENCY", "lots")
    assert main() == 2
    err = capsys.readouterr().err
    assert err.startswith("gateway: invalid gateway configuration")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
