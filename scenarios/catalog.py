"""The named scenarios `loadgate run --scenario NAME` knows, with their defaults."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    user_class: str
    """Locust user class in `scenarios.locustfile` (the protocol may swap it: `for_protocol`)."""
    users: int
    spawn_rate: float
    duration_s: float
    rps_per_user: float
    """Each user's target request rate (Locust's `constant_throughput`); 0 means no wait."""
    mock_environment: dict[str, str] = field(default_factory=dict)
    """`MOCK_*` settings of the mock upstream for this scenario."""

    @property
    def target_rps(self) -> float:
        return self.users * self.rps_per_user


def _typical_provider(seed: int) -> dict[str, str]:
    """A provider that answers in 40 ms at the median and 120 ms at p99, 64 tokens on average."""
    return {
        "MOCK_LATENCY": "lognormal",
        "MOCK_LATENCY_MS": "40",
        "MOCK_LATENCY_P99_MS": "120",
        "MOCK_COMPLETION_TOKENS": "64",
        "MOCK_SEED": str(seed),
    }


SCENARIOS: dict[str, Scenario] = {
    "smoke": Scenario(
        name="smoke",
        description="Steady closed-model load on /v1/infer for a few seconds: is the stack sane?",
        user_class="InferUser",
        users=8,
        spawn_rate=8,
        duration_s=15,
        rps_per_user=5,
        mock_environment=_typical_provider(seed=7),
    ),
    "steady": Scenario(
        name="steady",
        description="Constant closed-model load on /v1/infer, 60 req/s for 30 s (tune default).",
        user_class="InferUser",
        users=12,
        spawn_rate=12,
        duration_s=30,
        rps_per_user=5,
        mock_environment=_typical_provider(seed=11),
    ),
}


PROTOCOL_USERS = {"infer": "InferUser", "openai": "ChatUser"}


def for_protocol(chosen: Scenario, protocol: str) -> Scenario:
    """The scenario speaking `protocol`: `infer` (the seed contract) or `openai` (chat)."""
    return dataclasses.replace(chosen, user_class=PROTOCOL_USERS[protocol])


def scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})") from None
