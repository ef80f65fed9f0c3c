"""`python -m mock_upstream`: serve the fake provider."""

from __future__ import annotations

import asyncio
import sys

from aiohttp import web
from pydantic import ValidationError

from .app import create_app
from .settings import MockSettings


def main() -> int:
    try:
        settings = MockSettings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        print(f"mock-upstream: invalid configuration: {problems}", file=sys.stderr)
        return 2
    try:
        import uvloop
    except ImportError:
        pass
    else:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(
        create_app(settings), host=settings.host, port=settings.port, access_log=None, print=None
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
