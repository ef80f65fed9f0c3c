"""How a deployment's credentials reach the load generators: through their environment only.

Importable without Locust: the harness sets these variables, the generators read them with
`target_headers()` and `scenarios.inspection` (at call time, never at import).
"""

import json
import os

TOKEN_ENV = "LOADGATE_TARGET_TOKEN"  # noqa: S105 - the name of a variable, not a secret
HEADERS_ENV = "LOADGATE_TARGET_HEADERS"
SCAN_SECRET_ENV = "LOADGATE_SCAN_SECRET"  # noqa: S105 - the name of a variable, not a secret
"""The provider's token, which no answer may carry: the generators scan responses for it."""


def target_headers() -> dict[str, str]:
    """The extra headers and the bearer token the harness passed for the target."""
    headers: dict[str, str] = json.loads(os.environ.get(HEADERS_ENV) or "{}")
    token = os.environ.get(TOKEN_ENV)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers
