"""Reads `docker-compose.prod.yml`: the single source of truth for what a run launches.

loadgate does not need Compose itself: it reads the services it launches (image, build, command,
environment, ports, resource limits, healthcheck, stop grace period, restart policy) and applies
them through the Docker SDK. This module reads the file: variables are interpolated the way
Compose does (`${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}`,
`$$`), and the gateway and Redis services are found. Each service's keys are read and checked by
`harness.stack.services`. A file that is not UTF-8, or whose aliases refer to themselves, is
refused as a whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ComposeError
from harness.stack.services import ServiceSpec, service_spec

MAX_NODES = 100_000
"""A service bigger than this after alias expansion is an alias bomb, not a deployment."""

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


GATEWAY_SERVICE_NAME = "gateway"
REDIS_SERVICE_NAME = "redis"
REDIS_IMAGES = ("redis", "valkey", "keydb")
"""Image names (last path component, tag dropped) that make a service the stack's Redis."""


def interpolate(text: str, variables: Mapping[str, str], where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("named")
        op, arg = match.group("op"), match.group("arg") or ""
        value = variables.get(name)
        if op in (":-", "-"):
            unset = value is None or (op == ":-" and value == "")
            return arg if unset else str(value)
        if op in (":?", "?"):
            if value is None or (op == ":?" and value == ""):
                raise ComposeError(f"{where}: variable {name} is required: {arg or 'not set'}")
            return value
        return value or ""

    return _VARIABLE.sub(replace, text)


def _interpolate_tree(
    node: Any, variables: Mapping[str, str], where: str, budget: list[int] | None = None
) -> Any:
    """`node` with every string interpolated; `budget` counts down the nodes still allowed."""
    budget = [MAX_NODES] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0:
        raise ComposeError(f"{where}: more than {MAX_NODES} values once YAML aliases are expanded")
    if isinstance(node, str):
        return interpolate(node, variables, where)
    if isinstance(node, list):
        return [
            _interpolate_tree(item, variables, f"{where}[{i}]", budget)
            for i, item in enumerate(node)
        ]
    if isinstance(node, dict):
        return {k: _interpolate_tree(v, variables, f"{where}.{k}", budget) for k, v in node.items()}
    return node


def read_compose_text(path: Path) -> str:
    """The file's text exactly as stored (line endings kept), refused unless it is UTF-8."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ComposeError(f"cannot read compose file {path}: {exc.strerror}") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ComposeError(
            f"{path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from exc


def _cycle(node: Any, where: str, path: list[int], done: set[int]) -> str | None:
    """The key path of the first alias that contains itself, or None."""
    if not isinstance(node, dict | list) or id(node) in done:
        return None
    if id(node) in path:
        return where
    path.append(id(node))
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        found = _cycle(value, f"{where}.{key}" if where else str(key), path, done)
        if found is not None:
            return found
    path.pop()
    done.add(id(node))
    return None


class ComposeFile:
    """A parsed compose file whose services can be turned into `ServiceSpec`s."""

    def __init__(self, path: Path, document: dict[str, Any]) -> None:
        self.path = path
        self._document = document

    @classmethod
    def load(cls, path: Path) -> ComposeFile:
        text = read_compose_text(path)
        try:
            document = yaml.safe_load(text)
            recursive = _cycle(document, "", [], set())
        except yaml.YAMLError as exc:
            reason = " ".join(str(exc).split())
            raise ComposeError(f"{path} is not valid YAML: {reason}") from exc
        except RecursionError as exc:
            raise ComposeError(f"{path} is nested too deeply to be a compose file") from exc
        if not isinstance(document, dict) or not isinstance(document.get("services"), dict):
            raise ComposeError(f"{path} has no 'services' mapping")
        if recursive is not None:
            raise ComposeError(f"{path}: {recursive} is a YAML alias to a node that contains it")
        return cls(path, document)

    @property
    def service_names(self) -> list[str]:
        return list(self._document["services"])

    def find_services(
        self, gateway: str | None = None, redis: str | None = None
    ) -> tuple[str, str]:
        """(gateway, Redis) service names: the ones given, else those named `gateway` and
        `redis`, else found: Redis runs a Redis image, the gateway is the one other service built
        from a Dockerfile or publishing a port. Ambiguity is refused, the services listed."""
        for given, flag in ((gateway, "--gateway-service"), (redis, "--redis-service")):
            if given is not None and given not in self._document["services"]:
                known = ", ".join(self.service_names)
                raise ComposeError(f"{flag} {given}: no such service in {self.path} ({known})")
        redis = redis or self._find(REDIS_SERVICE_NAME, "Redis", "--redis-service", _runs_redis)
        gateway = gateway or self._find(
            GATEWAY_SERVICE_NAME,
            "the gateway",
            "--gateway-service",
            lambda raw: not _runs_redis(raw) and ("build" in raw or bool(raw.get("ports"))),
            exclude=redis,
        )
        if gateway == redis:
            raise ComposeError(f"{self.path}: the gateway and Redis cannot be one service")
        return gateway, redis

    def _find(
        self,
        conventional: str,
        what: str,
        flag: str,
        looks_like: Callable[[dict[str, Any]], bool],
        exclude: str | None = None,
    ) -> str:
        services = self._document["services"]
        if conventional in services and conventional != exclude:
            return conventional
        found = [
            name
            for name, raw in services.items()
            if name != exclude and isinstance(raw, dict) and looks_like(raw)
        ]
        if len(found) == 1:
            return str(found[0])
        listed = ", ".join(found or self.service_names)
        which = "several services could be" if found else "no service looks like"
        raise ComposeError(f"{self.path.name}: {which} {what} ({listed}): pass {flag} NAME")

    def service(self, name: str, variables: Mapping[str, str]) -> ServiceSpec:
        raw = self._document["services"].get(name)
        if raw is None:
            known = ", ".join(self.service_names)
            raise ComposeError(f"{self.path}: no service {name!r} (services: {known})")
        where = f"{self.path.name}: services.{name}"
        if not isinstance(raw, dict):
            raise ComposeError(f"{where} is not a mapping")
        return service_spec(name, _interpolate_tree(raw, variables, where), where, self.path.parent)


def _runs_redis(raw: dict[str, Any]) -> bool:
    image = raw.get("image")
    if not isinstance(image, str):
        return False
    repository = image.split("@")[0].rsplit("/", 1)[-1].split(":")[0].lower()
    return any(repository.startswith(name) for name in REDIS_IMAGES)
