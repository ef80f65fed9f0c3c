"""What the generators keep of the answers themselves: the first failures, and any provider token.

A gateway holds the provider's token; an answer that carries it (an upstream error echoed
verbatim, a debug header) hands it to every client. Each generator process scans every non-2xx
answer's headers and body, and a sample of the 2xx ones (the first, then 1 in
`SAMPLE_EVERY`; every event of a sampled stream), for the token the harness passed in
`SCAN_SECRET_ENV`. It also keeps the first `FIRST_FAILURES` failed requests with the start of
their body, so a run that failed says how.

One JSON object a line, flushed line by line so the harness can read it mid-run, to
`responses-<pid>.jsonl` next to the process's samples file:

    {"kind": "failure", "t": unix, "route": str, "status": int, "error": str, "body": str}
    {"kind": "secret", "t": unix, "route": str, "status": int, "where": "body|headers|stream"}
    {"kind": "scanned", "non_2xx": int, "sampled_2xx": int}      (last, when the process ends)

No line ever holds a secret: a failure's body is cut to `BODY_LIMIT` bytes after the scan
secret, the target's own token and every `--header` value were replaced by `REDACTED`, in the
forms a server may echo them (raw, JSON-escaped, URL-encoded: `secret_forms`), and a hit says
only where.
Importable without Locust or aiohttp; `read_notes` parses the lines back (`harness.run.runner`).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import quote, quote_plus

from scenarios.credentials import HEADERS_ENV, SCAN_SECRET_ENV, TOKEN_ENV

Where = Literal["body", "headers", "stream"]

SAMPLE_EVERY = 100
FIRST_FAILURES = 5
MAX_SECRET_HITS = 50
BODY_LIMIT = 300
REDACTED = "[redacted]"
TAIL_READ_BYTES = 1 << 20
"""How much of a log's end `redacted_tail` reads (a secret cut by the read is far from the
part it returns)."""


@dataclass(frozen=True)
class FailureNote:
    """A failed request: its status (0 when there was no answer), error kind, start of body."""

    t: float
    route: str
    status: int
    error: str
    body: str


@dataclass(frozen=True)
class SecretHit:
    """An answer that carried the provider token, and where in it."""

    t: float
    route: str
    status: int
    where: str


@dataclass(frozen=True)
class ResponseNotes:
    """What the generators noted about the answers, merged over their processes."""

    failures: tuple[FailureNote, ...] = ()
    secrets: tuple[SecretHit, ...] = ()
    non_2xx_scanned: int = 0
    sampled_2xx_scanned: int = 0


def responses_path(samples: Path) -> Path:
    """This process's notes file, next to its samples file."""
    return samples.parent / f"responses-{os.getpid()}.jsonl"


MIN_HEADER_SECRET = 6
"""`--header` values this long or longer are redacted (shorter ones cannot be told from text)."""


def secret_forms(secret: str) -> list[str]:
    """`secret` as a server may echo it: raw, JSON-escaped (also with `/` as `\\/`), URL-encoded
    (upper- and lower-case escapes, `+` for spaces); longest first, for replacing."""
    escaped = json.dumps(secret)[1:-1]
    encoded = quote(secret, safe="")
    forms = {
        secret,
        escaped,
        escaped.replace("/", "\\/"),
        encoded,
        _lower_escapes(encoded),
        quote_plus(secret),
        _lower_escapes(quote_plus(secret)),
    }
    return sorted((f for f in forms if f), key=len, reverse=True)


def _lower_escapes(text: str) -> str:
    parts = text.split("%")
    return parts[0] + "".join("%" + part[:2].lower() + part[2:] for part in parts[1:])


def target_secrets() -> list[str]:
    """The target's token and the values of `--header`, as the harness passed them."""
    secrets = [os.environ.get(TOKEN_ENV) or ""]
    try:
        headers = json.loads(os.environ.get(HEADERS_ENV) or "{}")
    except ValueError:
        headers = {}
    if isinstance(headers, dict):
        secrets += [str(v) for v in headers.values() if len(str(v)) >= MIN_HEADER_SECRET]
    return [s for s in secrets if s]


