"""Images a run needs, built or reused: base, wheelhouse, gateway, mock upstream, Redis; and
the worker image, which carries loadgate itself to the machines that add load to a run.

Official images are used when present or pullable. Where no registry is reachable, loadgate
makes stand-ins from Debian packages: a bookworm root filesystem with python3 built by
`mmdebstrap` and imported as an image, and Redis installed from Debian on top of it.
Python dependencies reach the images through a wheelhouse downloaded *by the base image's own
Python* (so the wheels match it), which the Dockerfiles install with `--no-index`.
Everything is cached: the stand-in base and the wheelhouse are made once per input, and image
builds reuse Docker's layer cache, so a second run rebuilds only what changed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import ssl
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ImageBuildError
from harness.stack.docker import LABEL_RUN, DockerEngine, ImageInfo
from harness.stack.services import ServiceSpec

log = logging.getLogger("loadgate.images")

STAND_IN_BASE = "loadgate/base:bookworm-python3"
STAND_IN_REDIS = "loadgate/redis-stand-in:bookworm"
MOCK_IMAGE = "loadgate/mock-upstream:latest"
MOCK_DOCKERFILE = "harness/mock_upstream/Dockerfile"
REDIS_DOCKERFILE = "harness/dockerfiles/redis.Dockerfile"
WHEELHOUSE = Path("build/wheelhouse")
LOCKS = ("requirements/gateway.lock", "requirements/mock.lock")
WORKER_IMAGE = "loadgate/worker:latest"
WORKER_DOCKERFILE = "harness/dockerfiles/worker.Dockerfile"
WORKER_WHEELHOUSE = Path("build/wheelhouse-worker")
"""The worker's own wheelhouse: its lock changes no wheelhouse, and so no image, of a run."""
WORKER_LOCKS = ("requirements/worker.lock",)
DEBIAN_PACKAGES = "python3,python3-venv,ca-certificates"


@dataclass(frozen=True)
class StackImages:
    base: str
    gateway: ImageInfo
    mock: ImageInfo
    redis: ImageInfo


def _host_ca_bundle() -> Path | None:
    """The host's CA bundle, so builds behind a TLS-inspecting proxy trust what the host trusts."""
    candidates = [os.environ.get("SSL_CERT_FILE"), ssl.get_default_verify_paths().cafile]
    candidates.append("/etc/ssl/certs/ca-certificates.crt")
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


