#!/usr/bin/env bash
# Make sure a Docker engine answers, and that the tools loadgate needs to build its
# stand-in base images are present.
#
# - An engine that already answers is left alone.
# - On Debian as root with no engine, Debian's docker.io is installed (if missing) and dockerd is
#   started in the background, without systemd.
# - Anywhere else the script stops with a message saying how to get an engine.
set -euo pipefail

log() { printf 'loadgate: %s\n' "$*" >&2; }
engine_up() { docker info >/dev/null 2>&1; }

is_debian_root() {
    [ "$(id -u)" -eq 0 ] && [ -r /etc/os-release ] && grep -qi '^ID=debian' /etc/os-release
}

apt_install() {
    log "installing Debian packages: $*"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_packages() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
    [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

start_dockerd() {
    local pidfile=/var/run/docker.pid logfile=/var/log/loadgate-dockerd.log
    if pgrep -x dockerd >/dev/null 2>&1; then
        log "dockerd is running but not answering yet; waiting for it"
    else
        if [ -f "$pidfile" ]; then
            log "removing stale $pidfile left by a dockerd that is no longer running"
            rm -f "$pidfile"
        fi
        log "no Docker engine answers: starting dockerd (log: $logfile)"
        setsid nohup dockerd >"$logfile" 2>&1 </dev/null &
    fi
    for _ in $(seq 1 60); do
        engine_up && return 0
        sleep 1
    done
    log "dockerd did not answer within 60 s; last lines of $logfile:"
    tail -n 20 "$logfile" >&2 || true
    exit 3
}

if engine_up; then
    if is_debian_root && ! command -v mmdebstrap >/dev/null 2>&1; then
        apt_install mmdebstrap
    fi
    exit 0
fi

if ! is_debian_root; then
    cat >&2 <<'MSG'
loadgate: no Docker engine answers (`docker info` failed).
  Install Docker Engine (https://docs.docker.com/engine/install/) or Docker Desktop, start it, and
  make sure your user can reach it (e.g. add yourself to the `docker` group), then run this again.
  On Debian as root, loadgate installs and starts the engine by itself.
MSG
    exit 3
fi

ensure_packages
start_dockerd
log "Docker engine is up ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo unknown))"
