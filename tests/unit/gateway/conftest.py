"""A gateway app wired to an in-process upstream through an injected httpx transport, or served
on loopback: the `gateway_client` and `serving_gateway` fixtures; request and answer data."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TextIO

import httpx
import pytest
import uvicorn

from gateway import GatewaySettings, create_app

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
async def open_gateway_client(
    transport: httpx.AsyncBaseTransport | None,
    access_stream: TextIO | None = None,
    **overrides: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway in-process; its upstream is `transport`, or the real pool when None."""
    app = create_app(
        make_settings(**overrides), upstream_transport=transport, access_stream=access_stream
    )
    async with app.router.lifespan_context(app):
        asgi = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=asgi, base_url="http://gateway.test") as client:
            yield client


@asynccontextmanager
async def serve_gateway(**overrides: Any) -> AsyncIterator[str]:
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


GatewayClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
"""`async with gateway_client(transport, access_stream=None, **settings) as client`."""
ServingGateway = Callable[..., AbstractAsyncContextManager[str]]
"""`async with serving_gateway(**settings) as base_url`."""


@pytest.fixture
def gateway_client() -> GatewayClient:
    """The gateway in-process behind an httpx client; its upstream is the transport given."""
    return open_gateway_client


@pytest.fixture
def serving_gateway() -> ServingGateway:
    """The gateway served by uvicorn on a free loopback port."""
    return serve_gateway


def upstream(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


def completion(content: str = "hello", total: int = 12, model: str = "mock-gpt") -> dict[str, Any]:
    return {
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": total - 5, "total_tokens": total},
    }


INFER_BODY: dict[str, Any] = {
    "turns": [{"role": "user", "text": "Say hello"}],
    "max_output_tokens": 32,
    "sampling_temperature": 0.5,
}
