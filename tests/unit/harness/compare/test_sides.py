"""The sides of a compare: git refs checked and checked out, build contexts moved into them."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.compare.sides import (
    SideBuilder,
    SideSpec,
    check_ref,
    moved,
    own_dockerfile,
    ref_checkout,
)
from harness.errors import ImageBuildError, UsageError
from harness.stack.docker import ImageInfo
from harness.stack.images import ImageBuilder
from harness.stack.services import BuildSpec, ServiceSpec


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with two commits: the first says `old`, the second `new`."""
    repo = tmp_path / "repo"
    (repo / "gw").mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    (repo / "gw" / "Dockerfile").write_text("FROM scratch\n")
    (repo / "gw" / "version").write_text("old\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "old")
    _git(repo, "tag", "v1")
    (repo / "gw" / "version").write_text("new\n")
    _git(repo, "commit", "-q", "-am", "new")
    return repo


@pytest.mark.parametrize(
    "ref", ["main", "origin/main", "v1.2.3", "HEAD~1", "abc123", "refs/tags/v1", "main@{1}"]
)
def test_ordinary_refs_are_accepted(ref: str) -> None:
    """Branch names, remote branches, tags, ancestors and commits are refs."""
    assert check_ref(ref) == ref


@pytest.mark.parametrize(
    "ref",
    ["--output=/tmp/x", "-b", "main branch", "a;rm -rf /", "$(id)", "x" * 201, ""],
    ids=["option", "short-option", "space", "semicolon", "substitution", "long", "empty"],
)
def test_refs_that_could_be_options_or_commands_are_refused(ref: str) -> None:
    """A ref that git could read as an option, or that holds shell characters, is refused."""
    with pytest.raises(UsageError, match="--base-ref is not a git ref"):
        check_ref(ref)


def test_a_ref_is_checked_out_at_its_commit_and_removed_afterwards(repo: Path) -> None:
    """The worktree holds the ref's files; it and its registration are gone afterwards."""
    with ref_checkout("v1", repo / "gw") as (top, tree, commit):
        assert top == repo
        assert (tree / "gw" / "version").read_text() == "old\n"
        assert commit == _git(repo, "rev-parse", "v1")
    assert not tree.exists()
    assert _git(repo, "worktree", "list").count("\n") == 0
    assert (repo / "gw" / "version").read_text() == "new\n"


def test_a_missing_ref_is_one_usage_line(repo: Path) -> None:
    """A ref the repository does not have fails before anything is built."""
    with (
        pytest.raises(UsageError, match="--base-ref: git rev-parse failed"),
        ref_checkout("no-such-branch", repo),
    ):
        pass


def test_outside_a_repository_is_one_usage_line(tmp_path: Path) -> None:
    """--base-ref where there is no git repository says so."""
    with pytest.raises(UsageError, match="git rev-parse failed"), ref_checkout("main", tmp_path):
        pass


def test_a_build_context_moves_into_the_worktree(repo: Path, tmp_path: Path) -> None:
    """The context keeps its place relative to the repository root; the Dockerfile its name."""
    build = BuildSpec(context=repo / "gw", dockerfile="Dockerfile.prod", loadgate_base=True)
    assert moved(build, repo, tmp_path / "tree") == BuildSpec(
        context=tmp_path / "tree" / "gw", dockerfile="Dockerfile.prod", loadgate_base=True
    )


def test_a_build_context_outside_the_repository_is_refused(repo: Path, tmp_path: Path) -> None:
    """A context the ref's worktree cannot hold is a usage error, not a build of the wrong tree."""
    build = BuildSpec(context=tmp_path, dockerfile="Dockerfile", loadgate_base=False)
    with pytest.raises(UsageError, match="outside the git repository"):
        moved(build, repo, tmp_path / "tree")


def test_a_build_directory_needs_its_own_dockerfile(tmp_path: Path) -> None:
    """--base-build DIR without a Dockerfile is refused naming the flag."""
    with pytest.raises(UsageError, match=r"--base-build .*: no Dockerfile in it"):
        own_dockerfile(tmp_path, "--base-build")


class _Engine:
    """An engine holding one image, `gw:1.4`."""

    def image(self, name: str) -> ImageInfo | None:
        if name != "gw:1.4":
            return None
        return ImageInfo(name="gw:1.4", id="sha256:" + "a" * 64, size_bytes=1)


def _side_builder() -> SideBuilder:
    engine: Any = _Engine()
    builder = ImageBuilder(engine, Path("."), "python:3.11-slim", lambda message: None)
    gateway = ServiceSpec(name="gateway", image="loadgate/gateway:latest")
    return SideBuilder(builder, gateway, "compare-test")


def test_an_image_side_runs_that_image_by_id() -> None:
    """--base-image IMAGE: every round runs the image's id (a re-tag mid-compare cannot leak in)."""
    head = SideSpec(side="head")
    prepared = _side_builder().prepare(SideSpec(side="base", image="gw:1.4"), head)
    assert prepared.tag == prepared.image_id == "sha256:" + "a" * 64
    assert prepared.description == "image gw:1.4"


def test_an_image_the_engine_does_not_have_is_named() -> None:
    """--head-image of an image that is not there fails before any round, naming it."""
    with pytest.raises(ImageBuildError, match=r"gw:9\.9"):
        _side_builder().prepare(SideSpec(side="head", image="gw:9.9"), SideSpec(side="head"))


def test_a_ref_side_needs_something_to_build() -> None:
    """--base-ref with a head that is an image (no build): one usage line saying what to give."""
    with pytest.raises(UsageError, match="give --head-build DIR"):
        _side_builder().head_build(SideSpec(side="head", image="gw:1.4"))