class ImageBuilder:
    def __init__(
        self, engine: DockerEngine, project_root: Path, base_image: str, say: Callable[[str], None]
    ) -> None:
        self.engine = engine
        self.root = project_root
        self.base_image = base_image
        self.say = say

    def build_all(self, gateway: ServiceSpec, redis: ServiceSpec) -> StackImages:
        base = self.base()
        self.wheelhouse(base)
        return StackImages(
            base=base,
            gateway=self.gateway(gateway, base),
            mock=self.build(MOCK_IMAGE, self.root, MOCK_DOCKERFILE, base),
            redis=self.redis(redis, base),
        )

    def _present_or_pulled(self, name: str) -> ImageInfo | None:
        info = self.engine.image(name)
        if info is not None:
            return info
        reason = self.engine.pull(name)
        if reason is None:
            return self.engine.image(name)
        log.info("cannot pull %s: %s", name, reason)
        return None

    def base(self) -> str:
        """The base image name: the official one if it can be had, else the Debian stand-in."""
        if self._present_or_pulled(self.base_image) is not None:
            return self.base_image
        if self.engine.image(STAND_IN_BASE) is None:
            self.say(f"{self.base_image} cannot be pulled: building {STAND_IN_BASE} from Debian")
            self._build_stand_in_base()
        return STAND_IN_BASE

    def _build_stand_in_base(self) -> None:
        if shutil.which("mmdebstrap") is None:
            raise ImageBuildError(
                STAND_IN_BASE,
                f"{self.base_image} cannot be pulled and mmdebstrap is not installed "
                "(apt-get install mmdebstrap, or make the base image available)",
            )
        with tempfile.TemporaryDirectory(prefix="loadgate-rootfs-") as tmp:
            tarball = Path(tmp) / "rootfs.tar"
            command = [
                "mmdebstrap",
                "--variant=minbase",
                f"--include={DEBIAN_PACKAGES}",
                "--format=tar",
                "bookworm",
                str(tarball),
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                tail = "\n".join(done.stderr.splitlines()[-20:])
                raise ImageBuildError(STAND_IN_BASE, "mmdebstrap failed", tail)
            repository, tag = STAND_IN_BASE.split(":")
            changes = [
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "ENV LANG=C.UTF-8",
                'CMD ["python3"]',
            ]
            self.engine.import_rootfs(tarball, repository, tag, changes)

    def wheelhouse(
        self, base: str, locks: tuple[str, ...] = LOCKS, directory: Path = WHEELHOUSE
    ) -> Path:
        """Wheels for the image locks, downloaded by the base image's Python; cached by input."""
        target = self.root / directory
        base_info = self.engine.image(base)
        digest = hashlib.sha256((base_info.id if base_info else base).encode())
        for lock in locks:
            digest.update((self.root / lock).read_bytes())
        key = digest.hexdigest()
        stamp = target / ".key"
        if stamp.is_file() and stamp.read_text() == key:
            return target
        self.say(f"downloading {directory} with the base image's Python")
        (self.root / "build").mkdir(exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="wheelhouse-", dir=self.root / "build"))
        mounts: dict[Path, tuple[str, str]] = {
            self.root / "requirements": ("/req", "ro"),
            staging: ("/wheels", "rw"),
        }
        env = {"HOME": "/tmp", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        ca = _host_ca_bundle()
        if ca is not None:
            mounts[ca] = ("/etc/ssl/certs/loadgate-host-ca.crt", "ro")
            env["PIP_CERT"] = "/etc/ssl/certs/loadgate-host-ca.crt"
        requirements = " ".join(f"-r /req/{Path(lock).name}" for lock in locks)
        script = (
            f"python3 -m venv /tmp/venv && /tmp/venv/bin/pip download -q -d /wheels {requirements}"
        )
        code, output = self.engine.run_once(
            base,
            ["sh", "-c", script],
            mounts,
            env,
            {LABEL_RUN: "wheelhouse"},
            user=f"{os.getuid()}:{os.getgid()}",
        )
        if code != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise ImageBuildError(str(directory), f"pip download exited {code}", output[-3000:])
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        stamp.write_text(key)
        return target

    def build(self, tag: str, context: Path, dockerfile: str, base: str | None) -> ImageInfo:
        """Build with the layer cache; `base` is passed as BASE_IMAGE unless None."""
        self.say(f"building {tag}")
        return self.engine.build(context, dockerfile, tag, {"BASE_IMAGE": base} if base else {})

    def worker_image(self, tag: str = WORKER_IMAGE) -> ImageInfo:
        """The image `loadgate worker` runs in (the run's master too), tagged `tag`: loadgate
        built from this tree on the base image, with the worker's wheelhouse."""
        base = self.base()
        self.wheelhouse(base, WORKER_LOCKS, WORKER_WHEELHOUSE)
        return self.build(tag, self.root, WORKER_DOCKERFILE, base)

    def gateway(self, spec: ServiceSpec, base: str) -> ImageInfo:
        if spec.build is None:
            info = self._present_or_pulled(spec.image)
            if info is None:
                raise ImageBuildError(spec.image, "not present locally, cannot be pulled, no build")
            return info
        build_base = base if spec.build.loadgate_base else None
        return self.build(spec.image, spec.build.context, spec.build.dockerfile, build_base)

    def redis(self, spec: ServiceSpec, base: str) -> ImageInfo:
        info = self._present_or_pulled(spec.image)
        if info is not None:
            return info
        return self.build(STAND_IN_REDIS, self.root, REDIS_DOCKERFILE, base)
