"""HTTP routes: probes and the seed's `/v1/infer` contract."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.cache import cache_key, is_cacheable
from gateway.errors import UpstreamFailedError
from gateway.schemas import InferRequest, InferResponse

if TYPE_CHECKING:
    from gateway.app import GatewayState

router = APIRouter()


def _state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


@router.get("/live")
async def live() -> dict[str, str]:
    """The process is up. Never touches the upstream or Redis."""
    return {"status": "alive"}


@router.get("/ready")
async def ready(request: Request) -> JSONResponse:
    """The gateway can take traffic: it is not draining. The cache is optional."""
    if _state(request).draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.post("/v1/infer")
async def infer(body: InferRequest, request: Request) -> InferResponse:
    state = _state(request)
    payload = body.to_chat_completion(state.settings.target_model)
    completion = await _complete(state, request, payload)
    return _infer_response(completion)


async def _complete(
    state: GatewayState, request: Request, payload: dict[str, Any]
) -> dict[str, Any]:
    """Answer from the cache when the request is deterministic, else from the upstream."""
    key = cache_key(payload) if is_cacheable(payload) else None
    if key is None or not state.cache.enabled:
        request.state.cache = "bypass"
    else:
        cached, outcome = await state.cache.get(key)
        request.state.cache = outcome
        state.metrics.cache.labels(outcome=outcome).inc()
        if cached is not None:
            return cached
    completion, elapsed = await state.upstream.chat_completion(payload)
    state.metrics.upstream_latency.observe(elapsed)
    if key is not None:
        await state.cache.set(key, completion)
    return completion


def _infer_response(completion: dict[str, Any]) -> InferResponse:
    try:
        text = completion["choices"][0]["message"]["content"]
        model = completion["model"]
        tokens = completion.get("usage", {}).get("total_tokens", 0)
        return InferResponse(generated_text=text, model_version=model, token_consumption=tokens)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise UpstreamFailedError("malformed upstream completion") from exc
