"""How a deployment's credentials reach the Locust process: through its environment only.

Importable without Locust: the harness sets these variables, `scenarios.users` reads them.
"""

TOKEN_ENV = "LOADGATE_TARGET_TOKEN"  # noqa: S105 - the name of a variable, not a secret
HEADERS_ENV = "LOADGATE_TARGET_HEADERS"
