"""The worker image, built by `loadgate worker-image` as a user builds it: loadgate and its
runtime import inside it, it runs as a non-root user, it can be a run's master (a whole
`loadgate run --target` from inside it), and a second build changes nothing."""

from __future__ import annotations

import json

from harness.stack.docker import LABEL_RUN, DockerEngine, ImageInfo
from harness.stack.images import WORKER_IMAGE
from harness.stack.launch import GatewayStack
from tests.integration.conftest import loadgate

MB = 1000 * 1000


def run_in(
    engine: DockerEngine,
    image: ImageInfo,
    script: str,
    network: str | None = None,
    environment: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> str:
    """`sh -c SCRIPT` in a throwaway container of the image, as the image's own user."""
    output: bytes = engine.client.containers.run(
        image.id,
        ["-c", script],
        entrypoint="sh",
        remove=True,
        stderr=True,
        network=network,
        environment=environment,
        labels=labels,
    )
    return output.decode()


def test_the_worker_image_is_shaped_for_a_cluster(engine: DockerEngine, worker: ImageInfo) -> None:
    """ENTRYPOINT `loadgate worker`, a numeric non-root user (runAsNonRoot can check it)."""
    config = engine.client.images.get(worker.id).attrs["Config"]
    assert config["Entrypoint"] == ["loadgate", "worker"]
    assert config["User"] == "10001:10001"
    assert worker.size_bytes < 500 * MB


def test_loadgate_and_its_load_generators_import_as_the_non_root_user(
    engine: DockerEngine, worker: ImageInfo
) -> None:
    """uid 10001 imports the generators and the CLI, and `loadgate --help` lists its commands."""
    output = run_in(
        engine,
        worker,
        "id -u; python3 -W ignore -c "
        "'import scenarios.openmodel, scenarios.locustfile, harness.cli; print(\"imported\")'"
        " && loadgate --help",
    )
    lines = output.splitlines()
    assert lines[:2] == ["10001", "imported"], output
    assert lines[2].startswith("usage: loadgate") and "worker-image" in output, output


def test_the_worker_image_has_no_installer_or_compiler(
    engine: DockerEngine, worker: ImageInfo
) -> None:
    """No pip, no setuptools, no compiler left in the final stage."""
    output = run_in(
        engine,
        worker,
        "for t in pip pip3 gcc cc make; do command -v $t || echo no-$t; done; "
        "python3 -c 'import setuptools' 2>/dev/null || echo no-setuptools",
    )
    assert output.split() == ["no-pip", "no-pip3", "no-gcc", "no-cc", "no-make", "no-setuptools"]


def test_the_image_runs_a_whole_run_as_the_master_does_in_a_cluster(
    engine: DockerEngine, worker: ImageInfo, stack: GatewayStack
) -> None:
    """`loadgate run --target` inside the image, on the gateway's network: a result and a report
    are written (pandas, the templates, Locust), and the token is in none of the files."""
    secret = "lg-worker-image-token-7d41"
    script = (
        f"loadgate run --target http://gateway:{stack.gateway_port} --scenario smoke"
        " --duration 3 --no-budgets --token-env LOADGATE_TARGET_TOKEN --output-dir runs -q"
        " > out.txt 2>&1; echo exit=$?; ls runs/*/;"
        f" grep -rl {secret} runs out.txt || echo token-nowhere;"
        " echo ---; cat out.txt; echo ---; cat runs/*/result.json; echo"
    )  # the final echo: the engine's log loses a last line that has no newline
    output = run_in(
        engine,
        worker,
        script,
        network=stack.network,
        environment={"LOADGATE_TARGET_TOKEN": secret},
        labels={LABEL_RUN: stack.config.run_id},
    )
    checks, console, result = output.split("---\n", 2)
    lines = checks.splitlines()
    assert lines[0] == "exit=0", console
    assert {"result.json", "report.html", "summary.md", "junit.xml"} <= set(lines), checks
    assert lines[-1] == "token-nowhere", checks
    assert json.loads(result)["latency"]["count"] > 10, console


def test_a_second_build_downloads_nothing_and_gives_the_same_image(worker: ImageInfo) -> None:
    """The wheelhouse is cached by its lock and base, and the layers by Docker: same image id."""
    done = loadgate("worker-image", timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [WORKER_IMAGE, worker.id]
    assert "downloading" not in done.stderr


def test_the_images_entrypoint_is_loadgate_worker(engine: DockerEngine, worker: ImageInfo) -> None:
    """`docker run IMAGE --help` is `loadgate worker --help`: the options a worker takes."""
    output = engine.client.containers.run(worker.id, ["--help"], remove=True).decode()
    assert output.startswith("usage: loadgate worker") and "--master" in output, output
