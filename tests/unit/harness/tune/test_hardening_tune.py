"""`loadgate tune` refuses compose layouts it cannot edit before any run, and writes atomically."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

from harness.errors import ComposeError
from harness.progress import ProgressDisplay
from harness.tune.compose_edit import (
    LimitValues,
    format_cpus,
    format_memory,
    rewrite_limits,
    write_compose,
)
from harness.tune.search import tune
from reports.tune_result import load_tune

if TYPE_CHECKING:
    from tests.unit.harness.conftest import FakeRuns, TuneSettingsFor

MIB = 1024 * 1024
REDIS = "  redis:\n    image: redis:7.2-alpine\n"
BLOCK = (
    "services:\n  gateway:\n    image: g\n    deploy:\n      resources:\n"
    "        limits:\n          cpus: '1.0'\n          memory: 512M\n"
    "        reservations:\n          cpus: '0.25'\n          memory: 256M\n" + REDIS
)


def compose_with(resources: str) -> str:
    """A two-service compose file whose gateway has `resources` (indented under resources:)."""
    return f"services:\n  gateway:\n    image: g\n    deploy:\n      resources:\n{resources}{REDIS}"


def gateway_limits(text: str) -> dict[str, object]:
    """The gateway's resources as YAML reads them."""
    resources: dict[str, object] = yaml.safe_load(text)["services"]["gateway"]["deploy"][
        "resources"
    ]
    return resources


VALUES = LimitValues(0.55, 80 * MIB, 0.3, 64 * MIB)


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        pytest.param(
            "        limits: {cpus: '1.0', memory: 512M}\n"
            "        reservations: {cpus: '0.25', memory: 256M}\n",
            "        limits: {cpus: '0.55', memory: 80M}\n"
            "        reservations: {cpus: '0.3', memory: 64M}\n",
            id="flow-style",
        ),
        pytest.param(
            "        limits: {cpus: '1.0', memory: 512M}\n        reservations: {}\n",
            "        limits: {cpus: '0.55', memory: 80M}\n"
            "        reservations: {cpus: 0.3, memory: 64M}\n",
            id="empty-flow-reservations",
        ),
        pytest.param(
            "        limits: {cpus: 1, memory: 1G}\n        reservations: {memory: 8M,}\n",
            "        limits: {cpus: 0.55, memory: 80M}\n"
            "        reservations: {memory: 64M, cpus: 0.3,}\n",
            id="flow-trailing-comma",
        ),
    ],
)
def test_flow_style_limits_stay_valid_yaml(resources: str, expected: str) -> None:
    """Flow mappings, empty or not, are edited in place and read back with the new values."""
    text = compose_with(resources)
    rewritten = rewrite_limits(text, "gateway", VALUES)
    assert rewritten == compose_with(expected)
    assert gateway_limits(rewritten) == gateway_limits(compose_with(expected))


@pytest.mark.parametrize(
    ("text", "path"),
    [
        pytest.param(
            "x-limits: &lim {cpus: '1.0', memory: 512M}\n"
            + compose_with("        limits: *lim\n        reservations: {}\n")
            + "    deploy: {resources: {limits: *lim}}\n",
            "services.gateway.deploy.resources.limits is shared",
            id="anchor-shared-with-redis",
        ),
        pytest.param(
            compose_with(
                "        limits: {cpus: &c '1.0', memory: 512M}\n        reservations: {cpus: *c}\n"
            ),
            "services.gateway.deploy.resources.limits.cpus is shared",
            id="anchored-scalar",
        ),
        pytest.param(
            "x-deploy: &dep\n  resources:\n    limits: {cpus: 1, memory: 1G}\n"
            "services:\n  gateway:\n    image: g\n    deploy:\n      <<: *dep\n" + REDIS,
            "services.gateway.deploy.resources may come through a YAML merge key",
            id="merge-key",
        ),
        pytest.param(
            compose_with(
                "        limits:\n          cpus: >\n            1.0\n          memory: 512M\n"
                "        reservations: {}\n"
            ),
            "services.gateway.deploy.resources.limits.cpus is a multi-line scalar",
            id="folded-scalar",
        ),
        pytest.param(
            compose_with(
                "        limits: {cpus: !!str 1.0, memory: 512M}\n        reservations: {}\n"
            ),
            "services.gateway.deploy.resources.limits.cpus carries an anchor or a tag",
            id="tagged-value",
        ),
        pytest.param(
            compose_with("        limits: {cpus: 1, memory: 1G}\n        reservations:\n"),
            "services.gateway.deploy.resources.reservations is not a mapping",
            id="null-reservations",
        ),
    ],
)
def test_layouts_that_cannot_be_edited_in_place_are_refused(text: str, path: str) -> None:
    """Shared anchors, merge keys, multi-line or tagged values: a ComposeError naming the path."""
    with pytest.raises(ComposeError, match="^" + path.replace(".", r"\.")):
        rewrite_limits(text, "gateway", VALUES)


def test_windows_line_endings_are_kept() -> None:
    """A CRLF file stays CRLF: only the values change."""
    text = BLOCK.replace("\n", "\r\n")
    rewritten = rewrite_limits(text, "gateway", VALUES)
    assert rewritten == text.replace("'1.0'", "'0.55'").replace("512M", "80M").replace(
        "'0.25'", "'0.3'"
    ).replace("256M", "64M")


