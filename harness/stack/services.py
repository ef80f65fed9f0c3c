"""One compose service as loadgate launches it: `ServiceSpec`, and the readers of its keys.

Each key (image, build, command, environment, ports, deploy limits, healthcheck, stop grace
period, restart policy) is read and checked on its own, its key path in every error. Values
Docker would refuse only once the stack is half up are refused here: a CPU limit below 0.01 or
above this machine's CPUs, memory below Docker's 6 MiB minimum, a reservation above its limit,
an unknown restart policy, negative or non-integer retries. The file around the services
(interpolation, aliases, which service is the gateway) is `harness.stack.compose`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ComposeError
from harness.units import UnitError, parse_cpus, parse_duration, parse_memory
from reports.result import MIB

DOCKER_MIN_MEMORY = 6 * MIB
"""Docker refuses a memory limit or reservation below 6 MiB."""
DOCKER_MIN_CPUS = 0.01
RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")


@dataclass(frozen=True)
class ResourceLimits:
    cpus: float | None = None
    memory_bytes: int | None = None
    reserved_cpus: float | None = None
    reserved_memory_bytes: int | None = None


@dataclass(frozen=True)
class Healthcheck:
    test: list[str]
    interval_s: float = 30.0
    timeout_s: float = 30.0
    retries: int = 3
    start_period_s: float = 0.0


@dataclass(frozen=True)
class BuildSpec:
    context: Path
    dockerfile: str
    loadgate_base: bool = True
    """Pass loadgate's BASE_IMAGE build argument (loadgate's own Dockerfiles take it)."""


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    image: str
    build: BuildSpec | None = None
    command: list[str] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    container_ports: list[int] = field(default_factory=list)
    limits: ResourceLimits = ResourceLimits()
    healthcheck: Healthcheck | None = None
    stop_grace_s: float = 10.0
    restart: str = "no"


def _image_name(name: str, raw: dict[str, Any], where: str) -> str:
    """The service's `image`; a service with only `build` gets a name of loadgate's, as Compose
    gives it one of its own."""
    image = raw.get("image")
    if isinstance(image, str) and image:
        return image
    if image is None and raw.get("build") is not None:
        return f"loadgate/compose-{re.sub(r'[^a-z0-9._-]', '-', name.lower())}:latest"
    raise ComposeError(f"{where}.image must be set to an image name")


def service_spec(name: str, raw: dict[str, Any], where: str, base_dir: Path) -> ServiceSpec:
    image = _image_name(name, raw, where)
    return ServiceSpec(
        name=name,
        image=image,
        build=_build(raw.get("build"), where, base_dir),
        command=_command(raw.get("command"), where),
        environment=_environment(raw.get("environment"), where),
        container_ports=_ports(raw.get("ports"), where),
        limits=_limits(raw.get("deploy"), where),
        healthcheck=_healthcheck(raw.get("healthcheck"), where),
        stop_grace_s=_duration(raw.get("stop_grace_period", "10s"), f"{where}.stop_grace_period"),
        restart=_restart(raw.get("restart", "no"), f"{where}.restart"),
    )


def _restart(raw: object, where: str) -> str:
    """A restart policy Docker takes by name (YAML 1.1 reads a bare `no` as false)."""
    policy = "no" if raw is False else raw
    if policy not in RESTART_POLICIES:
        raise ComposeError(f"{where}: {raw!r} is not one of {', '.join(RESTART_POLICIES)}")
    return str(policy)


def _duration(value: object, where: str) -> float:
    try:
        return parse_duration(value)
    except UnitError as exc:
        raise ComposeError(f"{where}: {exc}") from exc


def _build(raw: object, where: str, base_dir: Path) -> BuildSpec | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return BuildSpec(context=(base_dir / raw).resolve(), dockerfile="Dockerfile")
    if isinstance(raw, dict):
        context = raw.get("context", ".")
        return BuildSpec(
            context=(base_dir / str(context)).resolve(),
            dockerfile=str(raw.get("dockerfile", "Dockerfile")),
        )
    raise ComposeError(f"{where}.build must be a path or a mapping")


def _command(raw: object, where: str) -> list[str] | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw.split()
    if isinstance(raw, list):
        return [str(part) for part in raw]
    raise ComposeError(f"{where}.command must be a string or a list")


def _environment(raw: object, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return {str(k): "" if v is None else str(v) for k, v in raw.items()}
    if isinstance(raw, list):
        pairs = [str(item).partition("=") for item in raw]
        return {key: value for key, _, value in pairs}
    raise ComposeError(f"{where}.environment must be a mapping or a list")


def _ports(raw: object, where: str) -> list[int]:
    """The container side of each published port; loadgate publishes them on 127.0.0.1 only."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ComposeError(f"{where}.ports must be a list")
    ports = []
    for item in raw:
        target = item.get("target") if isinstance(item, dict) else str(item).split(":")[-1]
        try:
            ports.append(int(str(target).split("/")[0]))
        except ValueError as exc:
            raise ComposeError(f"{where}.ports: cannot read {item!r}") from exc
    return ports


