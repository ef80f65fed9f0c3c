"""A run and a tune as the console shows them: the report format people read first.

Like the HTML report, JUnit and summary.md, it is made from a result alone; figures are rounded
for people (`reports.figures`).
"""

from __future__ import annotations

from pathlib import Path

from reports.figures import number
from reports.markdown import printable
from reports.result import FAILED_FAST_PREFIX, MIB, RunResult
from reports.tune_result import TuneResult


def run_lines(result: RunResult, report: Path) -> list[str]:
    """A run for the console: figures, steps, budgets and the verdict line."""
    lines: list[str] = []
    lat = result.latency
    figures = result.findings.figures
    offered = figures.get("offered_rps")
    served = "" if offered is None else f" (offered {offered:.1f} req/s)"
    lines.append(
        f"scenario {result.scenario}: {lat.count:,} requests, {result.throughput_rps:.1f} req/s"
        f"{served}, errors {result.errors.rate * 100:.2f} %"
    )
    lines.append(
        f"latency p50 {lat.p50_ms:.1f} ms, p95 {lat.p95_ms:.1f} ms, p99 {lat.p99_ms:.1f} ms, "
        f"max {lat.max_ms:.1f} ms"
    )
    service = result.service_latency
    if service is not None:
        lines.append(
            f"  (from each request's intended send time; from its actual send, as a closed loop "
            f"alone would report: p50 {service.p50_ms:.1f}, p95 {service.p95_ms:.1f}, "
            f"p99 {service.p99_ms:.1f} ms)"
        )
    memory = result.memory
    if memory:
        lines.append(
            f"gateway memory p50 {memory.p50_bytes / MIB:.1f} MiB, "
            f"p95 {memory.p95_bytes / MIB:.1f} MiB, max {memory.max_bytes / MIB:.1f} MiB "
            f"({memory.samples} samples at {memory.rate_hz:.1f} Hz)"
        )
    lines += _probes_and_scan(result)
    workers = worker_lines(result)
    if workers:
        lines.append(f"load from {len(workers)} workers (every request merged):")
        lines += workers
    for step in result.findings.steps:
        mark = {True: " pass", False: " FAIL", None: ""}[step.passed]
        p95 = "-" if step.p95_ms is None else f"{step.p95_ms:.1f}"
        lines.append(
            f"  {step.name:<28} {step.throughput_rps:7.1f} req/s  p95 {p95:>7} ms  "
            f"errors {step.error_rate * 100:5.2f} %{mark}"
        )
    if figures:
        shown = ", ".join(
            f"{name} {'n/a' if value is None else number(value)}" for name, value in figures.items()
        )
        lines.append(f"found: {shown}")
    for note in result.findings.notes:
        lines.append(f"note: {printable(note)}")
    for budget in result.budgets:
        mark = {True: "pass", False: "FAIL", None: "n/a "}[budget.passed]
        observed = "unavailable" if budget.observed is None else number(budget.observed)
        limit = number(budget.limit)
        lines.append(f"  [{mark}] {budget.name}: {observed} (limit {limit} {budget.unit})".rstrip())
    lines.append(f"verdict: {verdict_line(result)}")
    lines.append(f"report: {report}")
    return lines


def _probes_and_scan(result: RunResult) -> list[str]:
    lines: list[str] = []
    readiness = result.readiness
    if readiness is not None:
        first = f"; first: {readiness.first_failure}" if readiness.first_failure else ""
        lines.append(
            f"readiness GET {readiness.path}: {readiness.failures} of {readiness.probes} probes "
            f"failed (timeout {readiness.timeout_s:g} s){first}"
        )
    scan = result.responses
    if scan is not None and scan.token_hits:
        where = ", ".join(sorted({f"{h.route} {h.status} ({h.where})" for h in scan.token_hits}))
        lines.append(f"the provider token was in {len(scan.token_hits)} answer(s): {where}")
    return lines


