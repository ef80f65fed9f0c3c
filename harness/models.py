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

from typing import Any

import httpx

from harness.errors import UsageError
from harness.mock_upstream.settings import MockSettings
from harness.settings import ExternalTarget, RunSettings

LAUNCHED_STACK_MODEL: str = MockSettings.model_fields["model_name"].default
"""The model of a stack loadgate launches: the mock provider's default name."""
LIST_TIMEOUT_S = 5.0
SHOWN_AT_MOST = 10


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
    """The single model the target's `GET /v1/models` lists (OpenAI's `{"data": [{"id"}]}`)."""
    url = f"{target.url}/v1/models"
    try:
        response = httpx.get(url, headers=_auth_headers(target), timeout=LIST_TIMEOUT_S)
        response.raise_for_status()
        names = _model_ids(response.json())
    except httpx.HTTPStatusError as exc:
        raise UsageError(
            f"GET {url} answered {exc.response.status_code}: name the model with --model"
        ) from exc
    except httpx.HTTPError as exc:
        raise UsageError(
            f"GET {url} could not be asked ({type(exc).__name__}): name the model with --model"
        ) from exc
    except ValueError as exc:
        raise UsageError(
            f"GET {url} did not answer an OpenAI model list: name the model with --model"
        ) from exc
    if len(names) == 1:
        return names[0]
    if not names:
        raise UsageError(f"GET {url} lists no model: name the model with --model")
    shown = ", ".join(names[:SHOWN_AT_MOST]) + (" ..." if len(names) > SHOWN_AT_MOST else "")
    raise UsageError(f"{url} lists {len(names)} models ({shown}): choose one with --model")


def _auth_headers(target: ExternalTarget) -> dict[str, str]:
    headers = dict(target.headers)
    if target.token is not None:
        headers["Authorization"] = f"Bearer {target.token.get_secret_value()}"
    return headers


def _model_ids(payload: Any) -> list[str]:
    """The ids of `{"data": [{"id": ...}, ...]}`; ValueError for any other shape."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        raise ValueError("no data list")
    ids = [item.get("id") if isinstance(item, dict) else None for item in data]
    if not all(isinstance(name, str) and name for name in ids):
        raise ValueError("an entry without an id")
    return [str(name) for name in ids]
