"""`GatewayStack`: Redis, the mock upstream and the gateway on a private, labelled network.

The services come from the compose file (limits, healthcheck, stop grace period, restart policy
and environment applied through the SDK); the mock upstream is loadgate's own. Ports are published
on 127.0.0.1 only. Used as a context manager: start-up failures, errors and interrupts all end in
`teardown()`, which removes every container and the network of the run.
"""

from __future__ import annotations

import logging
import math
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType

import httpx

from harness.compose import Healthcheck, ServiceSpec
from harness.docker import (
    LABEL_PROJECT,
    LABEL_RUN,
    LABEL_SERVICE,
    NANO,
    ContainerSpec,
    DockerEngine,
    RunningContainer,
    owner_labels,
)
from harness.errors import StackNotReadyError
from harness.images import StackImages

log = logging.getLogger("loadgate.stack")

GATEWAY_SERVICE = "gateway"
REDIS_SERVICE = "redis"
MOCK_SERVICE = "mock-upstream"
MOCK_PORT = 8080
GATEWAY_PORT = 8000


@dataclass
class StackConfig:
    run_id: str
    gateway: ServiceSpec
    redis: ServiceSpec
    images: StackImages
    mock_environment: dict[str, str] = field(default_factory=dict)
    ready_timeout_s: float = 60.0
    ready_path: str = "/ready"


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

    def start(self) -> None:
        cfg = self.config
        self.engine.create_network(self.network, self.labels("network"))
        self.say("starting redis")
        redis_spec = self._spec(cfg.redis, cfg.images.redis.name)
        redis_spec.ports = []
        self.containers[REDIS_SERVICE] = self.engine.start_redis(redis_spec, REDIS_SERVICE)

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
        self._wait_ready(MOCK_SERVICE, f"{self.mock_url}/health")

        self.say("starting the gateway")
        gateway_spec = self._spec(cfg.gateway, cfg.images.gateway.name)
        if GATEWAY_PORT not in gateway_spec.ports:
            gateway_spec.ports = [*gateway_spec.ports, GATEWAY_PORT]
        self.containers[GATEWAY_SERVICE] = self.engine.start(gateway_spec, GATEWAY_SERVICE)
        self.gateway_url = f"http://127.0.0.1:{self.gateway.host_port(GATEWAY_PORT)}"
        self._wait_ready(GATEWAY_SERVICE, f"{self.gateway_url}{cfg.ready_path}")

    def _wait_ready(self, service: str, url: str) -> None:
        container = self.containers[service]
        deadline = time.monotonic() + self.config.ready_timeout_s
        last = "no answer yet"
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                state = container.state()
                if state.get("Status") in ("exited", "dead") or state.get("Restarting"):
                    reason = f"container exited with code {state.get('ExitCode')}"
                    if state.get("OOMKilled"):
                        reason += " (OOM-killed)"
                    raise StackNotReadyError(service, reason, container.logs())
                try:
                    response = client.get(url)
                    if response.status_code == 200:
                        return
                    last = f"{url} answered {response.status_code}"
                except httpx.HTTPError as exc:
                    last = f"{url}: {type(exc).__name__}"
                time.sleep(0.2)
        raise StackNotReadyError(
            service,
            f"not ready after {self.config.ready_timeout_s:.0f} s ({last})",
            container.logs(),
        )

    def teardown(self) -> None:
        with _signals_held():
            for name in reversed(list(self.containers)):
                try:
                    self.containers[name].remove()
                except Exception as exc:  # noqa: BLE001 - keep removing the rest
                    log.warning("could not remove %s: %s", name, exc)
            self.containers.clear()
            self.engine.remove_leftovers(self.config.run_id)