def _section(raw: object, where: str) -> dict[str, Any]:
    """A mapping of the deploy tree; absent (or empty) is an empty mapping."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ComposeError(f"{where} must be a mapping")
    return raw


def _read_unit(section: dict[str, Any], name: str, parser: Any, where: str) -> Any:
    if name not in section:
        return None
    try:
        return parser(section[name])
    except UnitError as exc:
        raise ComposeError(f"{where}.{name}: {exc}") from exc


def _limits(raw: object, where: str) -> ResourceLimits:
    deploy = _section(raw, f"{where}.deploy")
    key = f"{where}.deploy.resources"
    resources = _section(deploy.get("resources"), key)
    limits = _section(resources.get("limits"), f"{key}.limits")
    reservations = _section(resources.get("reservations"), f"{key}.reservations")
    read = ResourceLimits(
        cpus=_read_unit(limits, "cpus", parse_cpus, f"{key}.limits"),
        memory_bytes=_read_unit(limits, "memory", parse_memory, f"{key}.limits"),
        reserved_cpus=_read_unit(reservations, "cpus", parse_cpus, f"{key}.reservations"),
        reserved_memory_bytes=_read_unit(
            reservations, "memory", parse_memory, f"{key}.reservations"
        ),
    )
    _check_limits(read, key)
    return read


def _check_limits(limits: ResourceLimits, key: str) -> None:
    """Refuse what Docker would refuse once the stack is half up, naming the key."""
    machine = os.cpu_count() or 1
    for name, cpus in (("limits", limits.cpus), ("reservations", limits.reserved_cpus)):
        if cpus is not None and not DOCKER_MIN_CPUS <= cpus <= machine:
            raise ComposeError(
                f"{key}.{name}.cpus: {cpus:g} is outside {DOCKER_MIN_CPUS:g} to {machine}, "
                f"the CPUs of this machine"
            )
    for name, size in (
        ("limits", limits.memory_bytes),
        ("reservations", limits.reserved_memory_bytes),
    ):
        if size is not None and size < DOCKER_MIN_MEMORY:
            raise ComposeError(
                f"{key}.{name}.memory: {size} bytes is below Docker's minimum of 6 MiB"
            )
    pairs = (
        ("cpus", limits.reserved_cpus, limits.cpus),
        ("memory", limits.reserved_memory_bytes, limits.memory_bytes),
    )
    for name, reserved, limit in pairs:
        if reserved is not None and limit is not None and reserved > limit:
            raise ComposeError(
                f"{key}.reservations.{name} is above limits.{name}: "
                "a reservation cannot exceed its limit"
            )


def _retries(raw: object, where: str) -> int:
    """A count of 0 or more; a string of digits is taken too (what interpolation leaves)."""
    if isinstance(raw, str) and raw.strip().isdecimal():
        return int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise ComposeError(f"{where}: {raw!r} is not a whole number of 0 or more")
    return raw


def _healthcheck(raw: object, where: str) -> Healthcheck | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ComposeError(f"{where}.healthcheck must be a mapping")
    if raw.get("disable"):
        return None
    test = raw.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if not isinstance(test, list) or not test:
        raise ComposeError(f"{where}.healthcheck.test must be a list or a string")
    hc = f"{where}.healthcheck"
    return Healthcheck(
        test=[str(part) for part in test],
        interval_s=_duration(raw.get("interval", "30s"), f"{hc}.interval"),
        timeout_s=_duration(raw.get("timeout", "30s"), f"{hc}.timeout"),
        retries=_retries(raw.get("retries", 3), f"{hc}.retries"),
        start_period_s=_duration(raw.get("start_period", "0s"), f"{hc}.start_period"),
    )
