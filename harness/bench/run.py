"""The benchmark: the gateway's hot path beside the mock alone and two naive gateways.

All in one run, on this machine: the mock provider answers at once (no latency, 16 tokens), the
gateways are limited to one CPU, and wrk drives each target from a container on the same
private network (so no port-publishing proxy sits in the path or eats CPU unseen), first with
one connection (the latency a gateway adds) and then at rising concurrency (the throughput it
sustains while its p99 stays under `P99_BOUND_MS`). The CPU each process used is measured beside
every figure: the targets' from their cgroups, wrk's from the kernel's accounting of its process.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.bench import wrk
from harness.ids import new_id
from harness.progress import ProgressDisplay
from harness.stack.compose import ComposeFile
from harness.stack.docker import (
    LABEL_PROJECT,
    LABEL_RUN,
    LABEL_SERVICE,
    ContainerSpec,
    DockerEngine,
    owner_labels,
)
from harness.stack.images import ImageBuilder
from harness.stack.readiness import check_running, http_ok, wait_ready
from harness.stack.sampler import CgroupReader
from reports.atomic import write_atomic

P99_BOUND_MS = 50.0
CONNECTIONS = (8, 16, 32, 64)
NAIVE_POINT = 64
"""The issue measured the naive FastAPI + httpx pass-through at 64 connections."""
READY_TIMEOUT_S = 60.0
"""How long a benchmark target has to answer its readiness path."""
BODY = json.dumps(
    {
        "messages": [{"role": "user", "content": "Explain connection pooling in one paragraph."}],
        "max_tokens": 16,
        "temperature": 0.7,
    }
)
NAIVE_FILE = Path(__file__).with_name("naive_gateway.py")
WRK_IMAGE = "loadgate/wrk:bookworm"
WRK_DOCKERFILE = "harness/dockerfiles/wrk.Dockerfile"
CHAT = "/v1/chat/completions"


@dataclass(frozen=True)
class BenchSettings:
    project_root: Path
    compose_file: Path
    output_dir: Path
    base_image: str = "python:3.11-slim"
    duration_s: float = 5.0
    gateway_cpus: float = 1.0


@dataclass
class Measurement:
    target: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cores: dict[str, float]
    """CPU cores used during the run, by process."""


@dataclass
class Target:
    name: str
    url: str
    connection_levels: tuple[int, ...] = (1, *CONNECTIONS)
    results: list[Measurement] = field(default_factory=list)

    def latency_at_one(self) -> Measurement:
        return next(m for m in self.results if m.connections == 1)

    def best_within_bound(self) -> Measurement | None:
        within = [
            m
            for m in self.results
            if m.p99_ms < P99_BOUND_MS and m.connections > 1 and not m.errors
        ]
        return max(within, key=lambda m: m.rps, default=None)

    def at(self, connections: int) -> float:
        return next((m.rps for m in self.results if m.connections == connections), 0.0)

    def max_rps(self) -> float:
        return max((m.rps for m in self.results if m.connections > 1), default=0.0)


class Bench:
    def __init__(
        self, settings: BenchSettings, engine: DockerEngine, display: ProgressDisplay
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.display = display
        self.run_id = new_id("bench")
        self.directory = settings.output_dir / self.run_id
        self.network = f"loadgate-{self.run_id}"
        self.readers: dict[str, CgroupReader] = {}
        self.wrk_image = WRK_IMAGE

    def labels(self, service: str) -> dict[str, str]:
        return {
            LABEL_PROJECT: "bench",
            LABEL_RUN: self.run_id,
            LABEL_SERVICE: service,
            **owner_labels(),
        }

    def start(self, service: str, image: str, port: int, ready: str, **extra: Any) -> str:
        """Start a target; returns its URL on the private network, where wrk runs."""
        spec = replace(
            ContainerSpec(
                name=f"loadgate-{self.run_id}-{service}",
                image=image,
                labels=self.labels(service),
                network=self.network,
                aliases=[service],
                ports=[port],
            ),
            **extra,
        )
        container = self.engine.start(spec, service)
        url = f"http://127.0.0.1:{container.host_port(port)}{ready}"
        wait_ready(
            service, http_ok(url), READY_TIMEOUT_S, lambda: check_running(container), container.logs
        )
        reader = CgroupReader.locate(container.id, container.pid())
        if reader is not None:
            self.readers[service] = reader
        return f"http://{service}:{port}"

    def cpu_ns(self) -> dict[str, int]:
        return {name: reader.read()[2] for name, reader in self.readers.items()}

    def wrk(self, url: str, connections: int, duration_s: float) -> wrk.WrkResult:
        return wrk.run_in_container(
            self.engine,
            self.wrk_image,
            self.network,
            self.labels("wrk"),
            url,
            BODY,
            connections,
            duration_s,
        )

    def measure(self, target: Target, connections: int) -> Measurement:
        before, began = self.cpu_ns(), time.monotonic()
        result = self.wrk(target.url, connections, self.settings.duration_s)
        elapsed = time.monotonic() - began
        after = self.cpu_ns()
        cores = {name: (after[name] - before[name]) / 1e9 / elapsed for name in after}
        cores["wrk"] = result.cpu_s / self.settings.duration_s
        self.display.say(
            f"{target.name:<28} c={connections:<3} {result.rps:8.0f} req/s  "
            f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:7.2f} ms  errors {result.errors}"
        )
        return Measurement(
            target.name, connections, result.rps, result.p50_ms, result.p99_ms, result.errors, cores
        )


@dataclass(frozen=True)
class BenchReport:
    run_id: str
    duration_s: float
    gateway_cpus: float
    targets: dict[str, list[Measurement]]
    verdicts: list[tuple[str, bool, str]]
    """(target, met, figures) for each of the targets the gateway is held to."""

    def save(self, directory: Path) -> Path:
        path = directory / "bench.json"
        data = {
            "run_id": self.run_id,
            "duration_s": self.duration_s,
            "gateway_cpus": self.gateway_cpus,
            "p99_bound_ms": P99_BOUND_MS,
            "targets": {k: [asdict(m) for m in v] for k, v in self.targets.items()},
            "verdicts": [{"target": t, "met": met, "figures": f} for t, met, f in self.verdicts],
        }
        write_atomic(path, json.dumps(data, indent=2))
        return path


def judge(mock: Target, gateway: Target, naive: Target) -> list[tuple[str, bool, str]]:
    gw1, mock1 = gateway.latency_at_one(), mock.latency_at_one()
    added_p50, added_p99 = gw1.p50_ms - mock1.p50_ms, gw1.p99_ms - mock1.p99_ms
    best = gateway.best_within_bound()
    best_rps = best.rps if best else 0.0
    mock_best = mock.best_within_bound()
    mock_rps = mock_best.rps if mock_best else mock.max_rps()
    gateway_64, naive_64 = gateway.at(NAIVE_POINT), naive.at(NAIVE_POINT)
    ratio_64 = gateway_64 / max(naive_64, 1.0)
    best_ratio = best_rps / max(naive.max_rps(), 1.0)
    bound = f"{P99_BOUND_MS:.0f} ms"
    return [
        ("added p50 latency at c=1 <= 0.5 ms", added_p50 <= 0.5, f"{added_p50:.3f} ms"),
        ("added p99 latency at c=1 <= 2 ms", added_p99 <= 2.0, f"{added_p99:.3f} ms"),
        (f"throughput at p99 < {bound} >= 2,000 req/s", best_rps >= 2000, f"{best_rps:,.0f} req/s"),
        (
            "... >= 30 % of direct-to-mock",
            best_rps >= 0.3 * mock_rps,
            f"{best_rps / mock_rps:.0%} of {mock_rps:,.0f}",
        ),
        (
            f"... >= 10x naive pooled httpx at {NAIVE_POINT} connections (where the naive"
            " baseline was defined)",
            ratio_64 >= 10,
            f"{ratio_64:.1f}x ({gateway_64:,.0f} vs {naive_64:,.0f} req/s);"
            f" best against best {best_ratio:.1f}x",
        ),
    ]


def _targets(bench: Bench, settings: BenchSettings, compose: ComposeFile) -> list[Target]:
    token = "lg-bench-" + secrets.token_hex(8)
    upstream = "http://mock-upstream:8080"
    variables = {"PROVIDER_AUTH_TOKEN": token, "UPSTREAM_BASE_URL": upstream}
    gateway_service = compose.service("gateway", variables)
    builder = ImageBuilder(
        bench.engine, settings.project_root, settings.base_image, bench.display.say
    )
    images = builder.build_all(gateway_service, compose.service("redis", variables))
    builder.build(WRK_IMAGE, settings.project_root, WRK_DOCKERFILE, images.base)
    bench.engine.create_network(bench.network, bench.labels("network"))
    bench.display.phase("containers")
    mock_env = {"MOCK_LATENCY_MS": "0", "MOCK_COMPLETION_TOKENS": "16"}
    mock = bench.start("mock-upstream", images.mock.name, 8080, "/health", environment=mock_env)
    gateway_env = {k: v for k, v in gateway_service.environment.items() if k != "REDIS_URL"}
    gateway = bench.start(
        "gateway",
        images.gateway.name,
        8000,
        "/ready",
        environment=gateway_env,
        cpus=settings.gateway_cpus,
    )
    naive = bench.start(
        "naive",
        images.gateway.name,
        8000,
        "/ready",
        command=["python3", "/bench/naive_gateway.py"],
        environment=variables,
        cpus=settings.gateway_cpus,
        files={"/bench/naive_gateway.py": NAIVE_FILE.read_bytes()},
    )
    return [
        Target("mock (direct)", mock + CHAT),
        Target("loadgate gateway", gateway + CHAT),
        Target("naive: pooled httpx", naive + CHAT),
        Target("naive: client per request", naive + "/per-request" + CHAT, (1, 16)),
    ]


def run_bench(settings: BenchSettings, display: ProgressDisplay) -> tuple[BenchReport, Path]:
    compose = ComposeFile.load(settings.compose_file)
    engine = DockerEngine.connect()
    bench = Bench(settings, engine, display)
    bench.directory.mkdir(parents=True)
    try:
        display.phase("images")
        targets = _targets(bench, settings, compose)
        display.phase("measuring")
        for target in targets:
            bench.wrk(target.url, 8, 1)  # warm-up: pools, first-call costs
            for connections in target.connection_levels:
                target.results.append(bench.measure(target, connections))
    finally:
        engine.remove_leftovers(bench.run_id)
        engine.close()
    report = BenchReport(
        run_id=bench.run_id,
        duration_s=settings.duration_s,
        gateway_cpus=settings.gateway_cpus,
        targets={t.name: t.results for t in targets},
        verdicts=judge(targets[0], targets[1], targets[2]),
    )
    report.save(bench.directory)
    return report, bench.directory


def format_table(report: BenchReport) -> str:
    header = f"{'target':<28}{'conns':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
    lines = [header + "  CPU cores used"]
    for name, results in report.targets.items():
        for m in results:
            cores = ", ".join(f"{k} {v:.2f}" for k, v in m.cores.items() if v >= 0.005)
            figures = f"{m.rps:>9,.0f}{m.p50_ms:>9.2f}{m.p99_ms:>9.2f}{m.errors:>8}"
            lines.append(f"{name:<28}{m.connections:>6}{figures}  {cores}")
    lines.append("")
    for target, met, figures in report.verdicts:
        lines.append(f"[{'met' if met else 'MISSED'}] {target}: {figures}")
    return "\n".join(lines)
