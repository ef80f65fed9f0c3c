"""What a run launches for a gateway that is not ours: its services, variables and port inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ComposeError
from harness.run.gateway_services import gateway_under_test, stack_services
from harness.settings import RunSettings
from harness.stack.compose import ComposeFile
from scenarios.catalog import scenario

ROOT = Path(__file__).resolve().parents[4]
USER_COMPOSE = ROOT / "tests/fixtures/gateways/port8080/compose.yml"
TOKEN = "lg-test-unit-token"


def settings(**options: object) -> RunSettings:
    return RunSettings(
        scenario=scenario("smoke"),
        project_root=ROOT,
        compose_file=USER_COMPOSE,
        output_dir=Path("runs"),
        **options,  # type: ignore[arg-type]
    )


def test_gateway_env_wires_the_users_variables_and_satisfies_its_compose_file() -> None:
    """`${LLM_API_KEY:?}` is met by --gateway-env, and the placeholders point at the stack."""
    wired = settings(
        gateway_environment={
            "LLM_API_BASE": "{upstream_url}",
            "LLM_API_KEY": "{provider_token}",
            "CACHE_URL": "{redis_url}",
        }
    )
    gateway, redis = stack_services(ComposeFile.load(USER_COMPOSE), TOKEN, wired)
    assert (gateway.name, redis.name) == ("llm-gateway", "redis-cache")
    assert gateway.environment == {
        "LLM_API_BASE": "http://mock-upstream:8080",
        "LLM_API_KEY": TOKEN,
        "CACHE_URL": "redis://redis-cache:6379/0",
    }


def test_without_gateway_env_the_users_required_variable_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The compose file's own `${LLM_API_KEY:?message}` still stops the run, naming it."""
    monkeypatch.delenv("LLM_API_KEY", raising=False)
    with pytest.raises(ComposeError, match="LLM_API_KEY"):
        stack_services(ComposeFile.load(USER_COMPOSE), TOKEN, settings())


def test_a_gateway_in_the_compose_gateways_place_takes_its_port_from_its_image() -> None:
    """--gateway-image drops the compose file's port and sets its healthcheck for the default
    port, which the stack then moves to the port it chooses."""
    compose = ComposeFile.load(USER_COMPOSE)
    spec, _ = stack_services(compose, TOKEN, settings(gateway_environment={"LLM_API_KEY": "k"}))
    replaced = gateway_under_test(settings(gateway_image="team/gateway:2"), spec)
    assert replaced.image == "team/gateway:2" and replaced.build is None
    assert replaced.container_ports == []
    assert replaced.healthcheck is not None
    assert replaced.healthcheck.test == ["CMD", "curl", "-f", "http://localhost:8000/health"]
    assert replaced.limits == spec.limits
