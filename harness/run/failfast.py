"""Stops a load whose first requests all fail the same way, and says why.

A run against a gateway that answers 400 to everything (a missing `model`, a wrong token, a
route it does not have) used to run its full length and report "100 % errors". Nothing it
measures after the first few answers means anything, so the load is stopped as soon as the
first `FIRST_REQUESTS` answers, or every answer of the first `FIRST_SECONDS`, failed with one
and the same error; the result and report of what ran are kept, and the run fails with the
status and the start of the first failed answer.
"""

from __future__ import annotations

from collections import Counter

from reports.markdown import printable

FIRST_SECONDS = 5.0
MIN_REQUESTS = 5
"""The decision waits for the first seconds (a fast error must not win over a slow success:
answers come back in the order they finish, not the order they were sent) and this many
answers at least."""


class FailFastWatch:
    """`check(kinds, requests, seconds)`: a reason to stop now, or None (decided once)."""

    def __init__(self) -> None:
        self.decided = False
        self.kinds: Counter[str] = Counter()
        """The error kinds of the answers the load was stopped on (empty: not stopped)."""

    def check(self, kinds: Counter[str], requests: int, seconds: float) -> str | None:
        """`kinds`: error kind ("" for success) of each answer so far; `seconds` into the load."""
        if self.decided or seconds < FIRST_SECONDS or requests < MIN_REQUESTS:
            return None
        self.decided = True
        if kinds.get("", 0) > 0:
            return None
        self.kinds = Counter(kinds)
        return f"the first {requests} requests all failed ({_kinds(self.kinds)}): load stopped"


def _kinds(kinds: Counter[str]) -> str:
    return ", ".join(f"{kind}: {count}" for kind, count in kinds.most_common(4))


def failure_summary(
    kinds: Counter[str], status: int | None, body: str | None, request: str = ""
) -> str:
    """One line a user can act on: 'every request answered 400: {"error": ...}' (with the
    route when known: 'every request (POST /v1/infer) answered 404'); the body is the first
    failed answer's (already scrubbed of secrets), its control characters escaped."""
    said = f"every request ({request})" if request else "every request"
    if len(kinds) == 1:
        (kind,) = kinds
        head = (
            f"{said} answered {status}" if status else f"{said} failed without an answer ({kind})"
        )
    else:
        head = f"{said} failed ({_kinds(kinds)})"
        if status:
            head += f"; the first answered {status}"
    if body:
        head += ": " + printable(" ".join(body.split()))
    return head
