"""The open-model generator process against a local provider that leaks the secret."""

from __future__ import annotations

import asyncio
import csv
import os
import sys
from pathlib import Path

import pytest

from scenarios.credentials import SCAN_SECRET_ENV, TOKEN_ENV
from scenarios.h1client import RawHeaders
from scenarios.inspection import ResponseInspector, ResponseNotes, read_notes
from scenarios.openmodel import StreamReading
from tests.unit.conftest import CHAT, SECRET, TARGET_TOKEN, Script, scripted_provider


async def generate(parts: Path, *options: str, scan: bool = True) -> tuple[int, str, Script]:
    """Runs `python -m scenarios.openmodel` for one second at 20 req/s against the script."""
    script = Script()
    env = {k: v for k, v in os.environ.items() if k not in (SCAN_SECRET_ENV, TOKEN_ENV)}
    env[TOKEN_ENV] = TARGET_TOKEN
    if scan:
        env[SCAN_SECRET_ENV] = SECRET
    async with scripted_provider(script) as url:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "scenarios.openmodel",
            "--url",
            url,
            "--stages",
            "1:20",
            "--samples",
            str(parts / "samples-0.csv"),
            "--summary",
            str(parts / "generator-0.json"),
            "--started",
            str(parts / "started-0"),
            *options,
            env=env,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, stderr.decode(), script


def notes_of(parts: Path) -> ResponseNotes:
    files = list(parts.glob("responses-*.jsonl"))
    assert len(files) == 1, files
    return read_notes(files[0].read_text().splitlines())


def assert_no_secret_in_files(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SECRET.encode() not in data and TARGET_TOKEN.encode() not in data, path


@pytest.mark.parametrize(
    ("options", "first_where"),
    [([], "body"), (["--stream"], "stream")],
    ids=["whole", "stream"],
)
def test_generator_notes_leaks_and_failures_and_writes_no_secret(
    tmp_path: Path, options: list[str], first_where: str
) -> None:
    """The leaking 2xx and 400 are hits, the 400 and the unfollowed 302 are failures, scrubbed."""
    args = ["--protocol", "openai", "--model", "house-model", *options]
    code, stderr, script = asyncio.run(generate(tmp_path, *args))
    assert code == 0, stderr
    notes = notes_of(tmp_path)
    assert [(hit.status, hit.where) for hit in notes.secrets] == [
        (200, first_where),
        (400, "headers"),
        (400, "body"),
    ]
    assert [(f.status, f.error) for f in notes.failures] == [(400, "http_400"), (302, "http_302")]
    assert notes.failures[0].body == '{"error": "key [redacted] refused for [redacted]"}'
    assert {f.route for f in notes.failures} == {CHAT}
    assert (notes.non_2xx_scanned, notes.sampled_2xx_scanned) == (2, 1)
    assert script.followed == 0  # the redirect was recorded, not followed
    assert len(script.bodies) == 20
    assert all(body["model"] == "house-model" for body in script.bodies)
    with (tmp_path / "samples-0.csv").open(newline="") as handle:
        statuses = [row["status"] for row in csv.DictReader(handle)]
    assert sorted(statuses).count("302") == 1
    assert_no_secret_in_files(tmp_path)


def test_generator_without_a_secret_still_keeps_failures(tmp_path: Path) -> None:
    """No scan secret: nothing counted as scanned, no hit, the failures still kept."""
    code, stderr, _ = asyncio.run(generate(tmp_path, "--protocol", "infer", scan=False))
    assert code == 0, stderr
    notes = notes_of(tmp_path)
    assert notes.secrets == () and (notes.non_2xx_scanned, notes.sampled_2xx_scanned) == (0, 0)
    assert [f.status for f in notes.failures] == [400, 302]
    assert TARGET_TOKEN not in notes.failures[0].body


def test_openai_without_a_model_is_refused(tmp_path: Path) -> None:
    """OpenAI bodies need their model: the generator exits 2 before sending anything."""
    code, stderr, script = asyncio.run(generate(tmp_path, "--protocol", "openai"))
    assert code == 2
    assert "needs --model" in stderr
    assert script.bodies == []


@pytest.mark.parametrize(
    ("lines", "error", "tokens"),
    [
        ([b'data: {"choices":[{"delta":{"content":"a"}}]}\n', b"\n", b"data: [DONE]"], "", 1),
        ([b"event: error\n", b'data: {"error":{"message":"x"}}\n'], "stream_error", 0),
        ([b'data: {"choices":[{"delta":{"role":"assistant"}}]}\n', b"data: [DONE]\n"], "", 0),
    ],
    ids=["one-token", "error-event", "no-content"],
)
def test_a_stream_is_read_line_by_line(
    tmp_path: Path, lines: list[bytes], error: str, tokens: int
) -> None:
    """Content events are counted and the first timed; an error event or no content fails."""
    inspector = ResponseInspector(tmp_path / "notes.jsonl", None)
    reading = StreamReading(inspector, CHAT, RawHeaders(b"HTTP/1.1 200 OK"))
    for line in lines:
        reading.line(line)
    reply = reading.reply()
    inspector.close()
    expected = error or ("stream_empty" if tokens == 0 else "")
    assert (reply.status, reply.error, reply.size) == (200, expected, sum(map(len, lines)))
    assert reply.tokens == tokens
    assert (reply.first_byte_at is not None) == (tokens > 0)
    failures = read_notes((tmp_path / "notes.jsonl").read_text().splitlines()).failures
    assert [f.error for f in failures] == ([expected] if expected else [])
