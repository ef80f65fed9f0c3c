"""The mock provider served on 127.0.0.1 for a test (the real aiohttp server, a free port)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp.test_utils import TestServer

from harness.mock_upstream.app import create_app
from harness.mock_upstream.settings import MockSettings


@asynccontextmanager
async def running_mock(**settings: Any) -> AsyncIterator[str]:
    """Yields the base URL of a mock provider configured with `settings`."""
    server = TestServer(create_app(MockSettings(**settings)), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()