def test_empty_reservations_no_longer_end_the_tune_in_a_traceback(
    tmp_path: Path, runs: FakeRuns, tune_settings: TuneSettingsFor
) -> None:
    """`reservations: {}` is filled in: the tune finishes and tune.json holds the diff."""
    compose = compose_with(
        "        limits: {cpus: '1.0', memory: 512M}\n        reservations: {}\n"
    )
    outcome = tune(tune_settings(compose, write=False), ProgressDisplay(quiet=True))
    saved = load_tune(outcome.directory)
    assert runs.calls == 4
    assert "+        reservations: {cpus: " in saved.compose_diff
    assert (tmp_path / "compose.yml").read_text() == compose


def test_write_refuses_a_shared_anchor_before_any_run(
    tmp_path: Path, runs: FakeRuns, tune_settings: TuneSettingsFor
) -> None:
    """With --write, a layout tune cannot edit is a usage error before the first run."""
    compose = (
        "x-limits: &lim {cpus: '1.0', memory: 512M}\n"
        + compose_with("        limits: *lim\n        reservations: {}\n")
        + "    deploy: {resources: {limits: *lim}}\n"
    )
    with pytest.raises(ComposeError, match="limits is shared"):
        tune(tune_settings(compose, write=True), ProgressDisplay(quiet=True))
    assert runs.calls == 0 and not (tmp_path / "runs").exists()


def test_without_write_an_uneditable_layout_is_explained_instead_of_a_diff(
    tmp_path: Path, runs: FakeRuns, tune_settings: TuneSettingsFor
) -> None:
    """Without --write the tune runs and says why it shows no diff."""
    compose = compose_with(
        "        limits:\n          cpus: >\n            1.0\n          memory: 512M\n"
        "        reservations: {}\n"
    )
    outcome = tune(tune_settings(compose, write=False), ProgressDisplay(quiet=True))
    assert outcome.result.compose_diff.startswith("# services.gateway.deploy.resources.limits.cpus")
    assert "apply the recommendation by hand" in outcome.result.compose_diff


def test_write_replaces_the_file_with_the_confirmed_limits(
    tmp_path: Path, runs: FakeRuns, tune_settings: TuneSettingsFor
) -> None:
    """--write puts the recommendation into the file, keeping its mode and leaving no temp file."""
    settings = tune_settings(BLOCK, write=True)
    settings.run.compose_file.chmod(0o640)
    outcome = tune(settings, ProgressDisplay(quiet=True))
    assert outcome.result.written
    limits = gateway_limits(settings.run.compose_file.read_text())["limits"]
    rec = outcome.result.recommendation
    assert rec is not None
    assert limits == {"cpus": format_cpus(rec.cpus), "memory": format_memory(rec.memory_bytes)}
    assert settings.run.compose_file.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["budgets.yml", "compose.yml", "runs"]


def test_a_symlinked_compose_file_stays_a_link(tmp_path: Path) -> None:
    """Writing through a symbolic link replaces the file it points to, not the link."""
    real = tmp_path / "real.yml"
    real.write_text(BLOCK)
    link = tmp_path / "compose.yml"
    link.symlink_to(real)
    write_compose(link, rewrite_limits(BLOCK, "gateway", VALUES))
    assert link.is_symlink()
    assert gateway_limits(real.read_text())["limits"] == {"cpus": "0.55", "memory": "80M"}


def test_a_full_disk_leaves_the_compose_file_whole(
    tmp_path: Path,
    runs: FakeRuns,
    tune_settings: TuneSettingsFor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A write that fails midway keeps the old file byte for byte; tune.json is still saved."""
    settings = tune_settings(BLOCK, write=True)

    fsync = os.fsync

    def disk_full_for_compose(fd: int) -> None:
        if ".compose.yml." in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", disk_full_for_compose)
    with pytest.raises(ComposeError, match="No space left on device; the file is unchanged"):
        tune(settings, ProgressDisplay(quiet=True))
    assert settings.run.compose_file.read_bytes() == BLOCK.encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["budgets.yml", "compose.yml", "runs"]
    (directory,) = (tmp_path / "runs").iterdir()
    assert not load_tune(directory).written


def test_cli_refuses_an_uneditable_layout_in_one_line(tmp_path: Path) -> None:
    """`python -m harness tune --write` on a merge-key layout: exit 2, one line, nothing run."""
    (tmp_path / "compose.yml").write_text(
        "x-deploy: &dep\n  resources:\n    limits: {cpus: 1, memory: 1G}\n"
        "services:\n  gateway:\n    image: g\n    deploy:\n      <<: *dep\n" + REDIS
    )
    (tmp_path / "budgets.yml").write_text("latency_p95_ms: 250\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            "tune",
            "--write",
            "--compose",
            str(tmp_path / "compose.yml"),
            "--budgets",
            str(tmp_path / "budgets.yml"),
            "--output-dir",
            str(tmp_path / "runs"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "merge key" in done.stderr
    assert not (tmp_path / "runs").exists()
