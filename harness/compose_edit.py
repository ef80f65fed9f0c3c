"""Rewrites the resource limits of one service in a compose file, and nothing else.

A round-trip YAML parser locates each value (line and column); only those tokens are replaced
in the original text, each in the style its old value had (`"1.0"` stays double-quoted, `512M`
stays plain). Comments, key order, quoting and layout of everything else stay byte-identical.
A missing key (say, no `reservations` yet) is inserted under its section with the section's
indentation.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from harness.errors import ComposeError

MIB = 1024 * 1024


@dataclass(frozen=True)
class LimitValues:
    cpus: float
    memory_bytes: int
    reserved_cpus: float | None = None
    reserved_memory_bytes: int | None = None


def format_cpus(cpus: float) -> str:
    """At most two decimals, rounded up: a written limit is never below the recommended one."""
    text = f"{math.ceil(round(cpus * 100, 6)) / 100:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def format_memory(size: int) -> str:
    """Whole MiB as `NNNM` (or `NG` when it is whole GiB), the way compose files write them."""
    mib = -(-size // MIB)
    return f"{mib // 1024}G" if mib % 1024 == 0 else f"{mib}M"


def _token_end(line: str, start: int) -> int:
    """Where the scalar starting at `start` ends (quoted or plain, before any comment)."""
    quote = line[start] if start < len(line) else ""
    if quote in ("'", '"'):
        end = line.find(quote, start + 1)
        return len(line) if end < 0 else end + 1
    comment = line.find(" #", start)
    stop = len(line) if comment < 0 else comment
    return start + len(line[start:stop].rstrip())


def _restyle(old_token: str, text: str) -> str:
    return f"{old_token[0]}{text}{old_token[0]}" if old_token[:1] in ("'", '"') else text


def _mapping(node: Any, path: str) -> CommentedMap:
    if not isinstance(node, CommentedMap):
        raise ComposeError(f"{path} is missing or not a mapping")
    return node


def rewrite_limits(text: str, service: str, values: LimitValues) -> str:
    """The compose text with the service's limits (and reservations, when given) replaced."""
    try:
        document = YAML().load(text)
    except YAMLError as exc:
        raise ComposeError(f"compose file is not valid YAML: {exc}") from exc
    base = f"services.{service}.deploy.resources"
    try:
        resources = _mapping(document["services"][service]["deploy"]["resources"], base)
    except (KeyError, TypeError) as exc:
        raise ComposeError(f"{base} is missing") from exc
    wanted: dict[str, dict[str, str]] = {
        "limits": {"cpus": format_cpus(values.cpus), "memory": format_memory(values.memory_bytes)}
    }
    reservations: dict[str, str] = {}
    if values.reserved_cpus is not None:
        reservations["cpus"] = format_cpus(values.reserved_cpus)
    if values.reserved_memory_bytes is not None:
        reservations["memory"] = format_memory(values.reserved_memory_bytes)
    if reservations:
        wanted["reservations"] = reservations

    lines = text.splitlines(keepends=True)
    inserts: list[tuple[int, str]] = []
    for section_name, fields in wanted.items():
        if section_name not in resources:
            raise ComposeError(f"{base}.{section_name} is missing: add it to the file first")
        section = _mapping(resources[section_name], f"{base}.{section_name}")
        for key, new in fields.items():
            if key in section:
                row, col = section.lc.value(key)
                line = lines[row]
                end = _token_end(line, col)
                lines[row] = line[:col] + _restyle(line[col:end], new) + line[end:]
            else:
                key_row, key_col = section.lc.key(next(iter(section)))
                inserts.append((key_row, f"{' ' * key_col}{key}: {new}\n"))
    for row, line in sorted(inserts, reverse=True):
        lines.insert(row + 1, line)
    return "".join(lines)


def unified_diff(path: Path, old: str, new: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{path.name}",
            tofile=f"b/{path.name}",
        )
    )
