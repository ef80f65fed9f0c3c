"""The stack in Docker: compose limits really applied, services wired, nothing left behind."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from harness.errors import StackNotReadyError
from harness.run.pipeline import new_run_id
from harness.stack.docker import DockerEngine
from harness.stack.images import StackImages
from harness.stack.launch import GatewayStack, StackConfig
from harness.stack.services import ServiceSpec
from tests.integration.conftest import leftovers

MIB = 1024 * 1024
BODY = {
    "turns": [{"role": "user", "text": "cache me"}],
    "sampling_temperature": 0,
    "max_output_tokens": 16,
}


def inspect(engine: DockerEngine, stack: GatewayStack, service: str) -> dict[str, object]:
    attrs: dict[str, object] = engine.client.containers.get(stack.containers[service].id).attrs
    return attrs


def test_compose_limits_are_applied_to_the_gateway(
    engine: DockerEngine, stack: GatewayStack
) -> None:
    """CPU, memory, reservation, restart policy and healthcheck come from the compose file."""
    host = inspect(engine, stack, "gateway")["HostConfig"]
    assert isinstance(host, dict)
    assert host["NanoCpus"] == 1_000_000_000
    assert host["Memory"] == 512 * MIB
    assert host["MemoryReservation"] == 256 * MIB
    assert host["RestartPolicy"]["Name"] == "unless-stopped"
    config = inspect(engine, stack, "gateway")["Config"]
    assert isinstance(config, dict)
    assert "/ready" in " ".join(config["Healthcheck"]["Test"])


def test_redis_runs_with_its_compose_limits(engine: DockerEngine, stack: GatewayStack) -> None:
    """Redis gets its memory limit and maxmemory policy from the compose file."""
    attrs = inspect(engine, stack, "redis")
    host, config = attrs["HostConfig"], attrs["Config"]
    assert isinstance(host, dict) and isinstance(config, dict)
    assert host["Memory"] == 320 * MIB
    assert "allkeys-lru" in config["Cmd"]


def test_ports_are_published_on_loopback_only(engine: DockerEngine, stack: GatewayStack) -> None:
    """No container of the stack listens on the host's external interfaces."""
    for service in stack.containers:
        ports = inspect(engine, stack, service)["NetworkSettings"]
        assert isinstance(ports, dict)
        for bindings in ports["Ports"].values():
            for binding in bindings or []:
                assert binding["HostIp"] == "127.0.0.1", service


def test_identical_deterministic_requests_are_served_from_redis(stack: GatewayStack) -> None:
    """The second identical temperature-0 request never reaches the mock provider."""
    with httpx.Client(timeout=10) as client:
        before = client.get(f"{stack.mock_url}/admin/stats").json()["requests"]
        first = client.post(f"{stack.gateway_url}/v1/infer", json=BODY)
        second = client.post(f"{stack.gateway_url}/v1/infer", json=BODY)
        after = client.get(f"{stack.mock_url}/admin/stats").json()["requests"]
        metrics = client.get(f"{stack.gateway_url}/metrics").text
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert after - before == 1
    assert 'gateway_cache_lookups_total{outcome="hit"} 1.0' in metrics


def test_a_gateway_that_never_gets_ready_is_reported_with_its_logs(
    engine: DockerEngine, images: StackImages, services: tuple[ServiceSpec, ServiceSpec]
) -> None:
    """A broken configuration surfaces as StackNotReadyError carrying the container's logs."""
    gateway, redis = services
    broken = dataclasses.replace(
        gateway, environment={**gateway.environment, "MAX_CONCURRENCY": "lots"}, restart="no"
    )
    config = StackConfig(
        run_id=new_run_id(), gateway=broken, redis=redis, images=images, ready_timeout_s=30
    )
    with pytest.raises(StackNotReadyError) as caught, GatewayStack(engine, config, lambda m: None):
        pass
    assert caught.value.service == "gateway"
    assert "MAX_CONCURRENCY" in caught.value.logs
    assert leftovers(engine, config.run_id) == []
