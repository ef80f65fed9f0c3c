"""The obvious gateway, for comparison: FastAPI + pydantic + httpx with its default transport.

Run inside the gateway image by the benchmark (`python3 naive_gateway.py`). Two routes:
- `/v1/chat/completions`: one pooled `httpx.AsyncClient` owned by the lifespan (the usual
  "correct" pattern, with httpx's default connection pool);
- `/per-request/v1/chat/completions`: a new `httpx.AsyncClient` per request, the seed article's
  pattern, which loads the CA bundle and opens a connection every time.
Standalone on purpose: it shares no code with the real gateway.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from pydantic import BaseModel

UPSTREAM = os.environ["UPSTREAM_BASE_URL"].rstrip("/") + "/v1/chat/completions"
HEADERS = {"Authorization": f"Bearer {os.environ['PROVIDER_AUTH_TOKEN']}"}


class Message(BaseModel):
    role: str
    content: str


class ChatRequest(BaseModel):
    model: str = "gpt-4o-mini"
    messages: list[Message]
    max_tokens: int | None = None
    temperature: float | None = None


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with httpx.AsyncClient(timeout=30) as client:
        app.state.client = client
        yield


app = FastAPI(lifespan=lifespan)


@app.get("/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


@app.post("/v1/chat/completions")
async def pooled(body: ChatRequest, request: Request) -> Any:
    client: httpx.AsyncClient = request.app.state.client
    response = await client.post(UPSTREAM, json=body.model_dump(exclude_none=True), headers=HEADERS)
    return response.json()


@app.post("/per-request/v1/chat/completions")
async def per_request(body: ChatRequest) -> Any:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            UPSTREAM, json=body.model_dump(exclude_none=True), headers=HEADERS
        )
    return response.json()


if __name__ == "__main__":
    uvicorn.run(app, host="0.0.0.0", port=8000, log_level="warning", access_log=False)  # noqa: S104
