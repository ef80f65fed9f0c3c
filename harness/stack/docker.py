"""The one module that talks to the Docker SDK.

Everything else in the harness describes containers with `ContainerSpec` and handles them as
`RunningContainer`; nothing outside this module imports `docker`.

Every container is started the same way, with docker-py. Redis used to be started through
testcontainers, for its PING wait: that one convenience cost a global configuration change
(Ryuk cannot be pulled here, nor its connection mode guessed inside a container), a second way
to stop a container (testcontainers' `stop()` is a forced remove, so a Redis outage could not be
a SIGTERM), and a dependency. loadgate already labels, reaps, waits for and stops its containers
itself, so Redis now gets the same treatment and a PING probe (`readiness.redis_ping`).
Every container and network loadgate creates carries `LABEL_RUN`, so `remove_leftovers()` can
find what a crashed run left behind. A run's stack also carries its owner (`LABEL_HOST`,
`LABEL_PID`): `loadgate clean` removes only what belongs to runs whose owner process is gone,
so it never pulls the stack from under a run still going in another terminal.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import socket
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import docker
import docker.errors
from docker.models.containers import Container
from docker.models.networks import Network
from docker.types import EndpointConfig, Healthcheck

from harness.errors import EngineUnavailableError, ImageBuildError

log = logging.getLogger("loadgate.docker")

LABEL_PROJECT = "io.loadgate"
LABEL_RUN = "io.loadgate.run"
LABEL_SERVICE = "io.loadgate.service"
LABEL_HOST = "io.loadgate.host"
LABEL_PID = "io.loadgate.pid"
NANO = 1_000_000_000
ENGINE_HINT = (
    "start Docker (on Debian as root `make engine` installs and starts it), "
    "or point DOCKER_HOST at a running engine"
)


def _disconnect_all(network: Network) -> None:
    """Containers a user attached to a run's network (its workers, say) are let go, not kept
    running on it: the run's network goes with the run."""
    network.reload()
    for container in network.containers:
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            network.disconnect(container, force=True)


def owner_labels() -> dict[str, str]:
    """This host and process, as the owner of what is being created."""
    return {LABEL_HOST: socket.gethostname(), LABEL_PID: str(os.getpid())}


def _owner(labels: Mapping[str, str]) -> str:
    """Why an object must be kept ("" when its owner is gone and it may be removed)."""
    host, pid = labels.get(LABEL_HOST), labels.get(LABEL_PID, "")
    if host is None or not pid.isdecimal():
        return "no owner recorded (an older loadgate, a bench run or an image build)"
    if host != socket.gethostname():
        return f"owned by a process on host {host}"
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return ""
    except PermissionError:
        pass  # alive, run by another user
    except (OverflowError, ValueError):
        return ""
    return f"its run is still going (pid {pid})"


@dataclass
class Leftovers:
    """What `remove_leftovers` removed, and what it kept and why."""

    containers: int = 0
    networks: int = 0
    kept: dict[str, int] = field(default_factory=dict)
    """Reason -> number of containers and networks kept for it."""

    def keep(self, reason: str) -> None:
        self.kept[reason] = self.kept.get(reason, 0) + 1


@dataclass(frozen=True)
class ImageInfo:
    name: str
    id: str
    size_bytes: int


@dataclass
class ContainerSpec:
    """How to run one container: the subset of `docker run` loadgate uses."""

    name: str
    image: str
    labels: dict[str, str]
    network: str
    aliases: list[str]
    command: list[str] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    ports: list[int] = field(default_factory=list)
    cpus: float | None = None
    memory_bytes: int | None = None
    memory_reservation_bytes: int | None = None
    healthcheck: Mapping[str, Any] | None = None
    stop_timeout_s: int = 10
    restart: str = "no"
    files: dict[str, bytes] = field(default_factory=dict)
    """Files copied into the container before it starts: absolute path -> content."""

    def run_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "name": self.name,
            "labels": self.labels,
            "network": self.network,
            "networking_config": {self.network: EndpointConfig("1.41", aliases=self.aliases)},
            "stop_signal": "SIGTERM",
        }
        if self.cpus is not None:
            kwargs["nano_cpus"] = int(self.cpus * NANO)
        if self.memory_bytes is not None:
            kwargs["mem_limit"] = self.memory_bytes
            kwargs["memswap_limit"] = self.memory_bytes  # no swap: a limit is a limit
        if self.memory_reservation_bytes is not None:
            kwargs["mem_reservation"] = self.memory_reservation_bytes
        if self.healthcheck is not None:
            kwargs["healthcheck"] = Healthcheck(**self.healthcheck)
        if self.restart not in ("", "no"):
            kwargs["restart_policy"] = {"Name": self.restart}
        return kwargs


