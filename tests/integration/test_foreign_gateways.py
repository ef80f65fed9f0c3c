"""Gateways that are not ours, wired without editing them (tests/fixtures/gateways/port8080: a
correct gateway on port 8080 reading its own variable names, and its user-style compose file)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from harness.run.pipeline import new_run_id
from harness.stack.compose import ComposeFile
from harness.stack.docker import DockerEngine
from harness.stack.images import ImageBuilder, StackImages
from harness.stack.launch import GatewayStack, StackConfig
from harness.stack.sampler import CgroupReader, ResourceSampler
from tests.integration.conftest import ROOT, leftovers, loadgate, only_run_dir

PORT8080 = "tests/fixtures/gateways/port8080"
USER_COMPOSE = f"{PORT8080}/compose.yml"
WIRED = (
    "--gateway-env",
    "LLM_API_BASE={upstream_url}",
    "--gateway-env",
    "LLM_API_KEY={provider_token}",
)
SMOKE = (
    *("--protocol", "openai", "--scenario", "smoke"),
    *("--duration", "5", "--ready-path", "/health"),
)
FAIL_FAST_S = 20


def run_result(tmp_path: Path, *options: str) -> tuple[int, str, dict[str, Any]]:
    done = loadgate("run", *options, *SMOKE, "--output-dir", str(tmp_path), "-q")
    assert done.returncode in (0, 1), done.stdout + done.stderr
    result = json.loads((only_run_dir(tmp_path) / "result.json").read_text())
    return done.returncode, done.stdout, result


def test_an_image_listening_on_8080_is_probed_where_it_exposes(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """EXPOSE 8080 and its own variable names: ready, it serves the load without an error."""
    code, stdout, result = run_result(
        tmp_path, "--gateway-build", PORT8080, *WIRED, "--gateway-env", "CACHE_URL={redis_url}"
    )
    assert code == 0, stdout
    assert result["latency"]["count"] > 20
    assert result["errors"]["total"] == 0
    assert result["upstream_calls"]["completions"] >= result["latency"]["count"]
    assert result["container"]["token_in_logs"] is False
    assert leftovers(engine) == []


def test_a_gateway_probed_on_the_wrong_port_fails_within_seconds(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """--gateway-port 8000 on a gateway listening on 8080: exit 3 long before the ready timeout,
    naming the port it listens on and the flag."""
    started = time.monotonic()
    done = loadgate(
        "run",
        "--gateway-build",
        PORT8080,
        *WIRED,
        "--gateway-env",
        "CACHE_URL={redis_url}",
        "--gateway-port",
        "8000",
        *SMOKE,
        "--output-dir",
        str(tmp_path),
        "-q",
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 3, done.stdout + done.stderr
    first_line = done.stderr.splitlines()[0]
    assert "listens on 8080, not on 8000 (the image exposes 8080)" in first_line
    assert "--gateway-port 8080" in first_line
    assert elapsed < FAIL_FAST_S
    assert leftovers(engine) == []


def test_a_users_compose_file_runs_as_written(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """Services llm-gateway and redis-cache are found, port 8080 comes from `ports`, and the curl
    healthcheck the image cannot run is named in result.json."""
    code, stdout, result = run_result(tmp_path, "--compose", USER_COMPOSE, *WIRED)
    assert result["latency"]["count"] > 20, stdout
    assert result["errors"]["total"] == 0
    assert result["memory"]["limit_bytes"] == 512 * 1024 * 1024
    problem = result["container"]["healthcheck_problem"]
    assert problem is not None
    assert problem.startswith("healthcheck `curl -f http://localhost:8080/health` cannot run")
    assert "curl" in problem.split("cannot run", 1)[1]
    assert code == 1  # a finding: the check fails the run
    assert {b["name"]: b["passed"] for b in result["budgets"]}["gateway_healthcheck"] is False
    assert leftovers(engine) == []


def test_an_ambiguous_compose_file_is_refused_before_anything_starts(
    engine: DockerEngine, tmp_path: Path
) -> None:
    """Two services that could be the gateway: exit 2, one line listing them, nothing started."""
    compose = tmp_path / "compose.yml"
    compose.write_text(
        "services:\n"
        "  api:\n    build: .\n    ports: ['8080:8080']\n"
        "  admin:\n    build: ./admin\n    ports: ['9000:9000']\n"
        "  cache:\n    image: redis:7\n"
    )
    output = tmp_path / "runs"
    done = loadgate("run", "--compose", str(compose), "--output-dir", str(output))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1
    assert "(api, admin)" in done.stderr
    assert "--gateway-service" in done.stderr
    assert not output.exists()
    assert leftovers(engine) == []


def test_memory_is_the_whole_containers_every_worker_included(
    engine: DockerEngine, images: StackImages
) -> None:
    """With uvicorn --workers 2 the sampled working set covers the private memory of every
    process of the container, not of its first process only."""
    compose = ComposeFile.load(ROOT / USER_COMPOSE)
    variables = {"LLM_API_KEY": "lg-test-token", "LLM_API_BASE": "http://mock-upstream:8080"}
    gateway = compose.service("llm-gateway", variables)
    builder = ImageBuilder(engine, ROOT, "python:3.11-slim", lambda message: None)
    built = builder.gateway(gateway, images.base)
    config = StackConfig(
        run_id=new_run_id(),
        gateway=gateway,
        redis=compose.service("redis-cache", variables),
        images=StackImages(base=images.base, gateway=built, mock=images.mock, redis=images.redis),
        ready_path="/health",
    )
    with GatewayStack(engine, config, lambda message: None) as stack:
        assert stack.gateway_port == 8080
        pid = stack.gateway.pid()
        reader = CgroupReader.locate(stack.gateway.id, pid)
        assert reader is not None, "this test needs the cgroup files of the host"
        processes = (reader.memory_dir / "cgroup.procs").read_text().split()
        private = sum(_private_bytes(int(p)) for p in processes)
        first = _private_bytes(pid)
        sampler = ResourceSampler(stack.gateway, stack.gateway_port)
        sampler.start()
        time.sleep(1.0)
        samples = sampler.stop()
    assert len(processes) >= 3  # the uvicorn supervisor and its two workers
    assert first < private / 2
    assert samples and min(s.memory_bytes for s in samples) >= 0.9 * private


def _private_bytes(pid: int) -> int:
    """Anonymous resident memory of one process (its own, never shared with a sibling)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


def test_an_image_exposing_several_ports_is_refused_before_anything_starts(
    engine: DockerEngine, images: StackImages, tmp_path: Path
) -> None:
    """EXPOSE 8000 (inherited) and 8080, no --gateway-port: exit 2 naming both, nothing started."""
    context = tmp_path / "gateway"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {images.gateway.name}\nEXPOSE 8080\n")
    done = loadgate("run", "--gateway-build", str(context), "--output-dir", str(tmp_path / "runs"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the image exposes several ports (8000, 8080)" in done.stderr
    assert "--gateway-port" in done.stderr
    assert leftovers(engine) == []
