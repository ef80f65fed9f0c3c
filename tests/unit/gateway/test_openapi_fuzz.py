"""Schema-driven fuzzing: whatever the OpenAPI document allows, the gateway answers without a
5xx and within its documented responses (Schemathesis strategies + Hypothesis, real HTTP).

Schemathesis's own pytest plugin does not run under pytest 9, so each operation's case
strategy is driven by an ordinary `@given` instead; the checks are Schemathesis's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway import create_app
from tests.unit.gateway.conftest import completion, make_settings
from tests.unit.gateway.fake_provider import FakeProvider, Reply

OPERATIONS = [
    ("POST", "/v1/infer"),
    ("POST", "/v1/chat/completions"),
    ("GET", "/ready"),
    ("GET", "/live"),
]


def provider(body: bytes) -> Reply:
    """A provider that always answers: every failure the fuzz finds is the gateway's own."""
    if b'"stream":true' in body:
        return Reply(
            body=b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n'
        )
    return Reply.json(completion())


@pytest.fixture(scope="module")
def gateway_url() -> Iterator[str]:
    app = create_app(make_settings(), upstream=FakeProvider(provider))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_5xx_and_no_schema_violation(gateway_url: str, method: str, path: str) -> None:
    """Every generated request, valid or not, gets a documented, schema-conforming answer."""
    schema = schemathesis.openapi.from_url(f"{gateway_url}/openapi.json")
    operation = schema[path][method]
    cases: st.SearchStrategy[schemathesis.Case[Any]] = operation.as_strategy()

    @given(case=cases)
    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(base_url=gateway_url)

    check()
