"""The mock provider: OpenAI-shaped answers, realistic usage, a latency model under a seed."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from pydantic import ValidationError

from harness.mock_upstream.app import create_app
from harness.mock_upstream.model import ResponseModel, prompt_tokens
from harness.mock_upstream.settings import MockSettings

pytestmark = pytest.mark.anyio
MESSAGES = [{"role": "user", "content": "x" * 400}]


async def test_chat_completion_is_openai_shaped() -> None:
    """Choices, usage and model echo match the OpenAI schema; counters count."""
    app = create_app(MockSettings(latency_ms=0, completion_tokens=20, seed=1))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://m"
    ) as client:
        response = await client.post(
            "/v1/chat/completions", json={"model": "m1", "messages": MESSAGES, "max_tokens": 8}
        )
        models = await client.get("/v1/models")
        stats = await client.get("/admin/stats")
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == "m1"
    usage = body["usage"]
    assert usage["prompt_tokens"] == 103  # 400 chars / 4 + 3 for the message
    assert usage["completion_tokens"] == 8  # capped by max_tokens
    assert usage["total_tokens"] == 111
    assert body["choices"][0]["finish_reason"] == "length"
    assert models.json()["data"][0]["id"] == "mock-gpt"
    assert stats.json() == {"requests": 1, "concurrent": 0, "concurrent_peak": 1}


async def test_bad_requests_get_400() -> None:
    """A body without messages is an OpenAI-style 400."""
    app = create_app(MockSettings(latency_ms=0))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://m"
    ) as client:
        response = await client.post("/v1/chat/completions", content=b"{}")
    assert response.status_code == 400


def test_lognormal_latency_has_the_configured_median_and_p99() -> None:
    """Over many draws the median and p99 land on the configured values."""
    model = ResponseModel(
        MockSettings(latency="lognormal", latency_ms=40, latency_p99_ms=120, seed=5)
    )
    draws = np.array([model.latency_seconds() * 1000 for _ in range(20000)])
    assert np.median(draws) == pytest.approx(40, rel=0.05)
    assert np.percentile(draws, 99) == pytest.approx(120, rel=0.1)


def test_latency_is_deterministic_under_a_seed() -> None:
    """The same seed gives the same sequence; another seed does not."""
    a, b, c = (
        ResponseModel(MockSettings(latency="lognormal", latency_ms=40, latency_p99_ms=120, seed=s))
        for s in (9, 9, 10)
    )
    seq_a = [a.latency_seconds() for _ in range(50)]
    assert seq_a == [b.latency_seconds() for _ in range(50)]
    assert seq_a != [c.latency_seconds() for _ in range(50)]


def test_lognormal_needs_a_p99_above_the_median() -> None:
    """A lognormal model without a sensible p99 is refused at start-up."""
    with pytest.raises(ValidationError, match="MOCK_LATENCY_P99_MS"):
        MockSettings(latency="lognormal", latency_ms=50, latency_p99_ms=40)


def test_prompt_tokens_grow_with_text() -> None:
    """About four characters a token, plus per-message overhead."""
    assert prompt_tokens([{"content": "abcd" * 10}]) == 13
    assert prompt_tokens([{"content": "a"}, {"content": "b"}]) == 7
