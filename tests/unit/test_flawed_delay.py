"""The flawed fixture's `delay` flaw: each answer waits FLAW_DELAY_MS, and a bad value stops it.

The fixture (tests/fixtures/gateways/flawed/app.py) reads its settings at import, so each case
loads a fresh copy of the module with its own environment, and talks to it in-process.
"""

from __future__ import annotations

import importlib.util
import itertools
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

APP = Path(__file__).resolve().parents[1] / "fixtures" / "gateways" / "flawed" / "app.py"
BODY = {"turns": [{"role": "user", "text": "Say hello"}], "max_output_tokens": 32}
ANSWER = {
    "model": "mock-gpt",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
}
_copies = itertools.count()


def flawed_app(monkeypatch: pytest.MonkeyPatch, **environment: str) -> ModuleType:
    """A fresh copy of the fixture's module, imported with `environment`."""
    monkeypatch.setenv("UPSTREAM_BASE_URL", "http://upstream.test")
    monkeypatch.setenv("PROVIDER_AUTH_TOKEN", "sk-unit-test-secret")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location(f"flawed_app_{next(_copies)}", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def timed_answers(module: ModuleType, count: int) -> tuple[float, list[Any]]:
    """The fastest of `count` answers of /v1/infer (seconds), and the answers' bodies."""
    module.clients["upstream"] = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, json=ANSWER))
    )
    asgi = httpx.ASGITransport(app=module.app)
    took, bodies = [], []
    async with httpx.AsyncClient(transport=asgi, base_url="http://gateway.test") as client:
        for _ in range(count):
            started = time.perf_counter()
            response = await client.post("/v1/infer", json=BODY)
            took.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
            bodies.append(response.json())
    await module.clients["upstream"].aclose()
    return min(took), bodies


@pytest.mark.anyio
async def test_the_delay_flaw_slows_each_answer_by_the_set_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """FLAW_DELAY_MS=50 makes every answer at least 50 ms slower than with 0, and the same."""
    fastest_plain, plain = await timed_answers(
        flawed_app(monkeypatch, FLAW="delay", FLAW_DELAY_MS="0"), 3
    )
    fastest_slowed, slowed = await timed_answers(
        flawed_app(monkeypatch, FLAW="delay", FLAW_DELAY_MS="50"), 3
    )
    assert fastest_slowed >= 0.050
    assert fastest_slowed - fastest_plain > 0.040
    assert (
        slowed
        == plain
        == [{"generated_text": "hello", "model_version": "mock-gpt", "token_consumption": 12}] * 3
    )


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("fast", id="word"),
        pytest.param("", id="empty"),
        pytest.param("-5", id="negative"),
        pytest.param("nan", id="nan"),
        pytest.param("inf", id="inf"),
        pytest.param("60001", id="above-a-minute"),
    ],
)
def test_a_bad_delay_stops_the_fixture_at_start_up(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """A FLAW_DELAY_MS that is not 0-60000 ms ends the import with one line naming it."""
    with pytest.raises(SystemExit) as caught:
        flawed_app(monkeypatch, FLAW="delay", FLAW_DELAY_MS=value)
    assert caught.value.code == (
        f"flawed gateway: FLAW_DELAY_MS={value!r} is not a number of ms from 0 to 60000"
    )


def test_the_fixture_process_exits_1_with_the_line_and_no_traceback() -> None:
    """Run as its image runs it, a bad value exits 1 before serving, with only that line."""
    environment = {
        "FLAW": "delay",
        "FLAW_DELAY_MS": "50ms",
        "UPSTREAM_BASE_URL": "http://upstream.test",
        "PROVIDER_AUTH_TOKEN": "sk-unit-test-secret",
    }
    done = subprocess.run(
        [sys.executable, str(APP)],
        check=False,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr == (
        "flawed gateway: FLAW_DELAY_MS='50ms' is not a number of ms from 0 to 60000\n"
    )
