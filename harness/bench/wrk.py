"""wrk, the load generator of the benchmark: a C program that costs a fraction of a core at
thousands of requests a second, so what is measured is the server, not the generator."""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.errors import SetupError
from harness.stack.docker import DockerEngine

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}
_LATENCY = re.compile(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


@dataclass(frozen=True)
class WrkResult:
    connections: int
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    """Non-2xx answers plus socket errors."""
    cpu_s: float
    """CPU time wrk itself used."""


def parse(output: str, connections: int, cpu_s: float) -> WrkResult:
    latencies = {q: float(v) * UNITS[u] for q, v, u in _LATENCY.findall(output)}
    rps = _RPS.search(output)
    total = _TOTAL.search(output)
    if rps is None or total is None or "99" not in latencies:
        raise ValueError(f"cannot read wrk's output:\n{output[-800:]}")
    non_2xx = _NON_2XX.search(output)
    sockets = _SOCKET.search(output)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    errors += sum(int(n) for n in sockets.groups()) if sockets else 0
    return WrkResult(
        connections=connections,
        requests=int(total.group(1)),
        rps=float(rps.group(1)),
        p50_ms=latencies["50"],
        p90_ms=latencies["90"],
        p99_ms=latencies["99"],
        errors=errors,
        cpu_s=cpu_s,
    )


# wrk runs in its container under a shell that then prints its own /proc stat line, whose
# fields 16 and 17 are the CPU (user, system) of its waited-for children: wrk's own cost.
_SHELL = 'wrk "$@"; status=$?; echo "CHILD-STAT $(cat /proc/$$/stat)"; exit $status'
CLOCK_TICKS = 100


def run_in_container(
    engine: DockerEngine,
    image: str,
    network: str,
    labels: dict[str, str],
    url: str,
    body: str,
    connections: int,
    duration_s: float,
) -> WrkResult:
    """One wrk run (one thread) from a container on the targets' own network."""
    arguments = [
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        "--latency",
        "-s",
        "/bench/post.lua",
        url,
    ]
    code, output = engine.run_once(
        image,
        ["sh", "-c", _SHELL, "wrk", *arguments],
        mounts={},
        environment={"WRK_BODY": body},
        labels=labels,
        network=network,
    )
    if code != 0:
        raise SetupError(f"wrk failed ({code}): {output[-500:]}")
    return parse(output, connections, _child_cpu_s(output))


def stat_cpu_s(stat: str, children: bool = False) -> float:
    """CPU seconds from a /proc/<pid>/stat line: the process's own (utime + stime), or that of
    its waited-for children (cutime + cstime)."""
    fields = stat.rsplit(")", 1)[-1].split()  # after "(comm)"; fields[0] is field 3
    first = 13 if children else 11
    return (int(fields[first]) + int(fields[first + 1])) / CLOCK_TICKS


def _child_cpu_s(output: str) -> float:
    for line in output.splitlines():
        if line.startswith("CHILD-STAT "):
            return stat_cpu_s(line, children=True)
    return 0.0
