"""Scanning answers for the provider token, and keeping the first failures without any secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scenarios.credentials import SCAN_SECRET_ENV, TOKEN_ENV
from scenarios.inspection import (
    BODY_LIMIT,
    FIRST_FAILURES,
    MAX_SECRET_HITS,
    REDACTED,
    ResponseInspector,
    header_text,
    read_notes,
    responses_path,
    scrub,
    write_notes,
)

SECRET = "sk-provider-0123456789abcdef"
TARGET_TOKEN = "lg-target-fedcba9876543210"


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("at", [0, 150, BODY_LIMIT - 10, BODY_LIMIT - 1], ids=str)
def test_a_secret_anywhere_near_the_cut_leaves_no_trace(at: int) -> None:
    """Secrets are replaced before the body is cut, so not even a prefix of one survives."""
    body = b"x" * at + SECRET.encode() + b"y" * 400
    text = scrub(body, [SECRET])
    assert text == ("x" * at + REDACTED + "y" * 400)[:BODY_LIMIT]
    assert SECRET[:2] not in text


def test_scrub_caps_at_the_limit_and_decodes_what_is_not_utf8() -> None:
    """At most 300 bytes, broken bytes replaced, every given secret redacted."""
    body = b"\xff\xfe" + f"a {TARGET_TOKEN} b ".encode() + "é".encode() * 400
    text = scrub(body, [SECRET, TARGET_TOKEN])
    assert len(text.encode()) <= BODY_LIMIT
    assert text.startswith("\ufffd\ufffda [redacted] b é")
    assert TARGET_TOKEN not in text


def test_scrub_keeps_a_short_body_whole() -> None:
    """A body under the limit is kept as it is."""
    assert scrub(b'{"error": "rate limited"}', []) == '{"error": "rate limited"}'


def test_header_text_reads_both_generators_headers() -> None:
    """aiohttp's raw byte pairs and Locust's text pairs give the same wire text."""
    assert header_text([(b"X-A", b"1"), (b"Server", b"s")]) == b"X-A: 1\r\nServer: s"
    assert header_text([("X-A", "1"), ("Server", "s")]) == b"X-A: 1\r\nServer: s"


def test_every_non_2xx_and_one_in_100_of_2xx_are_scanned(tmp_path: Path) -> None:
    """Non-2xx answers always; 2xx: the first, the 101st, the 201st; no answer: never."""
    inspector = ResponseInspector(tmp_path / "r.jsonl", SECRET)
    sampled_2xx = [n for n in range(1, 251) if inspector.sampled(200)]
    assert sampled_2xx == [1, 101, 201]
    assert all(inspector.sampled(status) for status in (302, 400, 429, 500, 503))
    assert not inspector.sampled(0)
    inspector.close()
    assert lines(tmp_path / "r.jsonl") == [{"kind": "scanned", "non_2xx": 5, "sampled_2xx": 3}]


def test_without_a_secret_nothing_is_scanned_but_failures_are_kept(tmp_path: Path) -> None:
    """No secret to look for: no scan is counted, the failures are still noted."""
    inspector = ResponseInspector(tmp_path / "r.jsonl", None, clock=lambda: 5.0)
    inspector.answer("/v1/infer", 500, "http_500", (), b"upstream failed")
    inspector.close()
    assert lines(tmp_path / "r.jsonl") == [
        {
            "kind": "failure",
            "t": 5.0,
            "route": "/v1/infer",
            "status": 500,
            "error": "http_500",
            "body": "upstream failed",
        },
        {"kind": "scanned", "non_2xx": 0, "sampled_2xx": 0},
    ]


def test_hits_say_where_and_failures_are_scrubbed(tmp_path: Path) -> None:
    """A leaking 400 gives a hit in headers and in body, and its failure line has no token."""
    path = tmp_path / "r.jsonl"
    inspector = ResponseInspector(path, SECRET, TARGET_TOKEN, clock=lambda: 7.0)
    headers = [("X-Upstream-Auth", f"Bearer {SECRET}")]
    body = f'{{"detail": "key {SECRET} refused for {TARGET_TOKEN}"}}'.encode()
    inspector.answer("/v1/chat/completions", 400, "http_400", headers, body)
    inspector.answer("/v1/chat/completions", 200, "", (), b"fine")  # first 2xx, clean
    inspector.close()
    text = path.read_text()
    assert SECRET not in text and TARGET_TOKEN not in text
    notes = read_notes(text.splitlines())
    assert [(hit.status, hit.where) for hit in notes.secrets] == [(400, "headers"), (400, "body")]
    assert notes.failures[0].body == '{"detail": "key [redacted] refused for [redacted]"}'
    assert (notes.non_2xx_scanned, notes.sampled_2xx_scanned) == (1, 1)


def test_only_the_first_failures_and_hits_are_kept(tmp_path: Path) -> None:
    """Five failures and fifty hits a process at most, however many there were."""
    path = tmp_path / "r.jsonl"
    inspector = ResponseInspector(path, SECRET)
    for _ in range(80):
        inspector.answer("/v1/infer", 502, "http_502", (), SECRET.encode())
    for _ in range(3):
        inspector.failure("/v1/infer", 0, "ServerDisconnectedError")
    inspector.close()
    notes = read_notes(path.read_text().splitlines())
    assert len(notes.failures) == FIRST_FAILURES
    assert len(notes.secrets) == MAX_SECRET_HITS
    assert notes.non_2xx_scanned == 80


def test_reader_skips_a_line_still_being_written(tmp_path: Path) -> None:
    """Mid-run, the last line may be cut short: it is left out, the rest is read."""
    complete = '{"kind":"secret","t":1.0,"route":"/v1/infer","status":500,"where":"body"}\n'
    notes = read_notes((complete + '{"kind":"failure","t":2.0,"rou').splitlines())
    assert len(notes.secrets) == 1 and notes.failures == ()


def test_written_notes_read_back_the_same(tmp_path: Path) -> None:
    """The merged file holds the same notes, in time order, with one count line."""
    first = tmp_path / "a.jsonl"
    inspector = ResponseInspector(first, SECRET, clock=iter([3.0, 1.0, 2.0]).__next__)
    inspector.failure("/r", 503, "http_503", b"busy")
    inspector.scan("/r", 200, "stream", f"data: {SECRET}")
    inspector.failure("/r", 0, "Timeout")
    inspector.close()
    notes = read_notes(first.read_text().splitlines())
    write_notes(notes, tmp_path / "merged.jsonl")
    kinds = [(line["kind"], line.get("t")) for line in lines(tmp_path / "merged.jsonl")]
    assert kinds == [("secret", 1.0), ("failure", 2.0), ("failure", 3.0), ("scanned", None)]
    assert read_notes((tmp_path / "merged.jsonl").read_text().splitlines()) == notes


def test_inspector_reads_its_secrets_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan secret and the target token come from the environment; the file is per process."""
    monkeypatch.setenv(SCAN_SECRET_ENV, SECRET)
    monkeypatch.setenv(TOKEN_ENV, TARGET_TOKEN)
    samples = tmp_path / "samples-0.csv"
    inspector = ResponseInspector.from_environment(samples)
    inspector.answer("/r", 401, "http_401", (), f"{SECRET} {TARGET_TOKEN}".encode())
    inspector.close()
    path = responses_path(samples)
    assert path.parent == tmp_path and path.name.startswith("responses-")
    notes = read_notes(path.read_text().splitlines())
    assert notes.failures[0].body == f"{REDACTED} {REDACTED}"
    assert len(notes.secrets) == 1
