"""Which model the OpenAI bodies of a run name.

OpenAI's contract requires `model` in every chat-completions body: a real endpoint answers a
body without it with 400, so a run that omitted it would measure nothing but errors. The model
is `--model` when given; against a deployment loadgate did not start, the one its
`GET /v1/models` lists (asked with the same credentials as the load); for a stack loadgate
launches, the mock provider's model. When the target lists several models or none, or cannot
be asked, the run is refused with one line that names `--model`: guessing would test the wrong
thing.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from harness.errors import UsageError
from harness.mock_upstream.settings import MockSettings
from harness.settings import ExternalTarget, RunSettings
from reports.markdown import printable
from scenarios.inspection import scrub

LAUNCHED_STACK_MODEL: str = MockSettings.model_fields["model_name"].default
"""The model of a stack loadgate launches: the mock provider's default name."""
LIST_TIMEOUT_S = 5.0
LIST_MAX_BYTES = 1024 * 1024
SHOWN_AT_MOST = 10
SHOWN_NAME_CHARS = 60
EXCERPT_BYTES = 160
MAX_NAME_CHARS = 256


def resolve_model(settings: RunSettings) -> str | None:
    """The model the run's bodies name; None for the infer protocol, which names none."""
    if settings.scenario.protocol != "openai":
        return None
    if settings.model:
        return settings.model
    if settings.target is not None:
        return listed_model(settings.target)
    return LAUNCHED_STACK_MODEL


def listed_model(target: ExternalTarget) -> str:
    """The single model the target's `GET /v1/models` lists (OpenAI's `{"data": [{"id"}]}`).

    The answer is the target's, so it is read as hostile: at most `LIST_MAX_BYTES` within
    `LIST_TIMEOUT_S` in all, and a name is used only when it is printable ASCII and short.
    """
    url = f"{target.url}/v1/models"
    try:
        names = _model_ids(json.loads(_fetch(url, target.headers_with_token())))
    except _RefusedError as exc:
        raise UsageError(
            f"GET {url} answered {exc.status}{_excerpt(exc.body, target)}"
            f"{_base_url_hint(target)}: check --target and its credentials, or name the model "
            "with --model"
        ) from exc
    except httpx.HTTPError as exc:
        raise UsageError(
            f"GET {url} could not be asked ({type(exc).__name__}): name the model with --model"
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise UsageError(
            f"GET {url} did not answer an OpenAI model list loadgate can use ({exc}): "
            "name the model with --model"
        ) from exc
    if len(names) == 1:
        return names[0]
    if not names:
        raise UsageError(f"GET {url} lists no model: name the model with --model")
    shown = ", ".join(n[:SHOWN_NAME_CHARS] for n in names[:SHOWN_AT_MOST])
    more = " ..." if len(names) > SHOWN_AT_MOST else ""
    raise UsageError(f"{url} lists {len(names)} models ({shown}{more}): choose one with --model")


class _RefusedError(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _excerpt(body: bytes, target: ExternalTarget) -> str:
    """The start of an error answer, secrets replaced, control characters escaped."""
    secrets = [*target.headers.values()]
    if target.token is not None:
        secrets.append(target.token.get_secret_value())
    text = " ".join(scrub(body, secrets).split())[:EXCERPT_BYTES]
    return f" ({printable(text)})" if text else ""


def _base_url_hint(target: ExternalTarget) -> str:
    if target.url.rstrip("/").endswith("/v1"):
        return " (--target ends in /v1: give the base URL, loadgate adds /v1/...)"
    return ""


def _fetch(url: str, headers: dict[str, str]) -> bytes:
    """The body of a GET, refused past `LIST_MAX_BYTES` or `LIST_TIMEOUT_S` (a slow drip
    counts: the deadline is for the whole answer, not each read)."""
    deadline = time.monotonic() + LIST_TIMEOUT_S
    body = bytearray()
    with (
        httpx.Client(timeout=LIST_TIMEOUT_S, follow_redirects=False) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        if response.is_error:
            start = b""
            for chunk in response.iter_bytes():
                start += chunk
                if len(start) >= EXCERPT_BYTES or time.monotonic() > deadline:
                    break
            raise _RefusedError(response.status_code, start[:EXCERPT_BYTES])
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > LIST_MAX_BYTES:
                raise ValueError(f"more than {LIST_MAX_BYTES // 1024} KiB")
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout("the answer took too long", request=response.request)
    return bytes(body)


def valid_model_name(name: str) -> bool:
    """A name loadgate sends and prints: printable ASCII, no spaces, 1 to 256 characters."""
    return 0 < len(name) <= MAX_NAME_CHARS and all(33 <= ord(c) < 127 for c in name)


def _model_ids(payload: Any) -> list[str]:
    """The ids of `{"data": [{"id": ...}, ...]}`; ValueError for any other shape."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        raise ValueError("no data list")
    ids = [item.get("id") if isinstance(item, dict) else None for item in data]
    if not all(isinstance(name, str) and name for name in ids):
        raise ValueError("an entry without an id")
    if not all(valid_model_name(str(name)) for name in ids):
        raise ValueError("a model name that is not printable ASCII or is over 256 characters")
    return [str(name) for name in ids]
