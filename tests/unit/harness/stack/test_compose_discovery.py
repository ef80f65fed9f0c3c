"""Finding the gateway and Redis in a user's compose file, whatever the services are called."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ComposeError
from harness.stack.compose import ComposeFile

ROOT = Path(__file__).resolve().parents[4]
USER_COMPOSE = ROOT / "tests/fixtures/gateways/port8080/compose.yml"


def load(tmp_path: Path, services: str) -> ComposeFile:
    path = tmp_path / "compose.yml"
    path.write_text("services:\n" + services)
    return ComposeFile.load(path)


def test_a_production_compose_file_keeps_its_names() -> None:
    """The project's layout: `gateway` and `redis`, as before."""
    compose = ComposeFile.load(ROOT / "tests" / "fixtures" / "compose" / "two-services.yml")
    assert compose.find_services() == ("gateway", "redis")


def test_a_users_compose_file_is_read_as_written() -> None:
    """llm-gateway (built, publishing 127.0.0.1:8080:8080) and redis-cache are found; the
    build-only service gets an image name, and its port is the container side of `ports`."""
    compose = ComposeFile.load(USER_COMPOSE)
    assert compose.find_services() == ("llm-gateway", "redis-cache")
    gateway = compose.service("llm-gateway", {"LLM_API_KEY": "k"})
    assert gateway.image == "loadgate/compose-llm-gateway:latest"
    assert gateway.build is not None and gateway.build.context == USER_COMPOSE.parent
    assert gateway.container_ports == [8080]
    assert gateway.command is not None and "--workers" in gateway.command


@pytest.mark.parametrize(
    ("services", "expected"),
    [
        pytest.param(
            "  api:\n    image: team/api:1\n    ports: ['8080:8080']\n"
            "  cache-layer:\n    image: bitnami/redis:7.2\n",
            ("api", "cache-layer"),
            id="published-port-and-bitnami-redis",
        ),
        pytest.param(
            "  worker:\n    image: team/worker:1\n"
            "  llm:\n    build: .\n"
            "  kv:\n    image: valkey/valkey:8@sha256:abc\n",
            ("llm", "kv"),
            id="built-and-valkey",
        ),
        pytest.param(
            "  gateway:\n    image: team/gw:1\n"
            "  edge:\n    image: nginx\n    ports: ['80:80']\n"
            "  redis:\n    image: redis\n",
            ("gateway", "redis"),
            id="conventional-names-first",
        ),
    ],
)
def test_services_are_found_by_what_they_run(
    tmp_path: Path, services: str, expected: tuple[str, str]
) -> None:
    """Redis runs a Redis image; the gateway is the one other service built or publishing."""
    assert load(tmp_path, services).find_services() == expected


@pytest.mark.parametrize(
    ("services", "expected"),
    [
        pytest.param(
            "  api:\n    build: .\n  admin:\n    build: ./admin\n  cache:\n    image: redis:7\n",
            "compose.yml: several services could be the gateway (api, admin): "
            "pass --gateway-service NAME",
            id="two-gateways",
        ),
        pytest.param(
            "  api:\n    build: .\n  worker:\n    image: team/w\n",
            "compose.yml: no service looks like Redis (api, worker): pass --redis-service NAME",
            id="no-redis",
        ),
        pytest.param(
            "  a:\n    image: redis\n  b:\n    image: redis:7-alpine\n  api:\n    build: .\n",
            "compose.yml: several services could be Redis (a, b): pass --redis-service NAME",
            id="two-redis",
        ),
    ],
)
def test_ambiguity_is_refused_with_the_services_listed(
    tmp_path: Path, services: str, expected: str
) -> None:
    """No guess: one line that lists the candidates and names the flag."""
    with pytest.raises(ComposeError) as caught:
        load(tmp_path, services).find_services()
    assert str(caught.value) == expected


def test_the_flags_settle_ambiguity(tmp_path: Path) -> None:
    """--gateway-service and --redis-service pick among candidates."""
    compose = load(
        tmp_path,
        "  api:\n    build: .\n  admin:\n    build: ./admin\n"
        "  a:\n    image: redis\n  b:\n    image: redis\n",
    )
    assert compose.find_services("admin", "b") == ("admin", "b")
    assert compose.find_services("api", "a") == ("api", "a")


@pytest.mark.parametrize(
    ("gateway", "redis", "expected"),
    [
        pytest.param("nope", None, "--gateway-service nope: no such service", id="unknown-gateway"),
        pytest.param(None, "nope", "--redis-service nope: no such service", id="unknown-redis"),
        pytest.param("cache", None, "cannot be one service", id="same-service"),
    ],
)
def test_bad_service_flags_are_refused(
    tmp_path: Path, gateway: str | None, redis: str | None, expected: str
) -> None:
    """A service flag naming no service, or Redis as the gateway, is a usage error."""
    compose = load(tmp_path, "  api:\n    build: .\n  cache:\n    image: redis\n")
    with pytest.raises(ComposeError) as caught:
        compose.find_services(gateway, redis)
    assert expected in str(caught.value)


def test_a_service_with_neither_image_nor_build_is_refused(tmp_path: Path) -> None:
    """Without `image` or `build` there is nothing to launch: the key is named."""
    compose = load(tmp_path, "  api:\n    ports: ['8080:8080']\n")
    with pytest.raises(ComposeError, match=r"services\.api\.image must be set"):
        compose.service("api", {})
