"""The maths of `loadgate tune`: where to try next, and what to recommend. Pure functions.

Search: the CPU limit is bisected between a floor and the compose file's value while memory stays
at the compose value, because CPU is what latency budgets react to; memory is then sized from
what the passing runs really used, in the spirit of the Kubernetes Vertical Pod Autoscaler:

    memory limit        = max(peak working set x memory_peak_factor, p95 x memory_p95_factor)
    memory reservation  = p95 working set
    CPU limit           = smallest passing CPU limit x (1 + cpu_headroom)
    CPU reservation     = p95 CPU usage observed at the smallest passing limit

Everything is rounded up: CPUs to `cpu_step`, memory to `memory_step_mib`.
"""

from __future__ import annotations

import math

from reports.result import MIB
from reports.tune_result import Margins, Recommendation, TunePoint


def round_up(value: float, step: float) -> float:
    return round(math.ceil(round(value / step, 6)) * step, 6)


class CpuBisection:
    """Bisects the CPU limit: `hi` always passes (once known), `lo` fails or is the floor."""

    def __init__(self, floor: float, ceiling: float, resolution: float) -> None:
        self.lo = floor
        self.hi = ceiling
        self.resolution = resolution
        self.floor_tested = False

    def record(self, cpus: float, passed: bool) -> None:
        if passed:
            self.hi = min(self.hi, cpus)
        else:
            self.lo = max(self.lo, cpus)
        if cpus <= self.lo and not passed:
            self.floor_tested = True

    def next_cpus(self) -> float | None:
        """The next limit to try, or None when the interval is narrower than the resolution."""
        if self.hi - self.lo <= self.resolution:
            return None
        return round_up((self.lo + self.hi) / 2, 0.01)


def recommend(points: list[TunePoint], margins: Margins) -> Recommendation | None:
    """The smallest limits that met every budget, with the margins applied; None if none passed."""
    passing = [p for p in points if p.passed and p.role != "confirmation"]
    if not passing:
        return None
    smallest = min(passing, key=lambda p: p.cpus)
    peak = max(p.memory_max_bytes or 0 for p in passing)
    p95 = max(p.memory_p95_bytes or 0 for p in passing)
    step = margins.memory_step_mib * MIB
    memory = int(
        round_up(max(peak * margins.memory_peak_factor, p95 * margins.memory_p95_factor), step)
    )
    cpu_p95 = smallest.cpu_p95_cores or 0.0
    cpus = round_up(smallest.cpus * (1 + margins.cpu_headroom), margins.cpu_step)
    reserved_cpus = min(cpus, max(margins.cpu_step, round_up(cpu_p95, margins.cpu_step)))
    reserved_memory = min(memory, int(round_up(max(p95, step), step)))
    return Recommendation(
        cpus=cpus,
        memory_bytes=memory,
        reserved_cpus=reserved_cpus,
        reserved_memory_bytes=reserved_memory,
        smallest_passing_cpus=smallest.cpus,
        peak_memory_bytes=peak,
        p95_memory_bytes=p95,
        p95_cpu_cores=cpu_p95,
        explanation=[
            f"CPU limit {cpus:g} = smallest passing limit {smallest.cpus:g} "
            f"x (1 + headroom {margins.cpu_headroom:g}), rounded up to {margins.cpu_step:g}",
            f"CPU reservation {reserved_cpus:g} = p95 CPU use {cpu_p95:.3f} cores at that limit, "
            "rounded up",
            f"memory limit {memory / MIB:.0f} MiB = max(peak {peak / MIB:.1f} MiB"
            f" x {margins.memory_peak_factor:g}, p95 {p95 / MIB:.1f} MiB"
            f" x {margins.memory_p95_factor:g}), rounded up to {margins.memory_step_mib} MiB",
            f"memory reservation {reserved_memory / MIB:.0f} MiB = p95 working set, rounded up",
        ],
    )
