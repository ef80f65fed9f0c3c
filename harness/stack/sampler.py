"""Samples a container's memory, CPU and file descriptors for the whole run.

Working-set memory is what `docker stats` shows: usage minus inactive file cache. It is read
from the container's cgroup files (cgroup v1 or v2) several times a second at a cost of well
under a millisecond a sample. Where the host cannot read the cgroup files (Docker Desktop, a
remote engine), the Docker stats stream is the fallback, at its own pace of about one a second.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.stack.docker import RunningContainer

log = logging.getLogger("loadgate.sampler")

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class ResourceSample:
    """One sample; its fields, in order, are the columns of `resources.csv`."""

    t: float
    """Unix time of the sample."""
    memory_bytes: int
    """Working set: usage minus inactive file cache."""
    memory_usage_bytes: int
    cpu_ns: int
    """Cumulative CPU time of the container."""
    throttled_ns: int
    """Cumulative time the container was throttled by its CPU quota."""
    open_fds: int | None
    tcp_inbound: int | None = None
    """Established TCP connections to the gateway's port (its clients': the generator's)."""
    tcp_outbound: int | None = None
    """Established TCP connections the gateway opened itself (upstream pool, Redis)."""


def _read_int(path: Path) -> int:
    return int(path.read_text().split()[0])


def _read_stat(path: Path) -> dict[str, int]:
    stats: dict[str, int] = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            stats[key] = int(value)
    return stats


class CgroupReader:
    """Reads one container's cgroup files; `locate()` finds them for v1 or v2 hierarchies.

    On v1 the memory, CPU-accounting and CPU (quota, throttling) controllers may be mounted
    separately (`cpuacct/` and `cpu/`) or together (`cpu,cpuacct/`): each file is looked up in
    whichever hierarchy holds it.
    """

    def __init__(
        self, version: int, memory_dir: Path, usage_dir: Path, throttle_dir: Path | None
    ) -> None:
        self.version = version
        self.memory_dir = memory_dir
        self.usage_dir = usage_dir
        self.throttle_dir = throttle_dir

    @classmethod
    def locate(cls, container_id: str, pid: int, root: Path = CGROUP_ROOT) -> CgroupReader | None:
        proc_paths = _proc_cgroup_paths(pid)
        if (root / "cgroup.controllers").exists():  # unified hierarchy (v2)
            candidates = [proc_paths.get("", ""), f"system.slice/docker-{container_id}.scope"]
            candidates.append(f"docker/{container_id}")
            for rel in candidates:
                directory = root / rel.lstrip("/")
                if rel and (directory / "memory.current").exists():
                    return cls(2, directory, directory, directory)
            return None
        rels = [f"docker/{container_id}", f"system.slice/docker-{container_id}.scope"]
        memory = _first_existing(
            root / "memory", [proc_paths.get("memory", ""), *rels], "memory.usage_in_bytes"
        )
        usage = throttle = None
        for controller in ("cpu,cpuacct", "cpuacct", "cpu"):
            paths = [proc_paths.get("cpuacct", ""), proc_paths.get("cpu", ""), *rels]
            usage = usage or _first_existing(root / controller, paths, "cpuacct.usage")
            throttle = throttle or _first_existing(root / controller, paths, "cpu.stat")
        if memory is None or usage is None:
            return None
        return cls(1, memory, usage, throttle)

    def read(self) -> tuple[int, int, int, int]:
        """(working set, usage, cumulative CPU ns, cumulative throttled ns)."""
        if self.version == 2:
            usage = _read_int(self.memory_dir / "memory.current")
            inactive = _read_stat(self.memory_dir / "memory.stat").get("inactive_file", 0)
            cpu = _read_stat(self.usage_dir / "cpu.stat")
            return (
                max(0, usage - inactive),
                usage,
                cpu.get("usage_usec", 0) * 1000,
                cpu.get("throttled_usec", 0) * 1000,
            )
        usage = _read_int(self.memory_dir / "memory.usage_in_bytes")
        inactive = _read_stat(self.memory_dir / "memory.stat").get("total_inactive_file", 0)
        cpu_ns = _read_int(self.usage_dir / "cpuacct.usage")
        throttled = 0
        if self.throttle_dir is not None:
            throttled = _read_stat(self.throttle_dir / "cpu.stat").get("throttled_time", 0)
        return max(0, usage - inactive), usage, cpu_ns, throttled


