"""Request bodies for the gateway's two contracts, drawn from a seeded generator."""

from __future__ import annotations

import random
from typing import Any

SYSTEM_PROMPT = "You are a concise assistant for an engineering team."
QUESTIONS = (
    "Summarise the trade-offs of connection pooling in an async HTTP client.",
    "Explain why a blocking call inside an async endpoint hurts tail latency.",
    "List three signs that a container's memory limit is too small.",
    "What should a service do when it receives SIGTERM?",
    "How does request de-duplication reduce load on an upstream provider?",
    "Describe coordinated omission in load testing in two sentences.",
    "When is a cached LLM answer safe to reuse?",
    "Compare open-model and closed-model load generation.",
)


def infer_payload(rng: random.Random, temperature: float = 0.7) -> dict[str, Any]:
    """A realistic body: a system turn, one or two user turns, a bounded output length."""
    turns = [{"role": "system", "text": SYSTEM_PROMPT}]
    turns.append({"role": "user", "text": rng.choice(QUESTIONS)})
    if rng.random() < 0.3:
        turns.append({"role": "assistant", "text": "Could you say more about the context?"})
        turns.append({"role": "user", "text": rng.choice(QUESTIONS)})
    return {
        "turns": turns,
        "max_output_tokens": rng.choice((64, 128, 256)),
        "sampling_temperature": temperature,
    }


def chat_payload(rng: random.Random, model: str, temperature: float = 0.7) -> dict[str, Any]:
    """The same conversations in OpenAI's chat-completions shape, for `model` (which OpenAI's
    contract requires: a real endpoint answers a body without it with 400)."""
    body = infer_payload(rng, temperature)
    return {
        "model": model,
        "messages": [{"role": t["role"], "content": t["text"]} for t in body["turns"]],
        "max_tokens": body["max_output_tokens"],
        "temperature": temperature,
    }
