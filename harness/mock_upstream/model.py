"""Latency, token and fault draws, deterministic under a seed."""

from __future__ import annotations

import math
import random
from typing import Any, Literal

from .settings import RuntimeConfig

Z_99 = 2.3263478740408408  # standard normal quantile at 0.99
TEXT = (
    "the gateway forwards each request to the provider and returns the answer while the cache "
    "keeps repeated prompts cheap and the pool keeps connections warm under load"
)
WORDS = tuple(TEXT.split())
Fault = Literal["reset", "error", "slow_headers", "stall"]


class ResponseModel:
    """Draws what each request gets from the current configuration and one seeded generator."""

    def __init__(self, config: RuntimeConfig, seed: int) -> None:
        self.config = config
        self._rng = random.Random(seed)

    def latency_seconds(self) -> float:
        c = self.config
        if c.latency == "fixed" or c.latency_p99_ms is None:
            return c.latency_ms / 1000
        mu = math.log(max(c.latency_ms, 1e-3))
        sigma = math.log(c.latency_p99_ms / max(c.latency_ms, 1e-3)) / Z_99
        return self._rng.lognormvariate(mu, sigma) / 1000

    def completion_tokens(self, max_tokens: int) -> int:
        drawn = round(self.config.completion_tokens * self._rng.uniform(0.75, 1.25))
        return max(1, min(max_tokens, drawn))

    def faults(self, streaming: bool) -> set[Fault]:
        f = self.config.faults
        if f.outage or self._rng.random() < f.reset_rate:
            return {"reset"}
        drawn: set[Fault] = set()
        if self._rng.random() < f.error_rate:
            drawn.add("error")
        if self._rng.random() < f.slow_headers_rate:
            drawn.add("slow_headers")
        if streaming and self._rng.random() < f.stall_rate:
            drawn.add("stall")
        return drawn

    def error_status(self) -> int:
        statuses = self.config.faults.error_statuses
        return self._rng.choices(list(statuses), weights=list(statuses.values()))[0]


def prompt_tokens(messages: list[Any]) -> int:
    """About four characters a token plus a few per message, like OpenAI's tokenizer on English."""
    chars = sum(len(str(m.get("content", ""))) for m in messages if isinstance(m, dict))
    return max(1, round(chars / 4)) + 3 * len(messages)


def completion_words(tokens: int) -> list[str]:
    return [WORDS[i % len(WORDS)] for i in range(tokens)]
