"""Scanning answers for the provider token, and keeping the first failures without any secret."""

from __future__ import annotations

import json
import re
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
    redacted_tail,
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
    inspector = ResponseInspector(path, SECRET, [TARGET_TOKEN], clock=lambda: 7.0)
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


@pytest.mark.parametrize(
    "echo",
    [
        pytest.param('{"auth": "Bearer %s"}', id="raw"),
        pytest.param("{JSON}", id="json-escaped-slash"),
        pytest.param("key=%URL%", id="url-encoded"),
        pytest.param("key=%url%", id="url-encoded-lower-case"),
    ],
)
def test_every_form_a_server_may_echo_a_secret_in_is_scrubbed(echo: str) -> None:
    """A token with `+`, `/` and `=` echoed JSON-escaped or URL-encoded leaves nothing behind."""
    from urllib.parse import quote

    token = "sk-PLUS+SLASH/SECRET9876543210=="
    body = (
        echo.replace("%s", token)
        .replace("{JSON}", json.dumps({"auth": token}).replace("/", "\\/"))
        .replace("%URL%", quote(token, safe=""))
        .replace(
            "%url%", re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(token, safe=""))
        )
    )
    text = scrub(body.encode(), [token])
    assert "SECRET9876543210" not in text and REDACTED in text


def test_header_values_and_the_target_token_are_redacted_from_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--header values (six characters or more) and the token never reach a failure note."""
    monkeypatch.setenv("LOADGATE_TARGET_HEADERS", json.dumps({"X-Api-Key": "HDRSECRET-98765"}))
    monkeypatch.setenv(TOKEN_ENV, TARGET_TOKEN)
    monkeypatch.delenv(SCAN_SECRET_ENV, raising=False)
    samples = tmp_path / "samples.csv"
    inspector = ResponseInspector.from_environment(samples)
    inspector.failure("/v1/infer", 403, "http_403", b'{"error": "key HDRSECRET-98765 rejected"}')
    inspector.failure("/v1/infer", 401, "http_401", f"Bearer {TARGET_TOKEN}".encode())
    inspector.close()
    written = responses_path(samples).read_text()
    assert "HDRSECRET" not in written and TARGET_TOKEN not in written
    assert written.count(REDACTED) == 2


def test_a_json_escaped_provider_token_is_a_hit(tmp_path: Path) -> None:
    """The provider token echoed with its slashes escaped is still found."""
    token = "sk-a/b/c-0123456789"
    inspector = ResponseInspector(tmp_path / "r.jsonl", token)
    found = inspector.scan("/v1/infer", 502, "body", json.dumps({"t": token}).replace("/", "\\/"))
    inspector.close()
    assert found


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        pytest.param(b'{"error": {"message": "bad"}}', "error_body", id="error-object"),
        pytest.param(
            b'{"choices": [{"message": {"content": "\\"error\\""}}], "error": null}',
            "",
            id="an-answer-that-says-error",
        ),
        pytest.param(b'{"generated_text": "error"}', "", id="the-word-in-text"),
        pytest.param(b"[" * 100_000, "", id="deep-json-does-not-crash"),
    ],
)
def test_a_2xx_body_is_an_error_only_when_it_is_an_error_object(body: bytes, kind: str) -> None:
    """A 200 carrying an OpenAI error object is an error; an answer mentioning errors is not."""
    from scenarios.inspection import body_error

    assert body_error(body) == kind


def test_stream_events_that_report_errors_are_told_from_answer_chunks() -> None:
    """`event: error` and a data error object are errors; a chunk whose text says "error" is not."""
    from scenarios.inspection import stream_event_error

    assert stream_event_error(b"event: error")
    assert stream_event_error(b'data: {"error": {"message": "upstream failure"}}')
    assert not stream_event_error(b'data: {"choices": [{"delta": {"content": "\\"error\\""}}]}')
    assert not stream_event_error(b"data: [DONE]")


def test_a_failed_generators_log_tail_carries_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a worker sends its master when its generator failed: the end of the log, with the
    token, a header value and the scan secret redacted, JSON-escaped forms too."""
    monkeypatch.setenv(TOKEN_ENV, TARGET_TOKEN)
    monkeypatch.setenv(SCAN_SECRET_ENV, SECRET)
    monkeypatch.setenv("LOADGATE_TARGET_HEADERS", json.dumps({"X-Api-Key": "HDRSECRET-98765"}))
    log = tmp_path / "generator.log"
    log.write_text(
        "x" * 5000
        + f"\nTraceback: headers={{'Authorization': 'Bearer {TARGET_TOKEN}'}}"
        + f" {json.dumps(SECRET + '/')} X-Api-Key: HDRSECRET-98765\nRuntimeError: boom\n"
    )
    tail = redacted_tail(log, 300)
    assert tail.endswith("RuntimeError: boom\n") and len(tail) <= 300
    assert TARGET_TOKEN not in tail and "0123456789abcdef" not in tail
    assert "HDRSECRET" not in tail and tail.count(REDACTED) == 3
