"""A provider served on 127.0.0.1 whose answers are scripted request by request: it leaks the
scan secret in its first 2xx answer and in a 400, redirects once, and can stall for a while."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

SECRET = "sk-provider-5e1f0c77a9d24b"
TARGET_TOKEN = "lg-target-9c41d2e07f"
CHAT = "/v1/chat/completions"


@dataclass
class Script:
    """Request 1 answers 200 with the secret in its body (or in an event, streamed), request 2
    answers 400 with it in body and headers, request 3 redirects to `/followed`; the rest are
    plain 200s. Requests that arrive within `stall` (seconds after the first) are held to its
    end."""

    stall: tuple[float, float] | None = None
    bodies: list[dict[str, Any]] = field(default_factory=list)
    followed: int = 0
    first_at: float | None = None

    async def answer(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.bodies.append(body)
        number = len(self.bodies)
        await self._held()
        if number == 2:
            text = json.dumps({"error": f"key {SECRET} refused for {TARGET_TOKEN}"})
            headers = {"X-Debug-Upstream": f"Bearer {SECRET}"}
            return web.Response(status=400, text=text, headers=headers)
        if number == 3:
            return web.Response(status=302, headers={"Location": "/followed"})
        leak = SECRET if number == 1 else "nothing"
        if body.get("stream"):
            return await self._stream(request, leak)
        return web.json_response({"choices": [{"message": {"content": leak}}]})

    async def _held(self) -> None:
        loop = asyncio.get_running_loop()
        if self.first_at is None:
            self.first_at = loop.time()
        if self.stall is None:
            return
        begin, end = (self.first_at + s for s in self.stall)
        if begin <= loop.time() < end:
            await asyncio.sleep(end - loop.time())

    async def _stream(self, request: web.Request, leak: str) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for word in ("a", leak, "b"):
            chunk = {"choices": [{"delta": {"content": word}}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def follow(self, _: web.Request) -> web.Response:
        self.followed += 1
        return web.json_response({})


@asynccontextmanager
async def scripted_provider(script: Script) -> AsyncIterator[str]:
    """Yields the base URL of a server answering both contracts by `script`."""
    app = web.Application()
    app.router.add_post(CHAT, script.answer)
    app.router.add_post("/v1/infer", script.answer)
    app.router.add_route("*", "/followed", script.follow)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()
