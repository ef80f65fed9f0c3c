"""The OpenAPI document of the hot-path routes, which FastAPI does not see.

`/v1/infer` and `/v1/chat/completions` are plain ASGI handlers (`gateway.hotpath`), so FastAPI's
generated document would not list them. `document_hot_paths` adds them to it, from the same
pydantic models the handlers validate with, with every status they can answer: the document the
schema-driven fuzz test (and any client generator) reads is the contract the handlers keep.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from gateway.schemas import ChatCompletionRequest, ErrorBody, InferRequest, InferResponse


def document_hot_paths(app: FastAPI) -> None:
    """Describe the hot-path routes in FastAPI's OpenAPI document, from their models."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault(
            "HTTPValidationError",
            {
                "type": "object",
                "properties": {"detail": {"type": "array", "items": {"type": "object"}}},
            },
        )
        for model in (InferRequest, InferResponse, ChatCompletionRequest, ErrorBody):
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(model_schema.pop("$defs", {}))
            components[model.__name__] = model_schema
        paths = schema.setdefault("paths", {})
        paths["/v1/infer"] = _operation(
            "Seed contract: one completion", "InferRequest", "InferResponse"
        )
        paths["/v1/chat/completions"] = _operation(
            "OpenAI-compatible chat completion (SSE when stream is true)",
            "ChatCompletionRequest",
            None,
        )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _operation(summary: str, request: str, response: str | None) -> dict[str, Any]:
    ok_content: dict[str, Any] = {
        "application/json": {"schema": _ref(response) if response else {"type": "object"}}
    }
    if response is None:  # one schema per server-sent event; `data` holds an OpenAI chunk
        event = {
            "type": "object",
            "properties": {
                "data": {"type": "string"},
                "event": {"type": "string"},
                "id": {"type": "string"},
                "retry": {"type": "integer"},
            },
        }
        ok_content["text/event-stream"] = {"schema": event}
    error = {"content": {"application/json": {"schema": _ref("ErrorBody")}}}
    return {
        "post": {
            "summary": summary,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref(request)}},
            },
            "responses": {
                "200": {"description": "the completion", "content": ok_content},
                "401": {"description": "missing or invalid API key (when keys are set)", **error},
                "408": {"description": "body not received in time", **error},
                "422": {
                    "description": "invalid body",
                    "content": {"application/json": {"schema": _ref("HTTPValidationError")}},
                },
                "429": {"description": "provider rate limit", **error},
                "502": {"description": "provider failed", **error},
                "413": {"description": "body larger than 8 MiB"},
                "503": {"description": "overloaded, draining or pool exhausted", **error},
                "504": {"description": "provider timed out", **error},
            },
        }
    }
