"""HTTP routes: probes, the seed's `/v1/infer`, and OpenAI's `/v1/chat/completions`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from gateway.errors import GatewayError, UpstreamFailedError
from gateway.schemas import ChatCompletionRequest, InferRequest, InferResponse

if TYPE_CHECKING:
    from gateway.app import GatewayState

router = APIRouter()
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


@router.get("/live")
async def live() -> dict[str, str]:
    """The process is up. Never touches the upstream or Redis."""
    return {"status": "alive"}


@router.get("/ready")
async def ready(request: Request) -> JSONResponse:
    """The gateway takes traffic: it is not draining. The cache is optional, so not checked."""
    if _state(request).admission.draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.post("/v1/infer")
async def infer(body: InferRequest, request: Request) -> InferResponse:
    state = _state(request)
    payload = body.to_chat_completion(state.settings.target_model)
    completion, outcome = await state.completions.complete(payload)
    request.state.cache = outcome
    return _infer_response(completion)


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
    state = _state(request)
    payload = body.to_upstream(state.settings.target_model)
    if body.stream:
        request.state.cache = "stream"
        return await _stream(state, payload, request.state.request_id)
    completion, outcome = await state.completions.complete(payload)
    request.state.cache = outcome
    return Response(orjson.dumps(completion), media_type="application/json")


async def _stream(state: GatewayState, payload: dict[str, Any], request_id: str) -> Response:
    """Pass the provider's server-sent events through chunk by chunk, as they arrive.

    The upstream call is opened before the response starts, so a refusal (429, 5xx, timeout)
    is still an HTTP status. A failure mid-stream ends the stream with an error event. When the
    client goes away, leaving the generator closes the upstream response.
    """
    exit_stack = AsyncExitStack()
    chunks = await exit_stack.enter_async_context(state.upstream.stream_chat_completion(payload))

    async def relay() -> AsyncIterator[bytes]:
        async with exit_stack:
            try:
                async for chunk in chunks:
                    yield chunk
            except GatewayError as exc:
                event = {"error": {"message": exc.public_message, "request_id": request_id}}
                yield b"data: " + orjson.dumps(event) + b"\n\n"

    return StreamingResponse(relay(), media_type="text/event-stream", headers=SSE_HEADERS)


def _infer_response(completion: dict[str, Any]) -> InferResponse:
    try:
        text = completion["choices"][0]["message"]["content"]
        model = completion["model"]
        tokens = completion.get("usage", {}).get("total_tokens", 0)
        return InferResponse(generated_text=text, model_version=model, token_consumption=tokens)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise UpstreamFailedError("malformed upstream completion") from exc
