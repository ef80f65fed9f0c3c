"""The images loadgate builds: production hygiene, caching, fail-fast configuration."""

from __future__ import annotations

from harness.stack.docker import DockerEngine
from harness.stack.images import ImageBuilder, StackImages
from tests.integration.conftest import ROOT

MB = 1000 * 1000


def test_gateway_image_is_production_shaped(engine: DockerEngine, images: StackImages) -> None:
    """Non-root user, healthcheck on /ready, exec-form command, under the 500 MB budget."""
    config = engine.client.images.get(images.gateway.name).attrs["Config"]
    assert config["User"] == "gateway:gateway"
    assert "/ready" in " ".join(config["Healthcheck"]["Test"])
    assert config["Cmd"] == ["python3", "-m", "gateway"]
    assert images.gateway.size_bytes < 500 * MB


def test_gateway_image_has_no_build_tools_and_runs_unprivileged(
    engine: DockerEngine, images: StackImages
) -> None:
    """No compiler in the final stage; the process runs as uid 10001."""
    output = engine.client.containers.run(
        images.gateway.name,
        ["sh", "-c", "id -u; for t in gcc cc make; do command -v $t || echo no-$t; done"],
        remove=True,
    ).decode()
    assert output.split() == ["10001", "no-gcc", "no-cc", "no-make"]


def test_gateway_without_token_exits_with_a_clear_message(
    engine: DockerEngine, images: StackImages
) -> None:
    """Started without PROVIDER_AUTH_TOKEN the gateway exits 2 naming the variable."""
    container = engine.client.containers.run(
        images.gateway.name, environment={"UPSTREAM_BASE_URL": "http://x:1"}, detach=True
    )
    try:
        status = container.wait(timeout=60)
        logs = container.logs().decode()
    finally:
        container.remove(force=True)
    assert status["StatusCode"] == 2
    assert "PROVIDER_AUTH_TOKEN" in logs and "Traceback" not in logs


def test_second_build_reuses_the_cache(engine: DockerEngine, images: StackImages) -> None:
    """Building again with nothing changed gives the very same image."""
    builder = ImageBuilder(engine, ROOT, "python:3.11-slim", lambda message: None)
    again = builder.build(images.gateway.name, ROOT, "Dockerfile.production", images.base)
    assert again.id == images.gateway.id