def _lost_workers(result: RunResult) -> str:
    """`worker 1 (host) lost 7.2 s into the load`, for each worker lost or failed."""
    generator = result.generator
    said = []
    for worker in generator.workers if generator is not None else []:
        name = f"worker {worker.index} ({printable(worker.host)})"
        if worker.lost_after_s is not None:
            said.append(f"{name} lost {worker.lost_after_s:.1f} s into the load")
        elif worker.error:
            said.append(f"{name} could not run its share: {printable(worker.error)[:200]}")
        elif worker.rejected_rows:
            said.append(f"{name} sent {worker.rejected_rows} rows that were refused")
    return "; ".join(said)


def worker_lines(result: RunResult) -> list[str]:
    """One line per worker of a distributed run: its share, requests, CPU and schedule lag."""
    generator = result.generator
    lines = []
    for w in generator.workers if generator is not None else []:
        lag = "-" if w.lag_p99_ms is None else f"{w.lag_p99_ms:.1f} ms"
        state = "lost" if w.lost_after_s is not None else ("FAILED" if w.error else "ok")
        lines.append(
            f"  worker {w.index} {printable(w.host)[:40]}: {printable(w.share)}; "
            f"{w.requests} requests, {w.cores:.2f} cores, lag p99 {lag}, missed "
            f"{w.missed if w.missed is not None else '-'}: {state}"
        )
    return lines


def verdict_line(result: RunResult) -> str:
    """PASS, FAIL with the first reason a user must act on, or NOT JUDGED."""
    if result.verdict == "no-budgets":
        return "NOT JUDGED (--no-budgets: no budget was applied; integrity checks passed)"
    if result.verdict == "pass":
        return "PASS"
    failed = [b.name for b in result.budgets if b.passed is False]
    cause = next((n for n in result.findings.notes if n.startswith(FAILED_FAST_PREFIX)), None)
    if "requests_all_failing" in failed and cause is not None:
        return f"FAIL: {printable(cause)}"
    lost = _lost_workers(result)
    if lost:
        return f"FAIL: {lost}: the load was not what the run claims"
    if {"generator_cpu_cores", "generator_lag_p99_ms"} & set(failed):
        return (
            "FAIL: the load generator was the bottleneck: this run says nothing about the gateway"
        )
    if not failed:
        return "FAIL: no budget of the budgets file could be measured in this run"
    return "FAIL (" + ", ".join(failed) + ")"


def tune_lines(result: TuneResult, report: Path) -> list[str]:
    """A tune for the console: every run, the recommendation and what was written."""
    lines: list[str] = []
    lines.append(
        f"{'role':<13}{'cpus':>6}{'memory':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>8}  verdict"
    )
    for p in result.points:
        p95 = "-" if p.p95_ms is None else f"{p.p95_ms:.1f}"
        p99 = "-" if p.p99_ms is None else f"{p.p99_ms:.1f}"
        rps = "-" if p.throughput_rps is None else f"{p.throughput_rps:.1f}"
        verdict = "pass" if p.passed else f"FAIL {p.reason}"
        memory = f"{p.memory_bytes / MIB:.0f}M"
        lines.append(f"{p.role:<13}{p.cpus:>6g}{memory:>9}{p95:>9}{p99:>9}{rps:>8}  {verdict}")
    lines.append(f"search ended: {result.stop_reason}")
    rec = result.recommendation
    if rec is None:
        lines.append("no recommendation: no limits met every budget")
    else:
        lines.append(
            f"recommended: cpus {rec.cpus:g} (reservation {rec.reserved_cpus:g}), "
            f"memory {rec.memory_bytes / MIB:.0f} MiB "
            f"(reservation {rec.reserved_memory_bytes / MIB:.0f} MiB)"
        )
        for line in rec.explanation:
            lines.append(f"  {line}")
        lines.append("confirmation run: " + ("PASS" if result.confirmed else "FAIL"))
        lines += result.compose_diff.splitlines()
        if result.written:
            lines.append(f"written to {result.compose_file}")
        elif result.confirmed:
            lines.append("not written (pass --write to apply it)")
    lines.append(f"report: {report}")
    return lines
