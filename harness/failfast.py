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

FIRST_REQUESTS = 50
FIRST_SECONDS = 5.0
MIN_REQUESTS = 5
"""Within the first seconds, this many answers at least before a verdict is drawn."""


class FailFastWatch:
    """`check(kinds, requests, seconds)`: a reason to stop now, or None (decided once)."""

    def __init__(self) -> None:
        self.decided = False
        self.kind: str | None = None

    def check(self, kinds: Counter[str], requests: int, seconds: float) -> str | None:
        """`kinds`: error kind ("" for success) of each answer so far; `seconds` into the load."""
        if self.decided or requests == 0:
            return None
        if requests < FIRST_REQUESTS and (seconds < FIRST_SECONDS or requests < MIN_REQUESTS):
            return None
        self.decided = True
        if len(kinds) != 1:
            return None
        (kind,) = kinds
        if kind == "":
            return None
        self.kind = kind
        return f"the first {requests} requests all failed ({kind}): load stopped"


def failure_summary(kind: str, status: int | None, body: str | None) -> str:
    """One line a user can act on: 'every request answered 400: {"error": ...}'."""
    if status:
        head = f"every request answered {status}"
    else:
        head = f"every request failed without an answer ({kind})"
    if body:
        head += ": " + " ".join(body.split())
    return head
