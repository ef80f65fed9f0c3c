"""FastAPI routes: the probes. The API routes live on the hot path (`gateway.hotpath`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

if TYPE_CHECKING:
    from gateway.app import GatewayState

router = APIRouter()


@router.get("/live")
async def live() -> dict[str, str]:
    """The process is up. Never touches the upstream or Redis."""
    return {"status": "alive"}


@router.get("/ready")
async def ready(request: Request) -> JSONResponse:
    """The gateway takes traffic: it is not draining. The cache is optional, so not checked."""
    state: GatewayState = request.app.state.gateway
    if state.admission.draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/v1/models")
async def models(request: Request) -> JSONResponse:
    """OpenAI's model list: the model a request that names none is sent to (`TARGET_MODEL`).

    Clients of an OpenAI-compatible endpoint (loadgate among them) ask it which model to name.
    """
    state: GatewayState = request.app.state.gateway
    model = state.settings.target_model
    return JSONResponse(
        {"object": "list", "data": [{"id": model, "object": "model", "owned_by": "gateway"}]}
    )