def redacted(text: str, secrets: Sequence[str]) -> str:
    """`text` with every form (`secret_forms`) of every secret replaced."""
    for form in sorted({f for s in secrets for f in secret_forms(s)}, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return text


def redacted_tail(path: Path, chars: int) -> str:
    """The last `chars` characters of a generator's log, with every form of the secrets this
    process holds (`SCAN_SECRET_ENV`, `target_secrets`) redacted: a distributed worker sends
    it to its master when its generator fails, and a traceback may quote a header."""
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - TAIL_READ_BYTES))
        text = handle.read().decode(errors="replace")
    secrets = [os.environ.get(SCAN_SECRET_ENV) or "", *target_secrets()]
    return redacted(text, [s for s in secrets if s])[-chars:]


def scrub(body: bytes, secrets: Sequence[str]) -> str:
    """At most `BODY_LIMIT` bytes of `body`, decoded, with every form of every secret replaced
    first (so a secret that straddles the cut leaves no part of itself behind)."""
    longest = max((len(f.encode()) for s in secrets for f in secret_forms(s)), default=0)
    text = redacted(body[: BODY_LIMIT + longest].decode(errors="replace"), secrets)
    return text.encode()[:BODY_LIMIT].decode(errors="ignore")


def body_error(body: bytes) -> str:
    """The error kind of a 2xx answer that is an error all the same: an OpenAI-style error
    object (`{"error": ...}`) where an answer was expected ("error_body"), else "".

    Cheap for real answers: the body is parsed only when it names an error at all."""
    if b'"error"' not in body:
        return ""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return ""
    is_error = isinstance(document, dict) and "error" in document
    return "error_body" if is_error and "choices" not in document else ""


def stream_event_error(line: bytes) -> bool:
    """Whether a server-sent event line reports an error (`event: error`, or a `data:` line
    whose JSON is an error object) instead of a chunk of the answer."""
    if line.startswith(b"event:"):
        return line[6:].strip() == b"error"
    return line.startswith(b"data:") and body_error(line[5:].strip()) != ""


def header_text(pairs: Iterable[tuple[Any, Any]]) -> bytes:
    """Headers as they went over the wire (`Name: value` lines), for scanning."""
    return b"\r\n".join(_raw(name) + b": " + _raw(value) for name, value in pairs)