class RunningContainer:
    """A started container: ports, logs, state, stop and removal."""

    def __init__(self, container: Container, service: str, stop_timeout_s: int = 10) -> None:
        self._container = container
        self.service = service
        self.stop_timeout_s = stop_timeout_s

    @property
    def id(self) -> str:
        return str(self._container.id)

    @property
    def name(self) -> str:
        return str(self._container.name)

    def state(self) -> dict[str, Any]:
        self._container.reload()
        state: dict[str, Any] = self._container.attrs["State"]
        return state

    def restart_count(self) -> int:
        self._container.reload()
        return int(self._container.attrs.get("RestartCount", 0))

    def pid(self) -> int:
        return int(self.state().get("Pid", 0))

    def host_port(self, container_port: int) -> int:
        self._container.reload()
        bindings = self._container.attrs["NetworkSettings"]["Ports"].get(f"{container_port}/tcp")
        if not bindings:
            raise RuntimeError(f"{self.name}: port {container_port} is not published")
        return int(bindings[0]["HostPort"])

    def healthcheck_test(self) -> list[str] | None:
        """The healthcheck the container runs (the image's or the one it was created with)."""
        self._container.reload()
        check = self._container.attrs["Config"].get("Healthcheck") or {}
        test = check.get("Test")
        return [str(part) for part in test] if test and test != ["NONE"] else None

    def logs(self, tail: int = 60) -> str:
        try:
            raw: bytes = self._container.logs(tail=tail)
        except docker.errors.APIError as exc:
            return f"(logs unavailable: {exc.explanation})"
        return raw.decode(errors="replace")

    def all_logs(self) -> str:
        return self.logs(tail="all")  # type: ignore[arg-type]

    def stats_stream(self) -> Iterator[dict[str, Any]]:
        return cast(Iterator[dict[str, Any]], self._container.stats(stream=True, decode=True))

    def stop(self, timeout_s: int | None = None) -> None:
        """SIGTERM, then SIGKILL after the stop grace period (the compose file's by default)."""
        self._container.stop(timeout=self.stop_timeout_s if timeout_s is None else timeout_s)

    def start(self) -> None:
        self._container.start()

    def remove(self) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self._container.remove(force=True, v=True)


