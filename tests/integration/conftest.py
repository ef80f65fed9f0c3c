"""Integration fixtures: a real Docker engine and loadgate's real images, built once a session.

Every test here is marked `docker`. Without a reachable engine they are skipped with a loud
reason on a developer's machine, and fail under `make test` / CI (LOADGATE_REQUIRE_DOCKER=1).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import EngineUnavailableError
from harness.run.pipeline import new_run_id
from harness.stack.compose import ComposeFile
from harness.stack.docker import LABEL_RUN, DockerEngine, ImageInfo
from harness.stack.images import WORKER_IMAGE, ImageBuilder, StackImages
from harness.stack.launch import GatewayStack, StackConfig
from harness.stack.services import ServiceSpec

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "lg-test-integration-token-5f3a"
VARIABLES = {"PROVIDER_AUTH_TOKEN": TOKEN, "UPSTREAM_BASE_URL": "http://mock-upstream:8080"}


def loadgate(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`loadgate ARGS` as a user runs it, from the project root (output captured, never raises)."""
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


def only_run_dir(output: Path) -> Path:
    """The one run directory a command wrote under `output`."""
    runs = list(output.iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def engine() -> Iterator[DockerEngine]:
    try:
        connected = DockerEngine.connect()
    except EngineUnavailableError as exc:
        if os.environ.get("LOADGATE_REQUIRE_DOCKER"):
            pytest.fail(f"Docker integration tests need an engine: {exc}")
        pytest.skip(f"SKIPPING DOCKER INTEGRATION TESTS: {exc}")
    yield connected
    connected.close()


@pytest.fixture(scope="session")
def compose() -> ComposeFile:
    return ComposeFile.load(ROOT / "docker-compose.prod.yml")


@pytest.fixture(scope="session")
def services(compose: ComposeFile) -> tuple[ServiceSpec, ServiceSpec]:
    return compose.service("gateway", VARIABLES), compose.service("redis", VARIABLES)


@pytest.fixture(scope="session")
def images(engine: DockerEngine, services: tuple[ServiceSpec, ServiceSpec]) -> StackImages:
    builder = ImageBuilder(engine, ROOT, "python:3.11-slim", lambda message: None)
    return builder.build_all(*services)


def make_stack(
    engine: DockerEngine,
    images: StackImages,
    services: tuple[ServiceSpec, ServiceSpec],
    **gateway_environment: str,
) -> GatewayStack:
    """A stack of the compose services (gateway settings overridden) and a 20 ms mock provider."""
    gateway, redis = services
    gateway = dataclasses.replace(
        gateway, environment={**gateway.environment, **gateway_environment}
    )
    config = StackConfig(
        run_id=new_run_id(),
        gateway=gateway,
        redis=redis,
        images=images,
        mock_environment={"MOCK_LATENCY": "fixed", "MOCK_LATENCY_MS": "20"},
    )
    return GatewayStack(engine, config, lambda message: None)


@pytest.fixture(scope="module")
def stack(
    engine: DockerEngine, images: StackImages, services: tuple[ServiceSpec, ServiceSpec]
) -> Iterator[GatewayStack]:
    """One stack per test module; it must leave nothing behind."""
    with make_stack(engine, images, services) as running:
        yield running
    assert leftovers(engine, running.config.run_id) == []


def leftovers(engine: DockerEngine, run_id: str | None = None) -> list[str]:
    """Names of loadgate containers and networks still present (of one run, or any)."""
    label = f"{LABEL_RUN}={run_id}" if run_id else LABEL_RUN
    containers = engine.client.containers.list(all=True, filters={"label": label})
    networks = engine.client.networks.list(filters={"label": label})
    return [str(c.name) for c in containers] + [str(n.name) for n in networks]


@pytest.fixture(scope="session")
def worker(engine: DockerEngine) -> ImageInfo:
    """The image `loadgate worker-image` built and named on stdout (tag, then id)."""
    done = loadgate("worker-image", timeout=900)
    assert done.returncode == 0, done.stderr
    tag, image_id = done.stdout.split()
    info = engine.image(tag)
    assert tag == WORKER_IMAGE and info is not None and info.id == image_id
    return info
