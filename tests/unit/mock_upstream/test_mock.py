"""The mock provider: OpenAI answers and streams, a seeded latency model, faults on command."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import httpx
import numpy as np
import pytest
from pydantic import ValidationError

from harness.mock_upstream.model import ResponseModel, prompt_tokens
from harness.mock_upstream.settings import MockSettings, RuntimeConfig

if TYPE_CHECKING:
    from tests.unit.conftest import RunningMock

pytestmark = pytest.mark.anyio
MESSAGES = [{"role": "user", "content": "x" * 400}]
BODY = {"model": "m1", "messages": MESSAGES, "max_tokens": 8}


async def test_chat_completion_is_openai_shaped(running_mock: RunningMock) -> None:
    """Choices, usage and model echo match the OpenAI schema; counters count."""
    async with (
        running_mock(latency_ms=0, completion_tokens=20) as url,
        httpx.AsyncClient() as client,
    ):
        response = await client.post(f"{url}/v1/chat/completions", json=BODY)
        models = await client.get(f"{url}/v1/models")
        stats = (await client.get(f"{url}/admin/stats")).json()
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "m1"
    assert body["usage"] == {"prompt_tokens": 103, "completion_tokens": 8, "total_tokens": 111}
    assert body["choices"][0]["finish_reason"] == "length"
    assert models.json()["data"][0]["id"] == "mock-gpt"
    assert stats["requests"] == 1
    assert stats["completions"] == 1
    assert stats["concurrent"] == 0


async def test_streams_pace_tokens_after_the_first(running_mock: RunningMock) -> None:
    """A stream sends headers at once, the first token after the TTFT, then one per interval."""
    settings = {"latency_ms": 100, "tokens_per_s": 50, "completion_tokens": 5}
    async with running_mock(**settings) as url, httpx.AsyncClient() as client:
        started = time.perf_counter()
        arrivals: list[float] = []
        events: list[str] = []
        body = {**BODY, "stream": True, "stream_options": {"include_usage": True}, "max_tokens": 50}
        async with client.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
            headers_at = time.perf_counter() - started
            assert response.headers["content-type"] == "text/event-stream"
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    arrivals.append(time.perf_counter() - started)
                    events.append(line[6:])
    assert headers_at < 0.09
    assert arrivals[0] >= 0.095  # the role chunk comes with the first token, after the TTFT
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    usage = chunks[-1]["usage"]
    assert len(content.split()) == usage["completion_tokens"]
    token_arrivals = arrivals[2 : 1 + usage["completion_tokens"]]
    gaps = np.diff(token_arrivals)
    assert float(np.median(gaps)) == pytest.approx(0.02, abs=0.01)


async def test_faults_switch_at_run_time(running_mock: RunningMock) -> None:
    """PATCH /admin/config turns on errors with Retry-After, then resets, then off again."""
    async with running_mock(latency_ms=0) as url, httpx.AsyncClient() as client:
        patch = {"faults": {"error_rate": 1, "error_statuses": {"429": 1}, "retry_after_s": 7}}
        assert (await client.patch(f"{url}/admin/config", json=patch)).status_code == 200
        limited = await client.post(f"{url}/v1/chat/completions", json=BODY)
        await client.patch(
            f"{url}/admin/config", json={"faults": {"error_rate": 0, "outage": True}}
        )
        with pytest.raises(httpx.TransportError):
            await client.post(f"{url}/v1/chat/completions", json=BODY)
        await client.post(f"{url}/admin/reset")
        healthy = await client.post(f"{url}/v1/chat/completions", json=BODY)
        stats = (await client.get(f"{url}/admin/stats")).json()
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7"
    assert healthy.status_code == 200
    assert stats["requests"] == 1  # counted since the reset


async def test_bad_config_patches_are_refused(running_mock: RunningMock) -> None:
    """An invalid patch is a 422 naming the field; the configuration is unchanged."""
    async with running_mock(latency_ms=0) as url, httpx.AsyncClient() as client:
        refused = await client.patch(f"{url}/admin/config", json={"faults": {"error_rate": 3}})
        config = (await client.get(f"{url}/admin/config")).json()
    assert refused.status_code == 422
    assert "error_rate" in refused.text
    assert config["faults"]["error_rate"] == 0


async def test_bad_requests_get_400(running_mock: RunningMock) -> None:
    """A body without messages is an OpenAI-style 400."""
    async with running_mock(latency_ms=0) as url, httpx.AsyncClient() as client:
        response = await client.post(f"{url}/v1/chat/completions", content=b"{}")
    assert response.status_code == 400


def test_lognormal_latency_has_the_configured_median_and_p99() -> None:
    """Over many draws the median and p99 land on the configured values."""
    config = RuntimeConfig(latency="lognormal", latency_ms=40, latency_p99_ms=120)
    model = ResponseModel(config, seed=5)
    draws = np.array([model.latency_seconds() * 1000 for _ in range(20000)])
    assert np.median(draws) == pytest.approx(40, rel=0.05)
    assert np.percentile(draws, 99) == pytest.approx(120, rel=0.1)


def test_draws_are_deterministic_under_a_seed() -> None:
    """The same seed gives the same latencies and faults; another seed does not."""
    config = RuntimeConfig(
        latency="lognormal", latency_ms=40, latency_p99_ms=120, faults={"error_rate": 0.3}
    )

    def draws(seed: int) -> list[object]:
        model = ResponseModel(config, seed)
        return [(model.latency_seconds(), sorted(model.faults(False))) for _ in range(50)]

    assert draws(9) == draws(9)
    assert draws(9) != draws(10)


def test_fault_rates_match_their_settings() -> None:
    """An error rate of 0.2 gives about 20 % errors."""
    model = ResponseModel(RuntimeConfig(faults={"error_rate": 0.2}), seed=1)
    errors = sum("error" in model.faults(False) for _ in range(5000))
    assert errors / 5000 == pytest.approx(0.2, abs=0.02)


def test_lognormal_needs_a_p99_above_the_median() -> None:
    """A lognormal model without a sensible p99 is refused at start-up."""
    with pytest.raises(ValidationError, match="MOCK_LATENCY_P99_MS"):
        MockSettings(latency="lognormal", latency_ms=50, latency_p99_ms=40)


def test_prompt_tokens_grow_with_text() -> None:
    """About four characters a token, plus per-message overhead."""
    assert prompt_tokens([{"content": "abcd" * 10}]) == 13
    assert prompt_tokens([{"content": "a"}, {"content": "b"}]) == 7