def _proc_cgroup_paths(pid: int) -> dict[str, str]:
    """Controller → cgroup path from /proc/PID/cgroup ('' is the v2 unified entry)."""
    paths: dict[str, str] = {}
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            paths[controller.replace("name=", "")] = path
    return paths


def _first_existing(base: Path, rels: list[str], filename: str) -> Path | None:
    for rel in rels:
        if rel and rel != "/" and (base / rel.lstrip("/") / filename).exists():
            return base / rel.lstrip("/")
    return None


def _open_fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


TCP_ESTABLISHED = "01"


def tcp_sockets(pid: int, proc: Path = Path("/proc")) -> list[tuple[str, str]] | None:
    """(local address:port in hex, state) of every TCP socket in `pid`'s network namespace,
    read from the host's /proc/<pid>/net/tcp and tcp6 (no `docker exec`): the second column is
    the local address, the fourth the state. None when they cannot be read."""
    sockets = []
    try:
        for table in ("tcp", "tcp6"):
            with (proc / str(pid) / "net" / table).open() as handle:
                next(handle, None)
                for line in handle:
                    fields = line.split()
                    sockets.append((fields[1], fields[3]))
    except (OSError, IndexError):
        return None
    return sockets


def tcp_connections(
    pid: int, server_port: int, proc: Path = Path("/proc")
) -> tuple[int, int] | None:
    """(inbound, outbound) established connections in `pid`'s network namespace: inbound ones
    have `server_port` as their local port."""
    sockets = tcp_sockets(pid, proc)
    if sockets is None:
        return None
    port = f":{server_port:04X}"
    established = [local for local, state in sockets if state == TCP_ESTABLISHED]
    inbound = sum(1 for local in established if local.endswith(port))
    return inbound, len(established) - inbound


class ResourceSampler:
    """Samples one container in a background thread from `start()` until `stop()`."""

    def __init__(
        self, container: RunningContainer, server_port: int, interval_s: float = 0.2
    ) -> None:
        self.container = container
        self.server_port = server_port
        self.interval_s = interval_s
        self.samples: list[ResourceSample] = []
        self.source = "none"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        pid = self.container.pid()
        reader = CgroupReader.locate(self.container.id, pid)
        target: Callable[[], None]
        if reader is not None:
            self.source = f"cgroup-v{reader.version}"
            target = functools.partial(self._sample_cgroup, reader, pid)
        else:
            self.source = "docker-stats"
            target = self._sample_stats_stream
        log.debug("sampling %s via %s", self.container.name, self.source)
        self._thread = threading.Thread(target=target, name="resource-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> list[ResourceSample]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        return list(self.samples)

    def _sample_cgroup(self, reader: CgroupReader, pid: int) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                working_set, usage, cpu_ns, throttled_ns = reader.read()
            except (OSError, ValueError):
                pass  # the container is restarting or gone: keep trying until stopped
            else:
                connections = tcp_connections(pid, self.server_port) or (None, None)
                self.samples.append(
                    ResourceSample(
                        time.time(),
                        working_set,
                        usage,
                        cpu_ns,
                        throttled_ns,
                        _open_fds(pid),
                        *connections,
                    )
                )
            next_at += self.interval_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _sample_stats_stream(self) -> None:
        try:
            for stats in self.container.stats_stream():
                if self._stop.is_set():
                    return
                memory = stats.get("memory_stats", {})
                usage = int(memory.get("usage", 0))
                detail = memory.get("stats", {})
                inactive = int(detail.get("total_inactive_file", detail.get("inactive_file", 0)))
                cpu = stats.get("cpu_stats", {})
                throttling = cpu.get("throttling_data", {})
                self.samples.append(
                    ResourceSample(
                        time.time(),
                        max(0, usage - inactive),
                        usage,
                        int(cpu.get("cpu_usage", {}).get("total_usage", 0)),
                        int(throttling.get("throttled_time", 0)),
                        None,
                    )
                )
        except Exception as exc:  # noqa: BLE001 - the stream ends when the container goes
            log.debug("stats stream ended: %s", exc)
