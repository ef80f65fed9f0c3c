"""The target's credentials, read by both generators from their environment."""

from __future__ import annotations

import pytest

from scenarios.credentials import HEADERS_ENV, TOKEN_ENV, target_headers
from scenarios.openmodel import request_headers


def test_headers_and_bearer_token_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Extra headers as given, the token as a bearer Authorization; nothing when unset."""
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.delenv(HEADERS_ENV, raising=False)
    assert target_headers() == {}
    monkeypatch.setenv(HEADERS_ENV, '{"X-Team": "perf"}')
    monkeypatch.setenv(TOKEN_ENV, "sk-abc")
    assert target_headers() == {"X-Team": "perf", "Authorization": "Bearer sk-abc"}
    assert request_headers()["Content-Type"] == "application/json"
