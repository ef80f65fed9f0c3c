"""The mock provider's HTTP app (aiohttp: cheap per request, and it can reset a connection)."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
import uuid
from collections import Counter
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from .model import ResponseModel, completion_words, prompt_tokens
from .settings import MockSettings

STATE: web.AppKey[MockState] = web.AppKey("state")
COUNTERS = (
    "requests",
    "concurrent_peak",
    "completions",
    "streams",
    "streams_completed",
    "streams_cancelled",
    "resets",
    "slow_headers",
    "stalls",
)


class MockState:
    def __init__(self, settings: MockSettings) -> None:
        self.settings = settings
        self.model = ResponseModel(settings.runtime(), settings.seed)
        self.counters: Counter[str] = Counter()
        self.concurrent = 0

    def stats(self) -> dict[str, Any]:
        """Every counter (errors as `errors_<status>`), zeros included, and current concurrency."""
        return {**dict.fromkeys(COUNTERS, 0), **self.counters, "concurrent": self.concurrent}

    def reset(self) -> None:
        self.counters.clear()
        self.counters["concurrent_peak"] = self.concurrent
        self.model.config = self.settings.runtime()


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def _openai_error(
    status: int, message: str, kind: str, headers: dict[str, str] | None = None
) -> web.Response:
    return _json({"error": {"message": message, "type": kind}}, status, headers)


def _reset_connection(request: web.Request) -> web.Response:
    """Close the connection with a TCP RST (SO_LINGER 0), as a crashed provider would."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.close()
    return web.Response(status=500)  # never reaches the client: the socket is gone


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


async def chat_completions(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    state.counters["requests"] += 1
    state.concurrent += 1
    state.counters["concurrent_peak"] = max(state.counters["concurrent_peak"], state.concurrent)
    try:
        return await _answer(request, state)
    finally:
        state.concurrent -= 1


async def _answer(request: web.Request, state: MockState) -> web.StreamResponse:
    try:
        body = json.loads(await request.read())
    except ValueError:
        return _openai_error(400, "body is not JSON", "invalid_request_error")
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return _openai_error(400, "'messages' must be a list", "invalid_request_error")
    model = state.model
    streaming = body.get("stream") is True
    faults = model.faults(streaming)
    if "reset" in faults:
        state.counters["resets"] += 1
        return _reset_connection(request)
    if "slow_headers" in faults:
        state.counters["slow_headers"] += 1
        await asyncio.sleep(model.config.faults.slow_headers_s)
    if "error" in faults:
        status = model.error_status()
        state.counters[f"errors_{status}"] += 1
        retry = (
            {"Retry-After": str(model.config.faults.retry_after_s)}
            if status in (429, 503)
            else None
        )
        return _openai_error(status, f"mock provider error {status}", "server_error", retry)
    max_tokens = body.get("max_tokens")
    limit = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else 4096
    tokens = model.completion_tokens(limit)
    prompt = prompt_tokens(body["messages"])
    name = str(body.get("model") or state.settings.model_name)
    if streaming:
        options = body.get("stream_options")
        usage = isinstance(options, dict) and options.get("include_usage") is True
        return await _stream(
            request, state, name, (prompt, tokens, limit), usage, "stall" in faults
        )
    await asyncio.sleep(model.latency_seconds())
    state.counters["completions"] += 1
    return _json(_completion(name, prompt, tokens, limit))


def _completion(model: str, prompt: int, tokens: int, limit: int) -> dict[str, Any]:
    return {
        "id": _completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": " ".join(completion_words(tokens))},
                "finish_reason": "length" if tokens == limit else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": tokens,
            "total_tokens": prompt + tokens,
        },
    }


def _chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None) -> bytes:
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


async def _stream(
    request: web.Request,
    state: MockState,
    model: str,
    counts: tuple[int, int, int],
    include_usage: bool,
    stall: bool,
) -> web.StreamResponse:
    """Server-sent events: headers at once, the first token after the TTFT, then a steady pace."""
    prompt, tokens, limit = counts
    config = state.model.config
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    state.counters["streams"] += 1
    cid = _completion_id()
    words = completion_words(tokens)
    try:
        await asyncio.sleep(state.model.latency_seconds())
        await response.write(_chunk(cid, model, {"role": "assistant", "content": ""}, None))
        for index, word in enumerate(words):
            if index:
                await asyncio.sleep(1 / config.tokens_per_s)
            if stall and index == len(words) // 2:
                state.counters["stalls"] += 1
                await asyncio.sleep(config.faults.stall_s)
            await response.write(
                _chunk(cid, model, {"content": (" " if index else "") + word}, None)
            )
        await response.write(_chunk(cid, model, {}, "length" if tokens == limit else "stop"))
        if include_usage:
            usage = {
                "prompt_tokens": prompt,
                "completion_tokens": tokens,
                "total_tokens": prompt + tokens,
            }
            final = {
                "id": cid,
                "object": "chat.completion.chunk",
                "model": model,
                "choices": [],
                "usage": usage,
            }
            await response.write(
                b"data: " + json.dumps(final, separators=(",", ":")).encode() + b"\n\n"
            )
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
    except (ConnectionResetError, asyncio.CancelledError):
        state.counters["streams_cancelled"] += 1
        raise
    state.counters["streams_completed"] += 1
    return response


async def models(request: web.Request) -> web.Response:
    name = request.app[STATE].settings.model_name
    return _json(
        {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "loadgate"}]}
    )


async def stats(request: web.Request) -> web.Response:
    return _json(request.app[STATE].stats())


async def reset(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.reset()
    return _json({"config": state.model.config.model_dump(), "stats": state.stats()})


async def get_config(request: web.Request) -> web.Response:
    return _json(request.app[STATE].model.config.model_dump())


async def patch_config(request: web.Request) -> web.Response:
    """Change latency or faults mid-run: `{"faults": {"error_rate": 0.2}}`, `{"latency_ms": 9}`."""
    state = request.app[STATE]
    try:
        patch = json.loads(await request.read())
        if not isinstance(patch, dict):
            raise ValueError("the body must be a JSON object")
        state.model.config = state.model.config.patched(patch)
    except ValidationError as exc:
        return _json({"error": exc.errors(include_url=False, include_context=False)}, 422)
    except ValueError as exc:
        return _json({"error": str(exc)}, 400)
    return _json(state.model.config.model_dump())


async def health(_: web.Request) -> web.Response:
    return _json({"status": "ok"})


def create_app(settings: MockSettings) -> web.Application:
    app = web.Application()
    app[STATE] = MockState(settings)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/admin/stats", stats)
    app.router.add_post("/admin/reset", reset)
    app.router.add_get("/admin/config", get_config)
    app.router.add_patch("/admin/config", patch_config)
    app.router.add_get("/health", health)
    return app
