"""Watches a ramp while it runs and stops it at the first step that breaks a budget.

A ramp exists to find the knee: once a step has broken the latency or error budgets, the steps
above it would only push a saturated gateway (and the shared machine) further. Each step is
judged when its last request is due plus a settling time; a step whose requests have not come
back by then broke its budget too (a stalled server must not look fast because its slow
answers are missing).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from harness.run.runner import SampleTail
from harness.verdict.budgets import Budgets
from harness.verdict.judge import step_breach
from reports.findings import step_stats
from scenarios.arrivals import Stage

SETTLE_S = 2.0
COMPLETE_SHARE = 0.99


class KneeWatch:
    """`check(tail, load_started_at, now)` returns why the ramp should stop, or None."""

    def __init__(self, stages: Sequence[Stage], budgets: Budgets) -> None:
        self._stages = list(stages)
        self._budgets = budgets
        self._judged = 0
        p99_s = (budgets.latency_p99_ms or budgets.latency_p95_ms or 1000) / 1000
        self._settle_s = SETTLE_S + p99_s

    def check(self, tail: SampleTail, load_started_at: float, now: float) -> str | None:
        start = load_started_at + sum(s.duration_s for s in self._stages[: self._judged])
        while self._judged < len(self._stages) - 1:
            stage = self._stages[self._judged]
            end = start + stage.duration_s
            if now < end + self._settle_s:
                return None
            problem = self._judge(tail, (start, end), stage)
            self._judged += 1
            if problem is not None:
                return f"step {self._judged} ({stage.rate_rps:g} req/s) {problem}: ramp stopped"
            start = end
        return None

    def _judge(self, tail: SampleTail, window: tuple[float, float], stage: Stage) -> str | None:
        starts, latencies, failed = zip(*tail.rows, strict=True) if tail.rows else ((), (), ())
        rows = pd.DataFrame(
            {
                "start": starts,
                "latency_ms": latencies,
                "error": ["failed" if f else "" for f in failed],
                "lag_ms": np.nan,
            }
        )
        step = step_stats(rows, "", window, load_started_at=0.0)
        expected = stage.rate_rps * stage.duration_s
        if step.requests < COMPLETE_SHARE * expected:
            return f"answered {step.requests} of {expected:.0f} requests in time"
        return step_breach(step, self._budgets.model_dump())
