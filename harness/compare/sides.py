"""What each side of a compare runs, made into one image before the first round.

A side is an image already in the engine (`--base-image`), a directory built with its own
Dockerfile (`--base-build`), a git ref built the way the head is built (`--base-ref`: a
detached worktree of the ref, removed afterwards), or, by default, the compose file's gateway.
Both sides are built up front and every round of a side runs the same image id, so a round can
not pick up a rebuild half-way through, and base and head never share a tag.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import ImageBuildError, UsageError
from harness.stack.images import WHEELHOUSE, ImageBuilder
from harness.stack.services import BuildSpec, ServiceSpec
from reports.compare_result import Side

GIT_TIMEOUT_S = 120
_REF = re.compile(r"[A-Za-z0-9._/@{}~^-]{1,200}")
"""What a git ref given on the command line may look like (no spaces, no options)."""


@dataclass(frozen=True)
class SideSpec:
    """One side as the command line gave it (at most one of image, build, ref)."""

    side: Side
    image: str | None = None
    build: Path | None = None
    ref: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    """Variables for this side's gateway only (`--base-env`, `--head-env`)."""

    @property
    def chosen(self) -> bool:
        return bool(self.image or self.build or self.ref)


@dataclass(frozen=True)
class PreparedSide:
    spec: SideSpec
    tag: str
    image_id: str
    description: str


def check_ref(ref: str) -> str:
    """`--base-ref`, checked: a ref name, never an option or a path with spaces."""
    if ref.startswith("-") or not _REF.fullmatch(ref):
        raise UsageError("--base-ref is not a git ref (letters, digits and ._/@{}~^- only)")
    return ref


def _git(args: list[str], cwd: Path) -> str:
    """Run git; its failure is one usage line (a ref that does not exist, not a repository)."""
    if shutil.which("git") is None:
        raise UsageError("--base-ref needs git, which is not installed")
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["(no message)"])[0][:200]
        raise UsageError(f"--base-ref: git {args[0]} failed: {first}")
    return done.stdout.strip()


@contextlib.contextmanager
def ref_checkout(ref: str, inside: Path) -> Iterator[tuple[Path, Path, str]]:
    """A detached worktree of `ref` of the repository holding `inside`: (repository root,
    worktree, commit). Removed on exit, whatever happens."""
    top = Path(_git(["rev-parse", "--show-toplevel"], inside))
    commit = _git(["rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}"], top)
    parent = Path(tempfile.mkdtemp(prefix="loadgate-base-"))
    worktree = parent / "tree"
    try:
        _git(["worktree", "add", "--detach", str(worktree), commit], top)
        yield top, worktree, commit
    finally:
        with contextlib.suppress(UsageError, subprocess.TimeoutExpired):
            _git(["worktree", "remove", "--force", str(worktree)], top)
        shutil.rmtree(parent, ignore_errors=True)
        with contextlib.suppress(UsageError, subprocess.TimeoutExpired):
            _git(["worktree", "prune"], top)


def own_dockerfile(directory: Path, flag: str) -> BuildSpec:
    """A directory built with its own Dockerfile (as `--gateway-build` is)."""
    context = directory.resolve()
    if not (context / "Dockerfile").is_file():
        raise UsageError(f"{flag} {directory}: no Dockerfile in it")
    return BuildSpec(context=context, dockerfile="Dockerfile", loadgate_base=False)


def moved(build: BuildSpec, top: Path, worktree: Path) -> BuildSpec:
    """`build`, with its context moved from the repository at `top` into `worktree`."""
    try:
        relative = build.context.resolve().relative_to(top.resolve())
    except ValueError:
        raise UsageError(
            f"--base-ref: the gateway is built from {build.context}, outside the git repository"
            f" {top}"
        ) from None
    return dataclasses.replace(build, context=worktree / relative)


@dataclass
class SideBuilder:
    """Builds (or finds) each side's image; `head_build` is how the head side is built, which a
    `--base-ref` side repeats inside its worktree."""

    builder: ImageBuilder
    compose_gateway: ServiceSpec
    compare_id: str

    def head_build(self, head: SideSpec) -> BuildSpec:
        if head.build is not None:
            return own_dockerfile(head.build, "--head-build")
        if self.compose_gateway.build is None:
            raise UsageError(
                "--base-ref builds the base the way the head is built, but the head is an "
                "image: give --head-build DIR, or a compose gateway service with a build:"
            )
        return self.compose_gateway.build

    def prepare(self, spec: SideSpec, head: SideSpec) -> PreparedSide:
        tag = f"loadgate/compare-{spec.side}:{self.compare_id.lower()}"
        if spec.image:
            info = self.builder.engine.image(spec.image)
            if info is None:
                raise ImageBuildError(spec.image, "not present locally (and cannot be pulled)")
            return PreparedSide(spec, info.id, info.id, f"image {spec.image}")
        if spec.build is not None:
            build = own_dockerfile(spec.build, f"--{spec.side}-build")
            return self._built(spec, tag, build, f"build {spec.build}")
        if spec.ref is not None:
            with ref_checkout(spec.ref, self.head_build(head).context) as (top, tree, commit):
                build = moved(self.head_build(head), top, tree)
                builder = self._builder_in(tree) if build.loadgate_base else self.builder
                description = f"git ref {spec.ref} ({commit[:12]})"
                return self._built(spec, tag, build, description, builder)
        compose = self.compose_gateway
        if compose.build is None:
            info = self.builder.engine.image(compose.image)
            if info is None:
                raise ImageBuildError(compose.image, "not present locally (and cannot be pulled)")
            return PreparedSide(spec, info.id, info.id, f"the compose file's image {compose.image}")
        return self._built(spec, tag, compose.build, "the compose file's gateway (working tree)")

    def _builder_in(self, tree: Path) -> ImageBuilder:
        """A builder for loadgate's own Dockerfile at another commit: its wheelhouse is made
        from that commit's lock files (the working tree's is copied first, and reused when the
        locks are the same)."""
        mine = self.builder.root / WHEELHOUSE
        if mine.is_dir():
            shutil.copytree(mine, tree / WHEELHOUSE)
        return ImageBuilder(self.builder.engine, tree, self.builder.base_image, self.builder.say)

    def _built(
        self,
        spec: SideSpec,
        tag: str,
        build: BuildSpec,
        description: str,
        builder: ImageBuilder | None = None,
    ) -> PreparedSide:
        builder = builder or self.builder
        base = builder.base() if build.loadgate_base else None
        if base is not None:
            builder.wheelhouse(base)
        info = builder.build(tag, build.context, build.dockerfile, base)
        return PreparedSide(spec, tag, info.id, description)
