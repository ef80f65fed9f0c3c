"""The services a launched run starts: the compose file's gateway and Redis, as the run needs them.

The compose file says what to launch; `--gateway-env`, `--gateway-image`/`--gateway-build` and the
scenario (its gateway settings, `oom`'s memory limit) change it. The provider token and client key
are wired in here, through the environment and compose interpolation, never written to a file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os

from harness.errors import UsageError
from harness.settings import RunSettings
from harness.stack.compose import ComposeFile
from harness.stack.launch import MOCK_PORT, MOCK_SERVICE, REDIS_PORT
from harness.stack.services import BuildSpec, ServiceSpec
from harness.stack.wiring import DEFAULT_GATEWAY_PORT, fill_placeholders, rewrite_healthcheck_port
from reports.result import MIB


def stack_services(
    compose: ComposeFile, token: str, settings: RunSettings, client_key: str = ""
) -> tuple[ServiceSpec, ServiceSpec]:
    """The gateway and Redis services of the compose file, found by `find_services`, with the
    `--gateway-env` variables set (they also interpolate the compose file, so a `${NAME:?}` of the
    user's own is satisfied by them)."""
    gateway_name, redis_name = compose.find_services(
        settings.gateway_service, settings.redis_service
    )
    upstream = f"http://{MOCK_SERVICE}:{MOCK_PORT}"
    wired = fill_placeholders(
        settings.gateway_environment,
        {
            "upstream_url": upstream,
            "provider_token": token,
            "redis_url": f"redis://{redis_name}:{REDIS_PORT}/0",
            "client_key": client_key,
        },
    )
    variables = {
        **os.environ,
        "PROVIDER_AUTH_TOKEN": token,
        "UPSTREAM_BASE_URL": upstream,
        "GATEWAY_API_KEYS": client_key,
        **wired,
    }
    gateway = compose.service(gateway_name, variables)
    gateway = dataclasses.replace(gateway, environment={**gateway.environment, **wired})
    return gateway, compose.service(redis_name, variables)


def gateway_under_test(settings: RunSettings, spec: ServiceSpec) -> ServiceSpec:
    """The compose file's gateway service, or another gateway in its place (same limits, same
    environment): an existing image, or a directory built with its own Dockerfile. A gateway in
    its place does not inherit the compose file's port: its image says where it listens, and the
    healthcheck, written for the compose file's port, is set to follow the one chosen."""
    if settings.gateway_image or settings.gateway_build:
        spec = _port_left_to_image(spec)
    if settings.gateway_image:
        return dataclasses.replace(spec, image=settings.gateway_image, build=None)
    if settings.gateway_build:
        context = settings.gateway_build.resolve()
        if not (context / "Dockerfile").is_file():
            raise UsageError(f"--gateway-build {settings.gateway_build}: no Dockerfile in it")
        tag = (
            "loadgate/gateway-under-test:" + hashlib.sha256(str(context).encode()).hexdigest()[:12]
        )
        build = BuildSpec(context=context, dockerfile="Dockerfile", loadgate_base=False)
        return dataclasses.replace(spec, image=tag, build=build)
    return spec


def _port_left_to_image(spec: ServiceSpec) -> ServiceSpec:
    """No published port, and a healthcheck written for the default port (which the stack moves
    to the port it chooses)."""
    check = spec.healthcheck
    if check is not None:
        test = rewrite_healthcheck_port(check.test, spec.container_ports, DEFAULT_GATEWAY_PORT)
        check = dataclasses.replace(check, test=test)
    return dataclasses.replace(spec, container_ports=[], healthcheck=check)


def scenario_gateway(settings: RunSettings, spec: ServiceSpec) -> ServiceSpec:
    """The gateway service with the scenario's settings and, for `oom`, its memory limit."""
    scenario = settings.scenario
    limits = settings.gateway_limits or spec.limits
    if scenario.gateway_memory_mb is not None:
        memory = scenario.gateway_memory_mb * MIB
        limits = dataclasses.replace(
            limits,
            memory_bytes=memory,
            reserved_memory_bytes=min(limits.reserved_memory_bytes or memory, memory),
        )
    environment = {**spec.environment, **scenario.gateway_environment}
    return dataclasses.replace(spec, limits=limits, environment=environment)
