# loadgate's worker image: `loadgate worker` (and the run's master, `loadgate run`) on machines
# that have no checkout of loadgate, e.g. a Kubernetes cluster (examples/kubernetes).
#
# Built from the repository root by `loadgate worker-image`. BASE_IMAGE defaults to the official
# Python image; where no registry is reachable, loadgate passes its Debian stand-in. The
# dependencies come from a wheelhouse (build/wheelhouse-worker, downloaded by loadgate with the
# base image's own Python from requirements/worker.lock) and are installed offline in a builder
# stage, then loadgate itself is built from the sources with the locked setuptools, offline too.
# The final stage has no pip, no setuptools, no compiler, and runs as a non-root user given by
# its number, so Kubernetes can check `runAsNonRoot`.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements/worker.lock /build/requirements.lock
COPY build/wheelhouse-worker/ /build/wheelhouse/
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-index --find-links /build/wheelhouse -r /build/requirements.lock
COPY pyproject.toml README.md /build/src/
COPY gateway/ /build/src/gateway/
COPY harness/ /build/src/harness/
COPY scenarios/ /build/src/scenarios/
COPY reports/ /build/src/reports/
RUN /opt/venv/bin/pip install --no-index --no-deps --no-build-isolation /build/src \
 && /opt/venv/bin/pip uninstall -y setuptools pip \
 && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +

FROM ${BASE_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 loadgate \
 && useradd --system --uid 10001 --gid loadgate --create-home --home-dir /home/loadgate \
    --shell /usr/sbin/nologin loadgate
COPY --from=builder /opt/venv /opt/venv
WORKDIR /home/loadgate
USER 10001:10001
EXPOSE 5557
STOPSIGNAL SIGTERM
ENTRYPOINT ["loadgate", "worker"]
