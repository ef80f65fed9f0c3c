"""The event framer of relayed streams: whole events out, error events and endless events caught."""

from __future__ import annotations

import pytest

from gateway.sse import EventFramer, is_error_event

TOKEN_EVENT = b'data: {"choices": [{"delta": {"content": "an \\"error\\" word"}}]}\n\n'


def feed_all(chunks: list[bytes], max_event_bytes: int = 1024) -> tuple[bytes, EventFramer]:
    framer = EventFramer(max_event_bytes)
    out = b""
    for chunk in chunks:
        out += framer.feed(chunk)
        if framer.error is not None:
            return out, framer
    return out + framer.rest(), framer


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param([TOKEN_EVENT * 3], id="one-chunk"),
        pytest.param([TOKEN_EVENT[:7], TOKEN_EVENT[7:] + TOKEN_EVENT, TOKEN_EVENT], id="split"),
        pytest.param([bytes([byte]) for byte in TOKEN_EVENT * 3], id="byte-by-byte"),
    ],
)
def test_whole_events_pass_unchanged_however_they_are_cut(chunks: list[bytes]) -> None:
    """Events come out whole and byte for byte, whatever the chunk boundaries were."""
    out, framer = feed_all(chunks)
    assert out == TOKEN_EVENT * 3
    assert framer.error is None


def test_a_partial_event_waits_for_its_end() -> None:
    """Bytes of an unfinished event are held back until its blank line arrives."""
    framer = EventFramer(1024)
    assert framer.feed(b"data: {}\n\ndata: [DO") == b"data: {}\n\n"
    assert framer.feed(b"NE]\n\n") == b"data: [DONE]\n\n"


def test_crlf_line_ends_are_framed_even_when_split() -> None:
    """\\r\\n line ends (split between chunks) are found and normalised to \\n."""
    out, framer = feed_all([b"data: a\r\n\r", b"\ndata: b\r\n\r\n"])
    assert out == b"data: a\n\ndata: b\n\n"
    assert framer.error is None


def test_events_before_an_error_event_are_kept() -> None:
    """The events before an error event are relayed; the error event and the rest are not."""
    error = b'data: {"error": {"message": "provider secret"}}\n\n'
    out, framer = feed_all([TOKEN_EVENT + error + TOKEN_EVENT])
    assert out == TOKEN_EVENT
    assert framer.error is not None and "secret" not in str(framer.error)


def test_an_unfinished_event_past_the_bound_fails() -> None:
    """A partial event longer than the bound sets the error instead of growing."""
    out, framer = feed_all([b"data: {}\n\n", b"data: " + b"x" * 600, b"x" * 600], 1000)
    assert out == b"data: {}\n\n"
    assert framer.error is not None


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param(b'data: {"error": {"message": "x"}}', True, id="openai"),
        pytest.param(b'event: error\ndata: {"type": "error"}', True, id="event-error"),
        pytest.param(b'data: {"type": "error", "error": null}', True, id="typed"),
        pytest.param(b"event:error\ndata: overloaded", True, id="no-space"),
        pytest.param(b'data: {"error": null, "choices": []}', False, id="null-error"),
        pytest.param(TOKEN_EVENT.strip(), False, id="quoted-in-content"),
        pytest.param(b'data: ["error"]', False, id="not-an-object"),
        pytest.param(b'data: {"error": ', False, id="not-json"),
    ],
)
def test_error_events_are_told_from_ordinary_ones(event: bytes, expected: bool) -> None:
    """Only an `event: error` or a JSON object carrying an error counts as an error event."""
    assert is_error_event(event) is expected
