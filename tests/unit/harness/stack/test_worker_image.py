"""`ImageBuilder.worker_image()`: the worker's own wheelhouse (from its lock only, cached by it
and by the base) and the worker Dockerfile built on the base, against a recording engine."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from harness.stack.docker import ImageInfo
from harness.stack.images import WORKER_DOCKERFILE, WORKER_IMAGE, WORKER_WHEELHOUSE, ImageBuilder

ROOT = Path(__file__).resolve().parents[4]
BASE = "python:3.11-slim"


class RecordingEngine:
    """Holds the base image; a download writes one wheel; builds are recorded, not made."""

    def __init__(self) -> None:
        self.downloads: list[str] = []
        self.builds: list[tuple[str, str, dict[str, str]]] = []

    def image(self, name: str) -> ImageInfo | None:
        return ImageInfo(name, "sha256:" + "b" * 64, 1) if name == BASE else None

    def run_once(
        self,
        image: str,
        command: list[str],
        mounts: Mapping[Path, tuple[str, str]],
        environment: Mapping[str, str],
        labels: Mapping[str, str],
        user: str | None = None,
    ) -> tuple[int, str]:
        self.downloads.append(command[-1])
        (wheels,) = [host for host, (bind, _) in mounts.items() if bind == "/wheels"]
        (wheels / "locust-0-py3-none-any.whl").write_text("")
        return 0, ""

    def build(
        self, context: Path, dockerfile: str, tag: str, buildargs: Mapping[str, str]
    ) -> ImageInfo:
        self.builds.append((dockerfile, tag, dict(buildargs)))
        return ImageInfo(tag, "sha256:" + "c" * 64, 1)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project root holding loadgate's lock files."""
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    return tmp_path


def builder(project: Path, engine: RecordingEngine) -> ImageBuilder:
    recorded: Any = engine
    return ImageBuilder(recorded, project, BASE, lambda message: None)


def test_the_worker_image_is_built_from_its_own_wheelhouse(project: Path) -> None:
    """The download reads worker.lock only, into build/wheelhouse-worker; then one build of the
    worker Dockerfile on the base image, under the tag asked for."""
    engine = RecordingEngine()
    info = builder(project, engine).worker_image("registry.example.com/lg/worker:1")
    (download,) = engine.downloads
    assert "-r /req/worker.lock" in download
    assert "gateway.lock" not in download and "mock.lock" not in download
    assert (project / WORKER_WHEELHOUSE / "locust-0-py3-none-any.whl").is_file()
    assert not (project / "build" / "wheelhouse").exists()
    assert engine.builds == [(WORKER_DOCKERFILE, info.name, {"BASE_IMAGE": BASE})]
    assert info.name == "registry.example.com/lg/worker:1"


def test_the_wheelhouse_is_downloaded_again_only_when_the_lock_changes(project: Path) -> None:
    """A second build reuses the wheelhouse; an edited worker.lock downloads it again."""
    engine = RecordingEngine()
    builder(project, engine).worker_image()
    builder(project, engine).worker_image()
    assert len(engine.downloads) == 1
    with (project / "requirements" / "worker.lock").open("a") as lock:
        lock.write("# changed\n")
    builder(project, engine).worker_image()
    assert len(engine.downloads) == 2
    assert [tag for _, tag, _ in engine.builds] == [WORKER_IMAGE] * 3


def test_the_worker_dockerfile_and_its_lock_are_where_the_builder_looks() -> None:
    """The Dockerfile installs worker.lock from the worker's wheelhouse; `loadgate worker` runs."""
    dockerfile = (ROOT / WORKER_DOCKERFILE).read_text()
    assert f"COPY {WORKER_WHEELHOUSE}/ " in dockerfile
    assert "COPY requirements/worker.lock " in dockerfile
    assert 'ENTRYPOINT ["loadgate", "worker"]' in dockerfile
    assert f"!{WORKER_WHEELHOUSE}/" in (ROOT / ".dockerignore").read_text().splitlines()
