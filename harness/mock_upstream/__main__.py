"""`python -m mock_upstream`: serve the fake provider."""

from __future__ import annotations

import sys

import uvicorn
from pydantic import ValidationError

from .app import create_app
from .settings import MockSettings


def main() -> int:
    try:
        settings = MockSettings()
    except ValidationError as exc:
        print(f"mock-upstream: invalid configuration: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_level="warning",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
