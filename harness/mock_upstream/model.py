"""Latency and token models, deterministic under a seed."""

from __future__ import annotations

import math
import random
from typing import Any

from .settings import MockSettings

Z_99 = 2.3263478740408408  # standard normal quantile at 0.99
WORDS = (
    "the",
    "gateway",
    "forwards",
    "each",
    "request",
    "to",
    "the",
    "provider",
    "and",
    "returns",
    "the",
    "answer",
    "while",
    "the",
    "cache",
    "keeps",
    "repeated",
    "prompts",
    "cheap",
    "and",
    "the",
    "pool",
    "keeps",
    "connections",
    "warm",
    "under",
    "load",
)


class ResponseModel:
    def __init__(self, settings: MockSettings) -> None:
        self._settings = settings
        self._rng = random.Random(settings.seed)

    def latency_seconds(self) -> float:
        s = self._settings
        if s.latency == "fixed" or s.latency_p99_ms is None:
            return s.latency_ms / 1000
        mu = math.log(max(s.latency_ms, 1e-3))
        sigma = math.log(s.latency_p99_ms / max(s.latency_ms, 1e-3)) / Z_99
        return self._rng.lognormvariate(mu, sigma) / 1000

    def completion_tokens(self, max_tokens: int) -> int:
        mean = self._settings.completion_tokens
        drawn = round(mean * self._rng.uniform(0.75, 1.25))
        return max(1, min(max_tokens, drawn))


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """About four characters a token plus a few per message, like OpenAI's tokenizer on English."""
    chars = sum(len(str(message.get("content", ""))) for message in messages)
    return max(1, round(chars / 4)) + 3 * len(messages)


def completion_text(tokens: int) -> str:
    return " ".join(WORDS[i % len(WORDS)] for i in range(tokens))
