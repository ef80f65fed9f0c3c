"""`GatewayStack`: Redis, the mock upstream and the gateway on a private, labelled network.

The services come from the compose file (limits, healthcheck, stop grace period, restart policy
and environment applied through the SDK); the mock upstream is loadgate's own. Ports are published
on 127.0.0.1 only. Each service is waited for by `harness.stack.readiness`. The gateway's port is
chosen before anything starts (`harness.stack.wiring`), and a gateway that listens elsewhere is
caught within seconds from its listening sockets, read from the host's /proc like the sampler's
connections (no `docker exec`): waiting out the ready timeout would cost a minute and say only
"no answer". Used as a context manager: start-up failures,
errors and interrupts all end in `teardown()`, which removes every container and the network of
the run.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from harness.errors import StackNotReadyError
from harness.stack.docker import (
    LABEL_PROJECT,
    LABEL_RUN,
    LABEL_SERVICE,
    NANO,
    ContainerSpec,
    DockerEngine,
    RunningContainer,
    owner_labels,
)
from harness.stack.images import StackImages
from harness.stack.readiness import ReadyProbe, check_running, http_ok, redis_ping, wait_ready
from harness.stack.sampler import tcp_sockets
from harness.stack.services import Healthcheck, ServiceSpec
from harness.stack.wiring import DEFAULT_GATEWAY_PORT, choose_gateway_port, rewrite_healthcheck_port

log = logging.getLogger("loadgate.stack")

GATEWAY_SERVICE = "gateway"
REDIS_SERVICE = "redis"
MOCK_SERVICE = "mock-upstream"
MOCK_PORT = 8080
REDIS_PORT = 6379
GATEWAY_PORT = DEFAULT_GATEWAY_PORT
TCP_LISTEN = "0A"
LISTEN_GRACE_S = 3.0
"""How long a gateway may listen elsewhere than on its probed port before the run gives up."""


@dataclass
class StackConfig:
    run_id: str
    gateway: ServiceSpec
    redis: ServiceSpec
    images: StackImages
    mock_environment: dict[str, str] = field(default_factory=dict)
    ready_timeout_s: float = 60.0
    ready_path: str = "/ready"
    gateway_port: int | None = None
    """--gateway-port; None: the compose service's port, else the image's, else 8000."""


def _healthcheck(check: Healthcheck | None) -> dict[str, object] | None:
    if check is None:
        return None
    return {
        "test": check.test,
        "interval": int(check.interval_s * NANO),
        "timeout": int(check.timeout_s * NANO),
        "retries": check.retries,
        "start_period": int(check.start_period_s * NANO),
    }


def _is_loopback(address: str) -> bool:
    """A /proc/net/tcp{,6} local address (hex, host byte order) on the loopback interface."""
    if len(address) == 8:
        return address.endswith("7F")
    mapped = address.startswith("0000000000000000FFFF0000") and address.endswith("7F")
    return mapped or address == "00000000000000000000000001000000"


def listening_sockets(pid: int, proc: Path = Path("/proc")) -> set[tuple[int, bool]] | None:
    """(port, loopback only) of every listening TCP socket in `pid`'s network namespace (state
    0A); None when they cannot be read."""
    sockets = tcp_sockets(pid, proc)
    if sockets is None:
        return None
    listening = set()
    try:
        for local, state in sockets:
            if state == TCP_LISTEN:
                address, _, port = local.partition(":")
                listening.add((int(port, 16), _is_loopback(address)))
    except ValueError:
        return None
    return listening


@dataclass
class ListenWatch:
    """Says why a gateway that listens, but not where it is probed, will never be ready, once it
    has done so for `grace_s` (a server may open an admin port before its main one). Sockets on
    the loopback count only on the probed port: Docker's own DNS resolver listens on 127.0.0.11
    in every container of a user-defined network."""

    port: int
    exposed: list[int]
    grace_s: float = LISTEN_GRACE_S
    since: float | None = None

    def problem(self, sockets: set[tuple[int, bool]] | None, now: float) -> str | None:
        reachable = {port for port, loopback in sockets or () if not loopback}
        loopback_only = (self.port, True) in (sockets or ()) and self.port not in reachable
        if self.port in reachable or not (reachable or loopback_only):
            self.since = None
            return None
        self.since = now if self.since is None else self.since
        if now - self.since < self.grace_s:
            return None
        if loopback_only:
            return (
                f"the gateway listens on {self.port} on the loopback only, out of reach of "
                "the published port: make it listen on 0.0.0.0"
            )
        ports = sorted(reachable)
        listed = ", ".join(str(port) for port in ports)
        image = ", ".join(str(port) for port in self.exposed) or "no port"
        advice = f"--gateway-port {ports[0]}" if len(ports) == 1 else "--gateway-port PORT"
        return (
            f"the gateway listens on {listed}, not on {self.port} "
            f"(the image exposes {image}): pass {advice}"
        )


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold Ctrl-C/SIGTERM while tearing down; they are delivered right after."""
    held = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


