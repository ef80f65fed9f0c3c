"""The named scenarios `loadgate run --scenario NAME` knows, with their defaults.

A scenario is a load (closed: Locust users pacing themselves; open: a schedule of arrival rates),
the mock provider's behaviour, and actions at set times into the load (flip the mock's faults,
stop Redis, send the gateway SIGTERM). What a scenario finds is judged by its budgets file,
`budgets/<name>.yml` when there is one, else `budgets/default.yml`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from scenarios.arrivals import Arrival, Stage, total_duration

Protocol = Literal["infer", "openai"]
ActionKind = Literal["mock_config", "redis_stop", "redis_start", "sigterm"]
PROTOCOL_USERS = {"infer": "InferUser", "openai": "ChatUser"}


@dataclass(frozen=True)
class ClosedLoad:
    """Locust users, each paced at `rps_per_user` (0: no wait between requests)."""

    users: int
    spawn_rate: float
    rps_per_user: float

    @property
    def peak_rps(self) -> float:
        return self.users * self.rps_per_user


@dataclass(frozen=True)
class OpenLoad:
    """Requests sent on schedule, stage after stage, whether or not earlier ones returned."""

    stages: tuple[Stage, ...]
    arrival: Arrival = "uniform"
    max_in_flight: int = 1024

    @property
    def peak_rps(self) -> float:
        return max(stage.rate_rps for stage in self.stages)


@dataclass(frozen=True)
class Action:
    """Something done to the stack `at_s` seconds into the load."""

    at_s: float
    kind: ActionKind
    config: dict[str, Any] = field(default_factory=dict)
    """For `mock_config`: the patch sent to the mock's `/admin/config`."""


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    load: ClosedLoad | OpenLoad
    duration_s: float
    protocol: Protocol = "infer"
    stream: bool = False
    prompts: Literal["varied", "repeated"] = "varied"
    mock_environment: dict[str, str] = field(default_factory=dict)
    gateway_environment: dict[str, str] = field(default_factory=dict)
    """Settings given to the gateway on top of the compose file's (ignored by other gateways)."""
    gateway_memory_mb: int | None = None
    """A memory limit to impose instead of the compose file's (the `oom` scenario)."""
    actions: tuple[Action, ...] = ()
    judged_by_step: bool = False
    """Budgets judge each step of the schedule, to find the knee (`ramp`), not the whole run."""

    @property
    def target_rps(self) -> float:
        return self.load.peak_rps

    @property
    def users(self) -> int:
        return self.load.users if isinstance(self.load, ClosedLoad) else 0

    @property
    def user_class(self) -> str:
        return PROTOCOL_USERS[self.protocol]

    @property
    def needs_stack(self) -> bool:
        """Whether the scenario acts on containers loadgate started (not possible on a URL)."""
        return bool(self.actions) or self.gateway_memory_mb is not None


def _provider(seed: int, median_ms: float = 40, p99_ms: float = 120) -> dict[str, str]:
    """A provider answering in `median_ms` at the median and `p99_ms` at p99, 64 tokens."""
    return {
        "MOCK_LATENCY": "lognormal",
        "MOCK_LATENCY_MS": str(median_ms),
        "MOCK_LATENCY_P99_MS": str(p99_ms),
        "MOCK_COMPLETION_TOKENS": "64",
        "MOCK_SEED": str(seed),
    }


def _open(*stages: tuple[float, float], **options: Any) -> OpenLoad:
    return OpenLoad(tuple(Stage(duration, rate) for duration, rate in stages), **options)


