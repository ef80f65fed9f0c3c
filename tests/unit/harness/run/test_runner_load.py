"""`run_load` with real Locust users against a local provider that stalls and leaks (no Docker)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pandas as pd

from harness.run.runner import LoadRun, run_load
from scenarios.catalog import ClosedLoad, Scenario
from scenarios.credentials import SCAN_SECRET_ENV, TOKEN_ENV
from tests.unit.conftest import SECRET, TARGET_TOKEN, Script, scripted_provider

USERS, RATE, DURATION_S = 2, 25.0, 6


async def closed_load(run_dir: Path, script: Script) -> LoadRun:
    """Two ChatUsers at 25 req/s each for 6 s, through the harness's own runner."""
    chosen = Scenario(
        "paced",
        "test",
        ClosedLoad(users=USERS, spawn_rate=USERS, rps_per_user=RATE),
        duration_s=DURATION_S,
        protocol="openai",
    )
    secrets = {SCAN_SECRET_ENV: SECRET, TOKEN_ENV: TARGET_TOKEN}
    async with scripted_provider(script) as url:
        return await asyncio.to_thread(
            run_load, chosen, url, run_dir, lambda _: None, secrets, model="house-model"
        )


def test_a_stall_shows_in_closed_model_latency_and_not_in_service_time(tmp_path: Path) -> None:
    """A 1.5 s stall: p99 from the intended send time exceeds 1 s, service time's stays low."""
    load = asyncio.run(closed_load(tmp_path, Script(stall=(1.5, 3.0))))
    samples = pd.read_csv(load.samples)
    assert len(samples) > 0.8 * USERS * RATE * (DURATION_S - 1)  # late users caught up
    latency = samples["latency_ms"].to_numpy(dtype=float)
    service = latency - samples["lag_ms"].to_numpy(dtype=float)
    assert np.percentile(latency, 99) > 1000
    assert np.percentile(service, 99) < 1000
    assert samples["lag_ms"].max() > 1000


def test_locust_notes_leaks_and_failures_and_keeps_them_merged(tmp_path: Path) -> None:
    """Leaking answers are hits, the 400 and the unfollowed 302 are failures, no file has a
    token, and the merged notes are kept in responses.jsonl."""
    script = Script()
    load = asyncio.run(closed_load(tmp_path, script))
    notes = load.responses
    assert [(hit.status, hit.where) for hit in notes.secrets] == [
        (200, "body"),
        (400, "headers"),
        (400, "body"),
    ]
    assert [(f.status, f.error) for f in notes.failures] == [(400, "http_400"), (302, "http_302")]
    assert notes.failures[0].body == '{"error": "key [redacted] refused for [redacted]"}'
    assert notes.non_2xx_scanned == 2 and notes.sampled_2xx_scanned >= 2
    assert script.followed == 0
    assert all(body["model"] == "house-model" for body in script.bodies)
    assert (tmp_path / "responses.jsonl").is_file() and not (tmp_path / "samples.parts").exists()
    for path in tmp_path.rglob("*"):
        data = path.read_bytes()
        assert SECRET.encode() not in data and TARGET_TOKEN.encode() not in data, path
