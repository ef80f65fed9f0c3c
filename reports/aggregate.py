"""Pure pandas: raw per-request and per-sample rows in, summary statistics and timelines out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from reports.result import (
    CpuStats,
    ErrorStats,
    LatencyStats,
    MemoryStats,
    PercentilePoint,
    ResourcePoint,
    TimePoint,
)

OPTIONAL_COLUMNS = ("lag_ms", "ttft_ms", "tokens")
PERCENTILES = {"p50_ms": 50, "p90_ms": 90, "p95_ms": 95, "p99_ms": 99}
DISTRIBUTION_PERCENTILES: tuple[float, ...] = (
    *(0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96, 97, 97.5, 98, 98.5, 99),
    *(99.25, 99.5, 99.6, 99.7, 99.75, 99.8, 99.85, 99.9, 99.925, 99.95, 99.975, 99.99),
    *(99.995, 99.999, 100),
)
"""Where a latency distribution is read, dense toward the tail as HdrHistogram prints it; a run
shows only the percentiles its request count resolves (`latency_distribution`)."""
RESOURCE_COLUMNS = [
    "t",
    "memory_bytes",
    "memory_usage_bytes",
    "cpu_ns",
    "throttled_ns",
    "open_fds",
    "tcp_inbound",
    "tcp_outbound",
]


def percentile(values: np.ndarray | pd.Series, q: float) -> float:
    """Nearest-rank percentile: the smallest observed value with at least q % at or below it."""
    return float(np.percentile(np.asarray(values, dtype=float), q, method="inverted_cdf"))


def load_requests(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={"name": str, "error": str}, keep_default_na=False)
    frame["error"] = frame["error"].astype(str)
    for column in OPTIONAL_COLUMNS:  # written empty by Locust, absent from older files
        values = frame[column] if column in frame else pd.Series(np.nan, index=frame.index)
        frame[column] = pd.to_numeric(values, errors="coerce")
    return frame


def latency_stats(requests: pd.DataFrame) -> LatencyStats:
    """Latency from each request's `start`: its intended send time when the load kept a
    schedule, so a request that waited behind a stall carries the wait."""
    return summary(request_latencies(requests))


def latency_distribution(latencies: np.ndarray) -> list[PercentilePoint]:
    """The nearest-rank latency at each of `DISTRIBUTION_PERCENTILES` that `latencies` resolves:
    with n requests, percentiles above 100 (1 - 1/n) name the maximum and are left out, but the
    maximum itself (100) is kept."""
    values = np.asarray(latencies, dtype=float)
    if values.size == 0:
        return []
    resolved = 100.0 * (1.0 - 1.0 / values.size)
    wanted = [q for q in DISTRIBUTION_PERCENTILES if q <= resolved or q == 100]
    return [PercentilePoint(percentile=q, latency_ms=percentile(values, q)) for q in wanted]


def request_latencies(requests: pd.DataFrame) -> np.ndarray:
    """Each request's latency from its intended send time (what `latency_stats` summarises)."""
    return requests["latency_ms"].to_numpy(dtype=float)


def service_latencies(requests: pd.DataFrame) -> np.ndarray | None:
    """Each request's latency from its actual send (None when no request kept a schedule)."""
    lags = requests["lag_ms"]
    if lags.isna().all():
        return None
    service = requests["latency_ms"] - lags.fillna(0.0)
    return service.clip(lower=0.0).to_numpy(dtype=float)


def summary(latencies: np.ndarray) -> LatencyStats:
    """Count, mean, nearest-rank percentiles and maximum of `latencies` (ms)."""
    if latencies.size == 0:
        return LatencyStats(count=0, mean_ms=0, p50_ms=0, p90_ms=0, p95_ms=0, p99_ms=0, max_ms=0)
    values = {key: percentile(latencies, q) for key, q in PERCENTILES.items()}
    return LatencyStats(
        count=int(latencies.size),
        mean_ms=float(latencies.mean()),
        max_ms=float(latencies.max()),
        **values,
    )


