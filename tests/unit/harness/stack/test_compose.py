"""Reading a compose file: the limits every run applies come from the file only."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ComposeError
from harness.stack.compose import ComposeFile, interpolate

FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "compose" / "two-services.yml"
VARIABLES = {"PROVIDER_AUTH_TOKEN": "t", "UPSTREAM_BASE_URL": "http://mock:8080"}
MIB = 1024 * 1024


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "compose.yml"
    path.write_text(text)
    return path


def test_a_production_compose_file_describes_the_gateway() -> None:
    """Limits, reservations, healthcheck, grace period and restart policy are all read."""
    gateway = ComposeFile.load(FIXTURE).service("gateway", VARIABLES)
    assert gateway.limits.cpus == 1.5
    assert gateway.limits.memory_bytes == 768 * MIB
    assert gateway.limits.reserved_cpus == 0.5
    assert gateway.limits.reserved_memory_bytes == 384 * MIB
    assert gateway.stop_grace_s == 25.0
    assert gateway.restart == "unless-stopped"
    assert gateway.healthcheck is not None and gateway.healthcheck.retries == 3
    assert gateway.environment["PROVIDER_AUTH_TOKEN"] == "t"
    assert gateway.environment["REDIS_URL"] == "redis://redis:6379/0"
    assert gateway.build is not None and gateway.build.dockerfile == "Dockerfile.production"
    assert gateway.container_ports == [8000]


def test_a_production_compose_file_bounds_redis_memory() -> None:
    """Redis runs with maxmemory and LRU eviction, under its own limit."""
    redis = ComposeFile.load(FIXTURE).service("redis", VARIABLES)
    assert redis.command is not None
    assert redis.command[:5] == [
        "redis-server",
        "--maxmemory",
        "128mb",
        "--maxmemory-policy",
        "allkeys-lru",
    ]
    assert redis.limits.memory_bytes == 192 * MIB


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("${A}", "1", id="braced"),
        pytest.param("$A-x", "1-x", id="bare"),
        pytest.param("${MISSING:-fallback}", "fallback", id="default"),
        pytest.param("${EMPTY:-fallback}", "fallback", id="default-on-empty"),
        pytest.param("${EMPTY-fallback}", "", id="default-only-when-unset"),
        pytest.param("$${A}", "${A}", id="escaped"),
    ],
)
def test_interpolation_follows_compose(text: str, expected: str) -> None:
    """Variables, defaults and escapes behave as in Compose."""
    assert interpolate(text, {"A": "1", "EMPTY": ""}, "x") == expected


def test_required_variable_names_itself() -> None:
    """${VAR:?message} fails with the variable and the message."""
    with pytest.raises(ComposeError, match=r"PROVIDER_AUTH_TOKEN.*must be set"):
        interpolate("${PROVIDER_AUTH_TOKEN:?must be set}", {}, "services.gateway")


@pytest.mark.parametrize(
    ("limits", "key"),
    [
        pytest.param("memory: lots", "limits.memory", id="memory-word"),
        pytest.param('cpus: "-1"', "limits.cpus", id="negative-cpus"),
        pytest.param("memory: 12Q", "limits.memory", id="unknown-unit"),
    ],
)
def test_bad_limits_name_the_key(tmp_path: Path, limits: str, key: str) -> None:
    """An unparsable limit is one clear error naming the service and key."""
    path = write(
        tmp_path,
        "services:\n  gateway:\n    image: g\n    deploy:\n      resources:\n"
        f"        limits:\n          {limits}\n",
    )
    with pytest.raises(ComposeError, match=f"services.gateway.deploy.resources.{key}"):
        ComposeFile.load(path).service("gateway", {})


def test_unknown_service_lists_the_known_ones(tmp_path: Path) -> None:
    """Asking for a service the file lacks names the services it has."""
    path = write(tmp_path, "services:\n  api:\n    image: a\n")
    with pytest.raises(ComposeError, match=r"no service 'gateway' .*api"):
        ComposeFile.load(path).service("gateway", {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("services: [", "not valid YAML", id="yaml"),
        pytest.param("version: '3'\n", "no 'services'", id="no-services"),
    ],
)
def test_unreadable_files_are_usage_errors(tmp_path: Path, text: str, message: str) -> None:
    """Broken YAML or a file without services is refused before anything starts."""
    with pytest.raises(ComposeError, match=message):
        ComposeFile.load(write(tmp_path, text))


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    """A compose path that does not exist is reported, not a traceback."""
    with pytest.raises(ComposeError, match="cannot read compose file"):
        ComposeFile.load(tmp_path / "nope.yml")
