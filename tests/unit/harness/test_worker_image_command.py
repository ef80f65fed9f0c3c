"""`loadgate worker-image`: a tag Docker would refuse is a usage error (exit 2), no engine is a
setup error (exit 3, in a subprocess as a user meets it); each one line, before anything is
built."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.cli import build_parser

if TYPE_CHECKING:
    from tests.unit.harness.conftest import Cli


@pytest.mark.parametrize(
    "tag",
    [
        pytest.param("loadgate/worker:latest", id="default"),
        pytest.param("registry.example.com/loadgate/worker:latest", id="registry"),
        pytest.param("registry.example.com:5000/team/loadgate-worker:1.0.2", id="registry-port"),
        pytest.param("localhost/worker", id="no-tag"),
        pytest.param("registry:5000/worker:2", id="host-and-port"),
        pytest.param("worker__x.y-z:v1_2", id="separators"),
    ],
)
def test_image_names_docker_takes_are_accepted(tag: str) -> None:
    """Names with a registry, a port, a path and a tag parse as given."""
    assert build_parser().parse_args(["worker-image", "--tag", tag]).tag == tag


@pytest.mark.parametrize(
    "tag",
    [
        pytest.param("Loadgate/worker", id="upper-case-path"),
        pytest.param("worker:", id="empty-tag"),
        pytest.param("_worker", id="leading-separator"),
        pytest.param("load gate", id="space"),
        pytest.param("worker:a:b", id="two-tags"),
        pytest.param(":latest", id="no-name"),
        pytest.param("a" * 256, id="too-long"),
    ],
)
def test_image_names_docker_refuses_are_usage_errors(tag: str, cli: Cli) -> None:
    """A tag Docker would refuse: exit 2 and one line naming the option, no traceback."""
    code, out, err = cli(["worker-image", "--tag", tag])
    assert code == 2
    assert "argument --tag" in err and "is not an image name" in err.splitlines()[-1]
    assert "Traceback" not in err and out == ""


def test_without_an_engine_it_is_a_setup_error(tmp_path: Path) -> None:
    """No Docker engine: exit 3 and one line saying so, nothing on stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "harness", "worker-image"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"},
        check=False,
    )
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1 and "no Docker engine answers" in done.stderr
    assert done.stdout == ""
