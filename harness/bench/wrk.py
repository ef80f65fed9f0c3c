"""wrk, the load generator of the benchmark: a C program that costs a fraction of a core at
thousands of requests a second, so what is measured is the server, not the generator."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.errors import SetupError

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


def post_script(path: Path, body: str) -> Path:
    """A wrk Lua script that POSTs `body` as JSON."""
    literal = body.replace("\\", "\\\\").replace("'", "\\'")
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = '{literal}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    return path


def run(url: str, script: Path, connections: int, duration_s: float) -> WrkResult:
    """One wrk run with one thread; its own CPU time comes from the kernel's accounting."""
    binary = shutil.which("wrk")
    if binary is None:
        raise SetupError("wrk is not installed (Debian: apt-get install wrk; `make bench` does it)")
    command = [
        binary,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SetupError(f"wrk failed ({process.returncode}): {output[-500:]}")
    return parse(output, connections, usage.ru_utime + usage.ru_stime)