def error_stats(requests: pd.DataFrame) -> ErrorStats:
    failed = requests[requests["error"] != ""]
    total = len(requests)
    by_kind = {str(kind): int(count) for kind, count in failed["error"].value_counts().items()}
    return ErrorStats(
        total=len(failed), rate=len(failed) / total if total else 0.0, by_kind=by_kind
    )


def timeline(requests: pd.DataFrame, load_started_at: float) -> list[TimePoint]:
    """Per-second requests, errors and latency percentiles, by completion time."""
    if requests.empty:
        return []
    done = requests["start"] + requests["latency_ms"] / 1000 - load_started_at
    frame = requests.assign(second=np.floor(done.clip(lower=0)).astype(int))
    points = []
    for _, group in frame.groupby("second"):
        latencies = group["latency_ms"].to_numpy(dtype=float)
        points.append(
            TimePoint(
                t=float(group["second"].iloc[0]),
                requests=len(group),
                errors=int((group["error"] != "").sum()),
                p50_ms=percentile(latencies, 50),
                p95_ms=percentile(latencies, 95),
                p99_ms=percentile(latencies, 99),
            )
        )
    return points


def resource_frame(rows: Sequence[Sequence[float | int | None]]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=RESOURCE_COLUMNS)
    interval = frame["t"].diff()
    frame["cpu_cores"] = frame["cpu_ns"].diff() / 1e9 / interval
    # Client connections are the load generator's choice: what the gateway holds of its own.
    frame["own_fds"] = frame["open_fds"] - frame["tcp_inbound"]
    return frame


def memory_stats(
    resources: pd.DataFrame,
    load_started_at: float,
    source: str,
    limit_bytes: int | None,
) -> MemoryStats | None:
    under_load = resources[resources["t"] >= load_started_at]
    if under_load.empty:
        return None
    idle = resources[resources["t"] < load_started_at]["memory_bytes"]
    span = float(under_load["t"].iloc[-1] - under_load["t"].iloc[0])
    memory = under_load["memory_bytes"].to_numpy(dtype=float)
    return MemoryStats(
        source=source,
        samples=len(under_load),
        rate_hz=(len(under_load) - 1) / span if span > 0 else 0.0,
        idle_bytes=int(idle.median()) if not idle.empty else None,
        p50_bytes=int(percentile(memory, 50)),
        p95_bytes=int(percentile(memory, 95)),
        max_bytes=int(memory.max()),
        limit_bytes=limit_bytes,
    )


def cpu_stats(
    resources: pd.DataFrame, load_started_at: float, limit: float | None
) -> CpuStats | None:
    under_load = resources[resources["t"] >= load_started_at]
    cores = under_load["cpu_cores"].dropna().to_numpy(dtype=float)
    if cores.size == 0:
        return None
    throttled = under_load["throttled_ns"]
    return CpuStats(
        mean_cores=float(cores.mean()),
        p95_cores=percentile(cores, 95),
        max_cores=float(cores.max()),
        throttled_s=float(throttled.iloc[-1] - throttled.iloc[0]) / 1e9,
        limit_cores=limit,
    )


def resource_points(resources: pd.DataFrame, load_started_at: float) -> list[ResourcePoint]:
    times = resources["t"].to_numpy(dtype=float) - load_started_at
    memory = resources["memory_bytes"].to_numpy(dtype=np.int64)
    cores = resources["cpu_cores"].to_numpy(dtype=float)
    fds = resources["open_fds"].to_numpy(dtype=float)
    inbound = resources["tcp_inbound"].to_numpy(dtype=float)
    outbound = resources["tcp_outbound"].to_numpy(dtype=float)
    return [
        ResourcePoint(
            t=round(float(t), 3),
            memory_bytes=int(m),
            cpu_cores=None if np.isnan(c) else round(float(c), 4),
            open_fds=None if np.isnan(fd) else int(fd),
            tcp_inbound=None if np.isnan(tin) else int(tin),
            tcp_outbound=None if np.isnan(tout) else int(tout),
        )
        for t, m, c, fd, tin, tout in zip(times, memory, cores, fds, inbound, outbound, strict=True)
    ]
