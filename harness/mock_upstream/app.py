"""The mock provider's HTTP app (Starlette, no validation layer: it must be cheap)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .model import ResponseModel, completion_text, prompt_tokens
from .settings import MockSettings


class Counters:
    def __init__(self) -> None:
        self.requests = 0
        self.concurrent = 0
        self.concurrent_peak = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "concurrent": self.concurrent,
            "concurrent_peak": self.concurrent_peak,
        }


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error"}}, 400)


def create_app(settings: MockSettings) -> Starlette:
    model = ResponseModel(settings)
    counters = Counters()

    async def chat_completions(request: Request) -> JSONResponse:
        counters.requests += 1
        counters.concurrent += 1
        counters.concurrent_peak = max(counters.concurrent_peak, counters.concurrent)
        try:
            try:
                body: Any = json.loads(await request.body())
            except ValueError:
                return _bad_request("body is not JSON")
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                return _bad_request("'messages' must be a list")
            await asyncio.sleep(model.latency_seconds())
            return JSONResponse(_completion(body, model, settings.model_name))
        finally:
            counters.concurrent -= 1

    async def models(_: Request) -> JSONResponse:
        entry = {"id": settings.model_name, "object": "model", "owned_by": "loadgate"}
        return JSONResponse({"object": "list", "data": [entry]})

    async def stats(_: Request) -> JSONResponse:
        return JSONResponse(counters.as_dict())

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
            Route("/admin/stats", stats, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


def _completion(body: dict[str, Any], model: ResponseModel, default_model: str) -> dict[str, Any]:
    max_tokens = body.get("max_tokens")
    limit = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else 4096
    completion = model.completion_tokens(limit)
    prompt = prompt_tokens(body["messages"])
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(body.get("model") or default_model),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": completion_text(completion)},
                "finish_reason": "length" if completion == limit else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