class GatewayStack:
    def __init__(
        self, engine: DockerEngine, config: StackConfig, say: Callable[[str], None]
    ) -> None:
        self.engine = engine
        self.config = config
        self.say = say
        self.network = f"loadgate-{config.run_id}"
        self.containers: dict[str, RunningContainer] = {}
        self.gateway_url = ""
        self.mock_url = ""
        self.gateway_port = config.gateway_port or GATEWAY_PORT
        """The gateway's port inside its container: probed, published, sampled."""
        self.exposed_ports: list[int] = []

    def __enter__(self) -> GatewayStack:
        try:
            self.start()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.teardown()

    @property
    def gateway(self) -> RunningContainer:
        return self.containers[GATEWAY_SERVICE]

    def labels(self, service: str) -> dict[str, str]:
        return {
            LABEL_PROJECT: "stack",
            LABEL_RUN: self.config.run_id,
            LABEL_SERVICE: service,
            **owner_labels(),
        }

    def _spec(self, service: ServiceSpec, image: str) -> ContainerSpec:
        limits = service.limits
        return ContainerSpec(
            name=f"loadgate-{self.config.run_id}-{service.name}",
            image=image,
            labels=self.labels(service.name),
            network=self.network,
            aliases=[service.name],
            command=service.command,
            environment=service.environment,
            ports=service.container_ports,
            cpus=limits.cpus,
            memory_bytes=limits.memory_bytes,
            memory_reservation_bytes=limits.reserved_memory_bytes,
            healthcheck=_healthcheck(service.healthcheck),
            stop_timeout_s=math.ceil(service.stop_grace_s),
            restart=service.restart,
        )

    def choose_gateway_port(self) -> ServiceSpec:
        """Fix `gateway_port` (a UsageError when it is ambiguous) and return the gateway service
        with its healthcheck following it."""
        cfg = self.config
        self.exposed_ports = self.engine.exposed_ports(cfg.images.gateway.name)
        declared = cfg.gateway.container_ports
        self.gateway_port = choose_gateway_port(cfg.gateway_port, declared, self.exposed_ports)
        check = cfg.gateway.healthcheck
        if check is None:
            return cfg.gateway
        test = rewrite_healthcheck_port(check.test, declared, self.gateway_port)
        return dataclasses.replace(cfg.gateway, healthcheck=dataclasses.replace(check, test=test))

    def start(self) -> None:
        cfg = self.config
        gateway = self.choose_gateway_port()
        self.engine.create_network(self.network, self.labels("network"))
        self.say("starting redis")
        redis_spec = self._spec(cfg.redis, cfg.images.redis.name)
        redis_spec.ports = [REDIS_PORT]
        redis = self.engine.start(redis_spec, REDIS_SERVICE)
        self.containers[REDIS_SERVICE] = redis
        self._wait_ready(REDIS_SERVICE, redis_ping(redis.host_port(REDIS_PORT)))

        self.say("starting the mock upstream")
        mock = ContainerSpec(
            name=f"loadgate-{cfg.run_id}-{MOCK_SERVICE}",
            image=cfg.images.mock.name,
            labels=self.labels(MOCK_SERVICE),
            network=self.network,
            aliases=[MOCK_SERVICE],
            environment=cfg.mock_environment,
            ports=[MOCK_PORT],
        )
        self.containers[MOCK_SERVICE] = self.engine.start(mock, MOCK_SERVICE)
        self.mock_url = f"http://127.0.0.1:{self.containers[MOCK_SERVICE].host_port(MOCK_PORT)}"
        self._wait_ready(MOCK_SERVICE, http_ok(f"{self.mock_url}/health"))

        self.say("starting the gateway")
        gateway_spec = self._spec(gateway, cfg.images.gateway.name)
        if self.gateway_port not in gateway_spec.ports:
            gateway_spec.ports = [*gateway_spec.ports, self.gateway_port]
        self.containers[GATEWAY_SERVICE] = self.engine.start(gateway_spec, GATEWAY_SERVICE)
        self.gateway_url = f"http://127.0.0.1:{self.gateway.host_port(self.gateway_port)}"
        watch = ListenWatch(self.gateway_port, self.exposed_ports)
        self._wait_ready(GATEWAY_SERVICE, http_ok(f"{self.gateway_url}{cfg.ready_path}"), watch)

    def _wait_ready(
        self, service: str, probe: ReadyProbe, watch: ListenWatch | None = None
    ) -> None:
        """Probe until `probe` says ready; give up at once on a container that died."""
        container = self.containers[service]
        timeout_s = self.config.ready_timeout_s
        wait_ready(
            service, probe, timeout_s, lambda: self._check_alive(service, watch), container.logs
        )

    def _check_alive(self, service: str, watch: ListenWatch | None) -> None:
        """Give up at once on a container that exited, or that listens where it is not probed."""
        container = self.containers[service]
        check_running(container)
        pid = container.state().get("Pid") if watch is not None else None
        if watch is None or not pid:
            return
        reason = watch.problem(listening_sockets(int(pid)), time.monotonic())
        if reason is not None:
            raise StackNotReadyError(service, reason, container.logs())

    def teardown(self) -> None:
        with _signals_held():
            for name in reversed(list(self.containers)):
                try:
                    self.containers[name].remove()
                except Exception as exc:  # noqa: BLE001 - keep removing the rest
                    log.warning("could not remove %s: %s", name, exc)
            self.containers.clear()
            self.engine.remove_leftovers(self.config.run_id)