def _raw(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


class ResponseInspector:
    """One generator process's scanner and failure log (`close()` writes the counts)."""

    def __init__(
        self,
        path: Path,
        scan_secret: str | None,
        target_tokens: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = scan_secret.encode() if scan_secret else None
        self._forms = [f.encode() for f in secret_forms(scan_secret)] if scan_secret else []
        self._redact = [s for s in (scan_secret, *target_tokens) if s]
        self._clock = clock
        self._file: IO[str] = path.open("w")
        self._seen_2xx = self.non_2xx = self.sampled_2xx = self.failures = self.hits = 0

    @classmethod
    def from_environment(cls, samples: Path) -> ResponseInspector:
        """The inspector of this process, with the secrets the harness set in its environment."""
        return cls(responses_path(samples), os.environ.get(SCAN_SECRET_ENV), target_secrets())

    def sampled(self, status: int) -> bool:
        """Whether to scan this answer (counted as scanned when so): every non-2xx one, the
        first 2xx one and 1 in `SAMPLE_EVERY` after it; none without a secret to look for."""
        if self._secret is None or not status:
            return False
        if not 200 <= status < 300:
            self.non_2xx += 1
            return True
        self._seen_2xx += 1
        if (self._seen_2xx - 1) % SAMPLE_EVERY:
            return False
        self.sampled_2xx += 1
        return True

    def scan(self, route: str, status: int, where: Where, data: bytes | str) -> bool:
        """Note a hit when `data` holds the secret (the raw token also covers `Bearer <token>`)."""
        raw = data.encode() if isinstance(data, str) else data
        if self._secret is None or not any(form in raw for form in self._forms):
            return False
        if self.hits < MAX_SECRET_HITS:
            self.hits += 1
            self._write(kind="secret", t=self._clock(), route=route, status=status, where=where)
        return True

    def failure(self, route: str, status: int, error: str, body: bytes = b"") -> None:
        """Keep this failed request when it is among the process's first `FIRST_FAILURES`."""
        if self.failures >= FIRST_FAILURES:
            return
        self.failures += 1
        text = scrub(body, self._redact)
        self._write(
            kind="failure", t=self._clock(), route=route, status=status, error=error, body=text
        )

    def answer(
        self,
        route: str,
        status: int,
        error: str,
        headers: Iterable[tuple[Any, Any]],
        body: bytes,
    ) -> None:
        """A whole (not streamed) answer, its headers as (name, value) pairs: scanned when
        sampled, kept when it failed."""
        if self.sampled(status):
            self.scan(route, status, "headers", header_text(headers))
            self.scan(route, status, "body", body)
        if error:
            self.failure(route, status, error, body)

    def close(self) -> None:
        if self._file.closed:
            return
        self._write(kind="scanned", non_2xx=self.non_2xx, sampled_2xx=self.sampled_2xx)
        self._file.close()

    def _write(self, **line: Any) -> None:
        if not self._file.closed:
            self._file.write(json.dumps(line, separators=(",", ":")) + "\n")
            self._file.flush()


def _time(value: object) -> float:
    t = float(value)  # type: ignore[arg-type]
    if not math.isfinite(t):
        raise ValueError("a note's time must be finite")
    return t


def _failure(note: dict[str, object]) -> FailureNote:
    """A failure note with the types it must have (a distributed worker's notes are checked)."""
    body, route, error = note["body"], note["route"], note["error"]
    if not all(isinstance(v, str) for v in (body, route, error)):
        raise TypeError("a failure note's texts must be strings")
    status = note["status"]
    if not isinstance(status, int):
        raise TypeError("a failure note's status must be an integer")
    return FailureNote(_time(note["t"]), str(route)[:200], status, str(error)[:200], str(body))


def _secret_hit(note: dict[str, object]) -> SecretHit:
    route, where, status = note["route"], note["where"], note["status"]
    if not (isinstance(route, str) and isinstance(where, str) and isinstance(status, int)):
        raise TypeError("a secret hit's fields have the wrong types")
    return SecretHit(_time(note["t"]), route[:200], status, where[:50])


def read_notes(lines: Iterable[str]) -> ResponseNotes:
    """The notes in these lines; a line cut short (a file still being written) is skipped."""
    failures: list[FailureNote] = []
    secrets: list[SecretHit] = []
    non_2xx = sampled_2xx = 0
    for line in lines:
        try:
            note = json.loads(line)
            kind = note.pop("kind")
            if kind == "failure":
                failures.append(_failure(note))
            elif kind == "secret":
                secrets.append(_secret_hit(note))
            elif kind == "scanned":
                non_2xx += int(note["non_2xx"])
                sampled_2xx += int(note["sampled_2xx"])
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
    return ResponseNotes(
        tuple(sorted(failures, key=lambda n: n.t)),
        tuple(sorted(secrets, key=lambda n: n.t)),
        non_2xx,
        sampled_2xx,
    )


def write_notes(notes: ResponseNotes, path: Path) -> None:
    """The notes of a whole run as one file of the same lines (failures and hits in time order,
    then the summed counts)."""
    lines = [{"kind": "failure", **asdict(note)} for note in notes.failures]
    lines += [{"kind": "secret", **asdict(hit)} for hit in notes.secrets]
    lines.sort(key=lambda line: float(line["t"]))
    lines.append(
        {
            "kind": "scanned",
            "non_2xx": notes.non_2xx_scanned,
            "sampled_2xx": notes.sampled_2xx_scanned,
        }
    )
    path.write_text("".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines))
