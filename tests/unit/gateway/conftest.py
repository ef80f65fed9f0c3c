"""A gateway app in-process, its provider a `FakeProvider` at the upstream seam or the real pool."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TextIO

import httpx
import uvicorn

from gateway import GatewaySettings, create_app
from tests.unit.gateway.fake_provider import FakeProvider, Reply

TOKEN = "sk-unit-test-secret-0123456789"


def make_settings(**overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "provider_auth_token": TOKEN,
        "upstream_base_url": "http://upstream.test",
        "redis_url": None,
    }
    values.update(overrides)
    return GatewaySettings(**values)


@asynccontextmanager
async def gateway_client(
    provider: FakeProvider | None,
    access_stream: TextIO | None = None,
    **overrides: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway in-process; its upstream is `provider`, or the real pool when None."""
    app = create_app(make_settings(**overrides), upstream=provider, access_stream=access_stream)
    async with app.router.lifespan_context(app):
        asgi = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=asgi, base_url="http://gateway.test") as client:
            yield client


@asynccontextmanager
async def serving_gateway(**overrides: Any) -> AsyncIterator[str]:
    """The gateway served by uvicorn on a free loopback port (real sockets, real streaming)."""
    app = create_app(make_settings(**overrides))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def completion(content: str = "hello", total: int = 12, model: str = "mock-gpt") -> dict[str, Any]:
    return {
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": total - 5, "total_tokens": total},
    }


def answer_ok(body: bytes) -> Reply:
    """A provider that answers every call with a completion."""
    return Reply.json(completion())


INFER_BODY: dict[str, Any] = {
    "turns": [{"role": "user", "text": "Say hello"}],
    "max_output_tokens": 32,
    "sampling_temperature": 0.5,
}