def _scenarios() -> list[Scenario]:
    failing = {"error_rate": 0.3, "error_statuses": {429: 1, 500: 1, 503: 1}, "reset_rate": 0.05}
    return [
        Scenario(
            "smoke",
            "Closed-model load on /v1/infer for a few seconds: is the stack sane?",
            ClosedLoad(users=8, spawn_rate=8, rps_per_user=5),
            duration_s=15,
            mock_environment=_provider(seed=7),
        ),
        Scenario(
            "steady",
            "Constant closed-model load, 60 req/s for 30 s (the default load of `tune`).",
            ClosedLoad(users=12, spawn_rate=12, rps_per_user=5),
            duration_s=30,
            mock_environment=_provider(seed=11),
        ),
        Scenario(
            "ramp",
            "Open model, arrival rate stepped up every 8 s; reports the knee: the highest step "
            "that still meets the budgets.",
            _open(*((8, rate) for rate in (100, 200, 400, 800, 1200, 1600, 2000, 2400))),
            duration_s=64,
            mock_environment=_provider(seed=13),
            judged_by_step=True,
        ),
        Scenario(
            "spike",
            "Open model: 100 req/s, a 10 s spike to 800 req/s, back to 100; latency in the "
            "spike and time to recover.",
            _open((15, 100), (10, 800), (20, 100)),
            duration_s=45,
            mock_environment=_provider(seed=17),
        ),
        Scenario(
            "soak",
            "Open model, 200 req/s for 2 minutes; memory, fd and TCP growth per 10k requests "
            "(a leak shows as a slope).",
            _open((120, 200)),
            duration_s=120,
            mock_environment=_provider(seed=19),
        ),
        Scenario(
            "stream",
            "OpenAI streaming at 40 req/s: time to first token, inter-token latency, tokens/s "
            "and goodput.",
            _open((30, 40)),
            duration_s=30,
            protocol="openai",
            stream=True,
            mock_environment={
                **_provider(seed=23, median_ms=150, p99_ms=400),
                "MOCK_TOKENS_PER_S": "200",
            },
        ),
        Scenario(
            "cache",
            "Eight repeated deterministic prompts at 100 req/s: hit ratio and upstream calls "
            "saved, counted by the mock.",
            _open((30, 100)),
            duration_s=30,
            prompts="repeated",
            mock_environment=_provider(seed=29),
        ),
        Scenario(
            "slow-upstream",
            "The provider takes 2 s and stalls 10 % of its headers for 5 s, at 25 req/s (~60 "
            "upstream requests open): the gateway must hold them without errors or growth, "
            "and stay ready.",
            _open((30, 25)),
            duration_s=30,
            # The provider is fast while the stack starts and slows once the load begins, so a
            # readiness path that waits on the provider fails under load (a finding), not at
            # start-up (which would look like a broken environment).
            mock_environment={"MOCK_LATENCY": "fixed", "MOCK_LATENCY_MS": "20", "MOCK_SEED": "31"},
            actions=(
                Action(
                    0, "mock_config", {"latency_ms": 2000, "faults": {"slow_headers_rate": 0.1}}
                ),
            ),
        ),
        Scenario(
            "failing-upstream",
            "From 10 s to 30 s the provider answers 429/500/503 to 30 % and resets 5 %: status "
            "mapping, and no growth of memory or connections while failing.",
            _open((40, 100)),
            duration_s=40,
            mock_environment=_provider(seed=37),
            actions=(
                Action(10, "mock_config", {"faults": failing}),
                Action(30, "mock_config", {"faults": {"error_rate": 0, "reset_rate": 0}}),
            ),
        ),
        Scenario(
            "redis-down",
            "Redis stopped at 10 s and started again at 25 s under 100 req/s: no errors, "
            "bounded latency.",
            _open((40, 100)),
            duration_s=40,
            prompts="repeated",
            mock_environment=_provider(seed=41),
            actions=(Action(10, "redis_stop"), Action(25, "redis_start")),
        ),
        Scenario(
            "pool-exhaustion",
            "A 500 ms provider and a 16-connection pool, arrival rate ramped to 5x what the pool "
            "can carry: are the rejections fast 503s, or timeouts?",
            _open((8, 16), (8, 32), (8, 64), (8, 160)),
            duration_s=32,
            mock_environment={"MOCK_LATENCY": "fixed", "MOCK_LATENCY_MS": "500", "MOCK_SEED": "43"},
            gateway_environment={
                "UPSTREAM_MAX_CONNECTIONS": "16",
                "UPSTREAM_MAX_KEEPALIVE": "16",
                "UPSTREAM_POOL_TIMEOUT": "0.25",
                "MAX_CONCURRENCY": "48",
            },
        ),
        Scenario(
            "shutdown",
            "SIGTERM to the gateway 8 s into 100 req/s of 1 s requests: in-flight requests "
            "completed or dropped, time to /ready 503, time to exit, exit code, SIGKILL or not.",
            _open((16, 100)),
            duration_s=16,
            mock_environment={
                "MOCK_LATENCY": "fixed",
                "MOCK_LATENCY_MS": "1000",
                "MOCK_SEED": "47",
            },
            actions=(Action(8, "sigterm"),),
        ),
        Scenario(
            "oom",
            "The gateway under a 48 MiB memory limit: an OOM kill must be detected and reported, "
            "never pass silently.",
            _open((15, 200)),
            duration_s=15,
            mock_environment=_provider(seed=53),
            gateway_memory_mb=48,
        ),
    ]


SCENARIOS: dict[str, Scenario] = {item.name: item for item in _scenarios()}


def scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})") from None


def adjusted(
    chosen: Scenario,
    protocol: Protocol | None = None,
    duration_s: float | None = None,
    rate_rps: float | None = None,
    users: int | None = None,
    stream: bool | None = None,
) -> Scenario:
    """The scenario with the CLI's overrides.

    For an open load, `duration_s` stretches or shrinks every stage and every action time in
    proportion, and `rate_rps` sets the peak stage rate (the others keep their proportion). For a
    closed load, `rate_rps` is spread over the users.
    """
    changes: dict[str, Any] = {}
    if protocol is not None:
        changes["protocol"] = protocol
    if stream is not None:
        changes["stream"] = stream
    load = chosen.load
    if isinstance(load, OpenLoad):
        time_factor = duration_s / chosen.duration_s if duration_s else 1.0
        rate_factor = rate_rps / load.peak_rps if rate_rps else 1.0
        stages = tuple(
            Stage(s.duration_s * time_factor, s.rate_rps * rate_factor) for s in load.stages
        )
        changes["load"] = dataclasses.replace(load, stages=stages)
        changes["duration_s"] = total_duration(stages)
        changes["actions"] = tuple(
            dataclasses.replace(a, at_s=a.at_s * time_factor) for a in chosen.actions
        )
    else:
        count = users or load.users
        changes["load"] = ClosedLoad(
            users=count,
            spawn_rate=count if users else load.spawn_rate,
            rps_per_user=rate_rps / count if rate_rps else load.rps_per_user,
        )
        if duration_s:
            changes["duration_s"] = duration_s
            changes["actions"] = tuple(
                dataclasses.replace(a, at_s=a.at_s * duration_s / chosen.duration_s)
                for a in chosen.actions
            )
    return dataclasses.replace(chosen, **changes)
