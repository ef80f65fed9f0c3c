"""Client keys (GATEWAY_API_KEYS): who may call the gateway, and what stays open to probes."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.settings import SettingsError, load_settings
from tests.unit.gateway.conftest import INFER_BODY, answer_ok, gateway_client
from tests.unit.gateway.fake_provider import FakeProvider

pytestmark = pytest.mark.anyio
KEYS = "key-alpha-0123456789,key-beta-9876543210"
COMPOSE = Path(__file__).parents[3] / "docker-compose.prod.yml"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({}, 401, id="no-key"),
        pytest.param({"authorization": "Bearer key-gamma-000"}, 401, id="wrong-key"),
        pytest.param({"authorization": "Bearer key-alpha-012345678"}, 401, id="key-prefix"),
        pytest.param({"authorization": "Basic key-alpha-0123456789"}, 401, id="not-bearer"),
        pytest.param({"authorization": "Bearer key-alpha-0123456789"}, 200, id="first-key"),
        pytest.param({"authorization": "bearer  key-beta-9876543210"}, 200, id="second-key"),
        pytest.param({"x-api-key": "key-beta-9876543210"}, 200, id="x-api-key"),
    ],
)
async def test_api_routes_need_one_of_the_keys(headers: dict[str, str], status: int) -> None:
    """With GATEWAY_API_KEYS set, only a listed key (Bearer or X-API-Key) reaches the provider."""
    provider = FakeProvider(answer_ok)
    async with gateway_client(provider, gateway_api_keys=KEYS) as client:
        response = await client.post("/v1/infer", json=INFER_BODY, headers=headers)
    assert response.status_code == status
    assert len(provider.bodies) == (1 if status == 200 else 0)
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json() == {
            "error": "missing or invalid API key",
            "request_id": response.headers["x-request-id"],
        }


@pytest.mark.parametrize(
    ("overrides", "protected"),
    [
        pytest.param({}, {"/metrics", "/docs", "/openapi.json"}, id="default-protected"),
        pytest.param({"gateway_protect_metrics": False}, {"/docs", "/openapi.json"}, id="metrics"),
        pytest.param({"gateway_protect_docs": False}, {"/metrics"}, id="docs-open"),
    ],
)
async def test_probes_stay_open_and_operations_follow_their_setting(
    overrides: dict[str, Any], protected: set[str]
) -> None:
    """/live and /ready never ask for a key; /metrics and the docs do unless opened."""
    paths = ["/live", "/ready", "/metrics", "/docs", "/openapi.json"]
    async with gateway_client(
        FakeProvider(answer_ok), gateway_api_keys=KEYS, **overrides
    ) as client:
        statuses = {path: (await client.get(path)).status_code for path in paths}
    assert {path for path, status in statuses.items() if status == 401} == protected
    assert all(status == 200 for path, status in statuses.items() if path not in protected)


async def test_without_keys_nothing_is_asked() -> None:
    """GATEWAY_API_KEYS unset: the gateway stays open, as it always was."""
    async with gateway_client(FakeProvider(answer_ok)) as client:
        responses = [await client.post("/v1/infer", json=INFER_BODY)]
        responses += [await client.get(path) for path in ("/metrics", "/openapi.json")]
    assert [r.status_code for r in responses] == [200, 200, 200]


async def test_every_key_is_compared(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check compares against every key even when the first matches (no early exit)."""
    compared: list[bytes] = []
    compare = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append(b)
        return compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    async with gateway_client(
        FakeProvider(answer_ok), gateway_api_keys=KEYS + ",key-third-55555"
    ) as client:
        headers = {"authorization": "Bearer key-alpha-0123456789"}
        response = await client.post("/v1/infer", json=INFER_BODY, headers=headers)
    assert response.status_code == 200
    assert len(compared) == 3


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("GATEWAY_API_KEYS", "GATEWAY_PROTECT_METRICS", "GATEWAY_PROTECT_DOCS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PROVIDER_AUTH_TOKEN", "sk-test")
    monkeypatch.setenv("UPSTREAM_BASE_URL", "http://provider.test")
    return monkeypatch


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        pytest.param({"GATEWAY_API_KEYS": " , ,"}, "GATEWAY_API_KEYS", id="only-commas"),
        pytest.param({"GATEWAY_API_KEYS": "a b"}, "GATEWAY_API_KEYS", id="space-in-key"),
        pytest.param(
            {"GATEWAY_PROTECT_METRICS": "true"}, "GATEWAY_PROTECT_METRICS", id="protect-no-keys"
        ),
    ],
)
def test_bad_key_settings_stop_the_start(
    env: pytest.MonkeyPatch, variables: dict[str, str], named: str
) -> None:
    """Unusable keys, or protection asked without keys, fail at start-up naming the variable."""
    for name, value in variables.items():
        env.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert named in str(caught.value)


@pytest.mark.parametrize("value", ["", "  "], ids=["empty", "blank"])
def test_an_empty_key_list_means_no_keys(env: pytest.MonkeyPatch, value: str) -> None:
    """GATEWAY_API_KEYS set but empty (a compose default) asks no key, as unset does."""
    env.setenv("GATEWAY_API_KEYS", value)
    assert load_settings().client_keys() == ()


def test_keys_are_read_from_a_comma_separated_list(env: pytest.MonkeyPatch) -> None:
    """Keys are split on commas, trimmed, and kept secret in the settings' repr."""
    env.setenv("GATEWAY_API_KEYS", " key-one-123 ,key-two-456,")
    settings = load_settings()
    assert settings.client_keys() == ("key-one-123", "key-two-456")
    assert "key-one-123" not in repr(settings)


def test_compose_publishes_the_gateway_on_loopback_only() -> None:
    """docker-compose.prod.yml binds every published gateway port to 127.0.0.1."""
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    ports = services["gateway"]["ports"]
    assert ports and all(str(port).startswith("127.0.0.1:") for port in ports)
