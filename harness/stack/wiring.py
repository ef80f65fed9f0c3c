"""How a gateway that is not ours is wired into the stack without editing it.

A user's gateway listens where its authors chose and reads the variable names they chose. Three
decisions make it testable as it is:

- **the port**: `--gateway-port`, else the compose service's `ports` (container side), else the
  one port the image exposes (`EXPOSE`), else 8000. Two candidates and no flag is refused before
  anything starts, the candidates named: a wrong guess would cost the 60 s ready timeout;
- **the environment**: `--gateway-env NAME=VALUE`, whose value may hold `{upstream_url}`,
  `{provider_token}` and `{redis_url}`, points the gateway's own variables at the mock provider
  and Redis;
- **the healthcheck**: its URL on the container's loopback at the port the compose file was written
  for follows the chosen port. A healthcheck that cannot run in the image at all (`curl` missing
  from a slim image is the classic) is reported as a finding, `healthcheck_problem`.

Values given to `--gateway-env` may be secrets: no error here ever repeats one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from harness.errors import UsageError

DEFAULT_GATEWAY_PORT = 8000
PLACEHOLDERS = ("upstream_url", "provider_token", "redis_url", "client_key")
CANNOT_RUN_EXIT_CODES = (-1, 126, 127)
"""Docker's code when the exec itself failed, and the shell's "not executable" / "not found"."""
CANNOT_RUN_MARKER = "executable file not found"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LOOPBACK_URL_PORT = r"(?P<host>127\.0\.0\.1|localhost|0\.0\.0\.0|\[::1\]):{port}(?![0-9])"


def parse_gateway_environment(items: Sequence[str], flag: str = "--gateway-env") -> dict[str, str]:
    """`--gateway-env NAME=VALUE` items → {NAME: VALUE template}, placeholders checked."""
    known = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
    environment: dict[str, str] = {}
    for position, item in enumerate(items, start=1):
        name, sep, value = item.partition("=")
        if not sep or not _NAME.fullmatch(name):
            raise UsageError(
                f"{flag} item {position} is not NAME=VALUE with NAME a variable name "
                "(the item is not repeated: it may hold a secret)"
            )
        unknown = [p for p in _PLACEHOLDER.findall(value) if p not in PLACEHOLDERS]
        if unknown:
            raise UsageError(
                f"{flag} {name}: its value has an unknown placeholder (known: {known})"
            )
        environment[name] = value
    return environment


def fill_placeholders(templates: Mapping[str, str], values: Mapping[str, str]) -> dict[str, str]:
    """Each template with its `{placeholder}`s replaced; other braces are left as written."""

    def fill(match: re.Match[str]) -> str:
        return values.get(match.group(1), match.group(0))

    return {name: _PLACEHOLDER.sub(fill, template) for name, template in templates.items()}


def choose_gateway_port(flag: int | None, declared: Sequence[int], exposed: Sequence[int]) -> int:
    """The port loadgate probes and publishes: the flag, else the compose file's, else the
    image's, else 8000. Several candidates at the first level that has any are refused."""
    if flag is not None:
        return flag
    levels = ((declared, "the compose service publishes"), (exposed, "the image exposes"))
    for candidates, where in levels:
        ports = sorted(set(candidates))
        if len(ports) == 1:
            return ports[0]
        if ports:
            listed = ", ".join(str(port) for port in ports)
            raise UsageError(
                f"{where} several ports ({listed}): pass --gateway-port with the one it serves on"
            )
    return DEFAULT_GATEWAY_PORT


def rewrite_healthcheck_port(
    test: Sequence[str], declared: Sequence[int], chosen: int
) -> list[str]:
    """The healthcheck's loopback URLs moved to `chosen` from the port the compose service was
    written for (the one it publishes, else 8000); any other port, e.g. an admin one, is kept."""
    ports = set(declared)
    written_for = DEFAULT_GATEWAY_PORT if not ports else ports.pop() if len(ports) == 1 else chosen
    if written_for == chosen:
        return list(test)
    pattern = re.compile(_LOOPBACK_URL_PORT.format(port=written_for))
    return [pattern.sub(lambda m: f"{m.group('host')}:{chosen}", part) for part in test]


def healthcheck_command(test: Sequence[str]) -> str:
    """A compose `test` as a user reads it: `CMD`/`CMD-SHELL` dropped."""
    if test and test[0] in ("CMD", "CMD-SHELL"):
        return " ".join(test[1:])
    return " ".join(test)


def healthcheck_problem(test: Sequence[str] | None, health: Mapping[str, Any] | None) -> str | None:
    """A sentence when Docker's health log shows the healthcheck could not run in the image (its
    command missing, not executable): a finding about the image, not about the gateway's health.
    A check that ran and failed is not one; nor is a check that never ran."""
    if not test or not health:
        return None
    for entry in health.get("Log") or []:
        output = str(entry.get("Output", "")).strip()
        code = entry.get("ExitCode")
        if code in CANNOT_RUN_EXIT_CODES or CANNOT_RUN_MARKER in output:
            return (
                f"healthcheck `{healthcheck_command(test)}` cannot run in the image: "
                f"{_short_reason(output, code)}"
            )
    return None


def _short_reason(output: str, code: object) -> str:
    """The useful end of Docker's exec error, e.g. `exec: "curl": executable file not found`."""
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        return f"exit code {code}"
    reason = lines[-1].strip()
    if "exec: " in reason:
        reason = reason[reason.index("exec: ") :]
    reason = reason.removesuffix(": unknown")
    return reason if len(reason) <= 200 else reason[:197] + "..."
