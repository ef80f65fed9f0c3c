"""The provider's server-sent events, relayed whole, checked for errors, and bounded.

The relay used to pass the provider's bytes on as they came. Two things need the events
themselves. A provider can report a failure inside a 200 stream (`data: {"error": ...}`, or an
`event: error` event) whose text, passed on as is, reached the client; it is now mapped like any
provider failure (the stream ends with the gateway's own error event). And an event that never
ends must not be buffered without bound: past `UPSTREAM_MAX_EVENT_BYTES` the stream fails.

`EventFramer.feed(chunk)` returns the complete events seen so far as one block, and keeps the
partial event after them for the next chunk; in the usual chunk of whole events that costs a
search for its last blank line and for the marker byte strings of an error, under a microsecond.
Line ends are normalised to `\\n` (SSE allows `\\r\\n` and `\\r` too), so events are found
whatever the provider used.
"""

from __future__ import annotations

import orjson

from gateway.errors import UpstreamFailedError

BOUNDARY = b"\n\n"


class EventFramer:
    """Splits a byte stream into whole events; `error` is set when the stream must end."""

    def __init__(self, max_event_bytes: int) -> None:
        self._max_event_bytes = max_event_bytes
        self._partial = b""
        self.error: UpstreamFailedError | None = None

    def feed(self, chunk: bytes) -> bytes:
        """The whole events completed by `chunk` (possibly none), up to any error event."""
        data = self._partial + chunk if self._partial else chunk
        held = b""
        if b"\r" in data:  # a final \r may be the first half of \r\n: keep it for later
            held = b"\r" if data.endswith(b"\r") else b""
            data = (data[:-1] if held else data).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        end = data.rfind(BOUNDARY)
        if end < 0:
            complete, partial = b"", data + held
        else:
            complete, partial = data[: end + 2], data[end + 2 :] + held
        self._partial = partial
        if len(partial) > self._max_event_bytes:
            self.error = UpstreamFailedError(
                f"stream event larger than {self._max_event_bytes} bytes"
            )
        if complete and (
            b'"error"' in complete or b"event: error" in complete or b"event:error" in complete
        ):
            return self._until_error(complete)
        return complete

    def rest(self) -> bytes:
        """What is left when the stream ends (an event without its final blank line)."""
        rest, self._partial = self._partial, b""
        return self._until_error(rest) if rest else b""

    def _until_error(self, events: bytes) -> bytes:
        start = 0
        for event in events.split(BOUNDARY):
            if event and is_error_event(event):
                self.error = UpstreamFailedError("error event in the stream")
                return events[:start]
            start += len(event) + len(BOUNDARY)
        return events


def is_error_event(event: bytes) -> bool:
    """An `event: error`, or data that is a JSON object with an `error` (or `type: error`)."""
    data_lines = []
    for line in event.split(b"\n"):
        field, _, value = line.partition(b":")
        value = value[1:] if value.startswith(b" ") else value
        if field == b"event" and value.strip() == b"error":
            return True
        if field == b"data":
            data_lines.append(value)
    data = b"\n".join(data_lines)
    if b'"error"' not in data:
        return False
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return isinstance(body, dict) and (body.get("error") is not None or body.get("type") == "error")
