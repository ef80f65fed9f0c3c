"""Scenario payloads are valid requests of the gateway's contract."""

from __future__ import annotations

import random

from gateway.schemas import ChatCompletionRequest, InferRequest
from scenarios.payloads import chat_payload, infer_payload


def test_payloads_validate_against_the_gateway_schema() -> None:
    """Every generated body passes the gateway's own validation."""
    rng = random.Random(1)
    for _ in range(200):
        InferRequest.model_validate(infer_payload(rng))


def test_payloads_are_deterministic_under_a_seed() -> None:
    """The same seed gives the same bodies."""
    assert [infer_payload(random.Random(4)) for _ in range(3)] == [
        infer_payload(random.Random(4)) for _ in range(3)
    ]


def test_chat_payloads_validate_against_the_openai_schema() -> None:
    """OpenAI-shaped bodies name the model and pass the gateway's chat-completions validation."""
    rng = random.Random(2)
    for _ in range(200):
        body = chat_payload(rng, "house-model")
        assert body["model"] == "house-model"
        assert ChatCompletionRequest.model_validate(body).model == "house-model"
