"""Request and response bodies of the gateway's public contract.

Every field that multiplies what a request costs at the provider is capped: output length
(`max_tokens`, `max_completion_tokens`, and vLLM's `min_tokens`) at `MAX_OUTPUT_TOKENS`, and the
number of completions generated (`n`, `best_of`) at `MAX_CHOICES`. Before, only `max_tokens` was:
`max_completion_tokens: 10**9` and `n: 128` reached the provider. Lists stop at their first bad
item (`fail_fast`): a body of a million wrong items made a million errors, 45 s of CPU.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_OUTPUT_TOKENS = 4096
MAX_CHOICES = 8


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    text: str = Field(min_length=1, max_length=200_000)


class InferRequest(BaseModel):
    """`POST /v1/infer` body."""

    model_config = ConfigDict(extra="forbid")

    turns: list[Turn] = Field(min_length=1, max_length=512, fail_fast=True)
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
    content: str | Annotated[list[dict[str, Any]], Field(fail_fast=True)] | None = None


class ChatCompletionRequest(BaseModel):
    """`POST /v1/chat/completions` body: OpenAI's, checked where the gateway relies on it."""

    model_config = ConfigDict(extra="allow")

    model: str | None = Field(default=None, min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=512, fail_fast=True)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_OUTPUT_TOKENS)
    min_tokens: int | None = Field(default=None, ge=0, le=MAX_OUTPUT_TOKENS)
    n: int | None = Field(default=None, ge=1, le=MAX_CHOICES)
    best_of: int | None = Field(default=None, ge=1, le=MAX_CHOICES)
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
