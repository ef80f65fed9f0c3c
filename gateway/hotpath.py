"""The hot path: `/v1/infer` and `/v1/chat/completions` as plain ASGI handlers.

FastAPI's per-request machinery (dependency solving, body parsing through the standard json
module, response models, exception middleware) cost about 45 % of a core at 1,600 req/s here;
these two routes carry all the traffic, so they skip it: bodies (read whole by the middleware,
`gateway.body`) are validated straight from bytes by pydantic (`validate_json`), answers are
written with orjson. FastAPI still serves the probes, `/metrics` and the OpenAPI document, which
describes these routes from the same models (`gateway.openapi`). This is also the one place
where gateway errors and validation errors become HTTP responses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import TypeAdapter, ValidationError
from starlette.responses import StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import GatewayError, InvalidRequestError, UpstreamFailedError
from gateway.schemas import ChatCompletionRequest, ErrorBody, InferRequest, InferResponse

if TYPE_CHECKING:
    from gateway.app import GatewayState

MAX_ERRORS_SHOWN = 10
MAX_INPUT_CHARS = 100
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
INFER = TypeAdapter(InferRequest)
CHAT = TypeAdapter(ChatCompletionRequest)
JSON_HEADER = (b"content-type", b"application/json")


async def send_json(
    send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """A whole JSON answer as plain ASGI messages (the hot routes and the middleware's own)."""
    data = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                JSON_HEADER,
                (b"content-length", str(len(data)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


def _validation_detail(exc: ValidationError) -> list[dict[str, Any]]:
    """FastAPI's 422 shape, each error located under "body", kept short: the first
    `MAX_ERRORS_SHOWN` errors, each input cut to an excerpt (an 8 MiB body was echoed whole)."""
    return [
        {
            "type": error["type"],
            "loc": ["body", *error["loc"]],
            "msg": error["msg"],
            "input": _excerpt(error["input"]),
        }
        for error in exc.errors(include_url=False, include_context=False)[:MAX_ERRORS_SHOWN]
    ]


def _excerpt(value: object) -> object:
    """Small JSON scalars as they are; anything else as at most `MAX_INPUT_CHARS` of text."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int) and -(2**63) <= value < 2**64:
        return value
    if isinstance(value, bytes):
        text = value[: MAX_INPUT_CHARS * 4].decode("utf-8", "replace")
    elif isinstance(value, str):
        text = value
    else:
        try:
            text = orjson.dumps(value).decode()
        except orjson.JSONEncodeError:
            text = str(value) if isinstance(value, int) else type(value).__name__
    return text if len(text) <= MAX_INPUT_CHARS else text[:MAX_INPUT_CHARS] + "\u2026"


def infer_response(completion: dict[str, Any]) -> InferResponse:
    try:
        text = completion["choices"][0]["message"]["content"]
        model = completion["model"]
        tokens = completion.get("usage", {}).get("total_tokens", 0)
        return InferResponse(generated_text=text, model_version=model, token_consumption=tokens)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise UpstreamFailedError("malformed upstream completion") from exc


class HotPath:
    """Pure-ASGI middleware that answers the two API routes and passes the rest on."""

    def __init__(self, app: ASGIApp, state: Callable[[], GatewayState]) -> None:
        self.app = app
        self.state = state
        self.routes = {"/v1/infer": self.infer, "/v1/chat/completions": self.chat_completions}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if handler is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            await handler(scope, receive, send)
        except ValidationError as exc:
            await send_json(send, 422, {"detail": _validation_detail(exc)})
        except InvalidRequestError as exc:
            error = {"type": "json_unencodable", "loc": ["body"], "msg": exc.public_message}
            await send_json(send, 422, {"detail": [error]})
        except GatewayError as exc:
            await self.send_error(scope, send, exc)

    async def send_error(self, scope: Scope, send: Send, exc: GatewayError) -> None:
        request_id = scope["state"].get("request_id", "")
        self.state().log_upstream_error(request_id, exc)
        headers = [(b"retry-after", str(exc.retry_after).encode())] if exc.retry_after else []
        body = ErrorBody(error=exc.public_message, request_id=request_id).model_dump()
        await send_json(send, exc.status_code, body, headers)

    async def infer(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = INFER.validate_json(scope["state"]["body"])
        state = self.state()
        payload = body.to_chat_completion(state.settings.target_model)
        completion, scope["state"]["cache"] = await state.completions.complete(payload)
        await send_json(send, 200, infer_response(completion).model_dump())

    async def chat_completions(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = CHAT.validate_json(scope["state"]["body"])
        state = self.state()
        payload = body.to_upstream(state.settings.target_model)
        if not body.stream:
            completion, scope["state"]["cache"] = await state.completions.complete(payload)
            await send_json(send, 200, completion)
            return
        scope["state"]["cache"] = "stream"
        await self.stream(scope, receive, send, payload)

    async def stream(
        self, scope: Scope, receive: Receive, send: Send, payload: dict[str, Any]
    ) -> None:
        """Relay the provider's server-sent events chunk by chunk, as they arrive.

        The upstream call is opened before the response starts, so a refusal (429, 5xx,
        timeout) is still an HTTP status. A failure mid-stream ends the stream with an error
        event. When the client goes away, Starlette cancels the relay, and leaving it closes
        the upstream response.
        """
        exit_stack = AsyncExitStack()
        chunks = await exit_stack.enter_async_context(
            self.state().upstream.stream_chat_completion(payload)
        )
        request_id = scope["state"].get("request_id", "")

        async def relay() -> AsyncIterator[bytes]:
            async with exit_stack:
                try:
                    async for chunk in chunks:
                        yield chunk
                except GatewayError as exc:
                    self.state().log_upstream_error(request_id, exc)
                    event = {"error": {"message": exc.public_message, "request_id": request_id}}
                    yield b"data: " + orjson.dumps(event) + b"\n\n"

        response = StreamingResponse(relay(), media_type="text/event-stream", headers=SSE_HEADERS)
        await response(scope, receive, send)
