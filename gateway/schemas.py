"""Request and response bodies of the gateway's public contract."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_OUTPUT_TOKENS = 4096


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    text: str = Field(min_length=1, max_length=200_000)


class InferRequest(BaseModel):
    """`POST /v1/infer` body."""

    model_config = ConfigDict(extra="forbid")

    turns: list[Turn] = Field(min_length=1, max_length=512)
    target_model: str | None = Field(default=None, min_length=1, max_length=200)
    max_output_tokens: int = Field(default=512, ge=1, le=MAX_OUTPUT_TOKENS)
    sampling_temperature: float = Field(default=0.7, ge=0.0, le=2.0)

    def to_chat_completion(self, default_model: str) -> dict[str, Any]:
        """The OpenAI-style request this maps to upstream."""
        return {
            "model": self.target_model or default_model,
            "messages": [{"role": turn.role, "content": turn.text} for turn in self.turns],
            "max_tokens": self.max_output_tokens,
            "temperature": self.sampling_temperature,
        }


class InferResponse(BaseModel):
    """`POST /v1/infer` answer."""

    generated_text: str
    model_version: str
    token_consumption: int = Field(ge=0)


class ChatMessage(BaseModel):
    """One OpenAI chat message; fields the gateway does not know are passed on untouched."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(BaseModel):
    """`POST /v1/chat/completions` body: OpenAI's, checked where the gateway relies on it."""

    model_config = ConfigDict(extra="allow")

    model: str | None = Field(default=None, min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=512)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    stream: bool = False

    def to_upstream(self, default_model: str) -> dict[str, Any]:
        payload = self.model_dump(exclude_none=True)
        payload["model"] = self.model or default_model
        if not self.stream:
            payload.pop("stream", None)
        return payload


class ErrorBody(BaseModel):
    error: str
    request_id: str
