"""The one format of the names loadgate gives its runs, tunes, compares and benchmarks.

    [KIND-]YYYYMMDD-HHMMSS-xxxx     UTC time to the second, then 4 random hex digits

Sorted by name they are sorted by time; the random part keeps two runs started in the same
second apart. Every one is a valid `reports.result.RunId` (a directory name and a link target).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_id(kind: str = "") -> str:
    """A new identifier, prefixed with `kind-` when a kind is given (`tune`, `compare`...)."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
    return f"{kind}-{stamp}" if kind else stamp