def _tar(files: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, content in files.items():
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size = len(content)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


class DockerEngine:
    """A connected Docker engine."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client

    @classmethod
    def connect(cls) -> DockerEngine:
        try:
            client = docker.from_env(timeout=120)
            client.ping()
        except docker.errors.DockerException as exc:
            raise EngineUnavailableError(
                f"no Docker engine answers ({exc}); {ENGINE_HINT}"
            ) from exc
        return cls(client)

    def close(self) -> None:
        self.client.close()

    def image(self, name: str) -> ImageInfo | None:
        try:
            image = self.client.images.get(name)
        except docker.errors.ImageNotFound:
            return None
        return ImageInfo(name=name, id=str(image.id), size_bytes=int(image.attrs.get("Size", 0)))

    def exposed_ports(self, name: str) -> list[int]:
        """The TCP ports an image declares with `EXPOSE` (its `Config.ExposedPorts`)."""
        image = self.client.images.get(name)
        exposed = (image.attrs.get("Config") or {}).get("ExposedPorts") or {}
        ports = [key.partition("/") for key in exposed]
        return sorted(int(port) for port, _, protocol in ports if protocol in ("", "tcp"))

    def pull(self, name: str) -> str | None:
        """Pull an image; returns None on success, else the engine's reason."""
        try:
            self.client.images.pull(name)
        except docker.errors.APIError as exc:
            return str(exc.explanation or exc)
        return None

    def build(
        self,
        context: Path,
        dockerfile: str,
        tag: str,
        buildargs: Mapping[str, str],
    ) -> ImageInfo:
        """Build through the SDK with the layer cache; failures carry the end of the log."""
        lines: list[str] = []
        try:
            for chunk in self.client.api.build(
                path=str(context),
                dockerfile=dockerfile,
                tag=tag,
                buildargs=dict(buildargs),
                labels={LABEL_PROJECT: "image"},
                rm=True,
                forcerm=True,
                decode=True,
            ):
                if "stream" in chunk:
                    text = str(chunk["stream"]).rstrip()
                    if text:
                        lines.append(text)
                        log.debug("build %s: %s", tag, text)
                if "error" in chunk:
                    raise ImageBuildError(tag, str(chunk["error"]).strip(), "\n".join(lines[-25:]))
        except docker.errors.APIError as exc:
            raise ImageBuildError(tag, str(exc.explanation or exc), "\n".join(lines[-25:])) from exc
        info = self.image(tag)
        if info is None:
            raise ImageBuildError(tag, "the engine reported no image after the build")
        return info

    def import_rootfs(
        self, tarball: Path, repository: str, tag: str, changes: list[str]
    ) -> ImageInfo:
        try:
            self.client.api.import_image_from_file(
                str(tarball), repository=repository, tag=tag, changes=changes
            )
        except docker.errors.APIError as exc:
            raise ImageBuildError(f"{repository}:{tag}", str(exc.explanation or exc)) from exc
        info = self.image(f"{repository}:{tag}")
        if info is None:
            raise ImageBuildError(f"{repository}:{tag}", "import produced no image")
        return info

    def run_once(
        self,
        image: str,
        command: list[str],
        mounts: Mapping[Path, tuple[str, str]],
        environment: Mapping[str, str],
        labels: Mapping[str, str],
        user: str | None = None,
        network: str | None = None,
    ) -> tuple[int, str]:
        """Run a command to completion in a throwaway, labelled container; returns (code, logs)."""
        volumes = {str(host): {"bind": bind, "mode": mode} for host, (bind, mode) in mounts.items()}
        container = self.client.containers.run(
            image,
            command,
            volumes=volumes,
            environment=dict(environment),
            labels=dict(labels),
            user=user,
            network=network,
            detach=True,
        )
        try:
            status = container.wait()
            output: bytes = container.logs()
            return int(status.get("StatusCode", 1)), output.decode(errors="replace")
        finally:
            container.remove(force=True)

    def create_network(self, name: str, labels: Mapping[str, str]) -> str:
        network = self.client.networks.create(name, driver="bridge", labels=dict(labels))
        return str(network.id)

    def start(self, spec: ContainerSpec, service: str) -> RunningContainer:
        ports: dict[str, Any] = {f"{port}/tcp": ("127.0.0.1",) for port in spec.ports}
        container = self.client.containers.create(
            spec.image,
            spec.command,
            environment=spec.environment,
            ports=ports,
            **spec.run_kwargs(),
        )
        if spec.files:
            container.put_archive("/", _tar(spec.files))
        container.start()
        return RunningContainer(container, service, spec.stop_timeout_s)

    def remove_leftovers(self, run_id: str | None = None, everything: bool = False) -> Leftovers:
        """Remove one run's containers and networks; without `run_id`, those of every run whose
        owner process is gone (`everything`: of every run, live ones included)."""
        label = f"{LABEL_RUN}={run_id}" if run_id else LABEL_RUN
        done = Leftovers()
        for container in self.client.containers.list(all=True, filters={"label": label}):
            reason = "" if run_id or everything else _owner(container.labels)
            if reason:
                done.keep(reason)
                continue
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True, v=True)
            done.containers += 1
        for network in self.client.networks.list(filters={"label": label}):
            labels = network.attrs.get("Labels") or {}
            reason = "" if run_id or everything else _owner(labels)
            if reason:
                done.keep(reason)
                continue
            try:
                if run_id:
                    _disconnect_all(network)
                network.remove()
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                done.keep(f"in use ({exc.explanation})")
                continue
            done.networks += 1
        return done
