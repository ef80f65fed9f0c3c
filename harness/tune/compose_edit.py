"""Rewrites the resource limits of one service in a compose file, and nothing else.

The YAML is composed (not loaded) so every value keeps its exact span in the text; only those
spans are replaced, each in the style its old value had (`"1.0"` stays double-quoted, `512M`
stays plain, `{cpus: '1.0'}` stays a flow mapping). Comments, key order, quoting and layout of
everything else stay byte-identical. A missing key (say, no `reservations.cpus` yet) is inserted
in its section: a line above the section's first key in block style, one more pair in flow style.

What cannot be edited in place is refused, naming the key path, before `loadgate tune` starts
its first run (`check_editable`): a value shared with another service through a YAML anchor or
a merge key (editing the text would change both), a multi-line (`>`, `|`) scalar, a value with
its own anchor or tag, a section that is missing or not a mapping. Every rewrite is parsed back
and compared with the original: anything but the four values differing is an error, and
`write_compose` replaces the file atomically (temporary file, fsync, rename), so a crash or a
full disk leaves the old file whole.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from harness.errors import ComposeError
from harness.units import UnitError, parse_cpus, parse_memory
from reports.atomic import write_atomic
from reports.result import MIB

MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class LimitValues:
    cpus: float
    memory_bytes: int
    reserved_cpus: float | None = None
    reserved_memory_bytes: int | None = None


PROBE_VALUES = LimitValues(  # what `check_editable` rehearses the rewrite with
    1.0, 512 * MIB, 0.5, 256 * MIB
)


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    text: str


def format_cpus(cpus: float) -> str:
    """At most two decimals, rounded up: a written limit is never below the recommended one."""
    text = f"{math.ceil(round(cpus * 100, 6)) / 100:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def format_memory(size: int) -> str:
    """Whole MiB as `NNNM` (or `NG` when it is whole GiB), the way compose files write them."""
    mib = -(-size // MIB)
    return f"{mib // 1024}G" if mib % 1024 == 0 else f"{mib}M"


def _references(root: Node) -> dict[int, int]:
    """How many places of the document each node is reached from (an alias is one more)."""
    counts: dict[int, int] = {}
    stack: list[Node] = [root]
    while stack:
        node = stack.pop()
        counts[id(node)] = counts.get(id(node), 0) + 1
        if counts[id(node)] > 1:
            continue
        if isinstance(node, MappingNode):
            stack.extend(part for pair in node.value for part in pair)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return counts


class _Document:
    """The composed node tree of a compose file, walked along one key path."""

    def __init__(self, text: str) -> None:
        try:
            root = YAML().compose(text)
        except YAMLError as exc:
            reason = " ".join(str(exc).split())
            raise ComposeError(f"compose file is not valid YAML: {reason}") from exc
        self.text = text
        self.root = root
        self.references = _references(root) if root is not None else {}

    def own(self, node: Node, path: str) -> Node:
        """`node`, refused when another part of the file reaches it too (anchor and alias)."""
        if self.references.get(id(node), 0) > 1:
            raise ComposeError(
                f"{path} is shared with another part of the file through a YAML anchor: "
                "tune cannot change it for this service alone; write it out in place"
            )
        return node

    def child(self, node: Node | None, key: str, path: str) -> Node | None:
        """The value under `key` in the mapping `node` (None when the key is absent)."""
        if not isinstance(node, MappingNode):
            raise ComposeError(f"{path.rsplit('.', 1)[0]} is missing or not a mapping")
        merged = False
        for key_node, value in node.value:
            if key_node.tag == MERGE_TAG:
                merged = True
            elif isinstance(key_node, ScalarNode) and key_node.value == key:
                return self.own(value, path)
        if merged:
            raise ComposeError(
                f"{path} may come through a YAML merge key (<<): tune cannot edit it in place"
            )
        return None

    def mapping(self, node: Node | None, key: str, path: str) -> MappingNode:
        value = self.child(node, key, path)
        if value is None:
            raise ComposeError(f"{path} is missing: add it to the file first")
        if not isinstance(value, MappingNode):
            raise ComposeError(f"{path} is not a mapping")
        return value

    def replacement(self, node: Node, new: str, path: str) -> _Edit:
        """Replace the one-line scalar `node` with `new`, in the old value's quoting."""
        if not isinstance(node, ScalarNode):
            raise ComposeError(f"{path} is not a single value")
        start, end = node.start_mark.index, node.end_mark.index
        old = self.text[start:end]
        if node.style in ("|", ">") or node.start_mark.line != node.end_mark.line:
            raise ComposeError(f"{path} is a multi-line scalar: write it on one line")
        if old[:1] in ("&", "!"):
            raise ComposeError(f"{path} carries an anchor or a tag: tune cannot edit it in place")
        quote = node.style if node.style in ("'", '"') else ""
        return _Edit(start, end, f"{quote}{new}{quote}")

    def insertion(self, section: MappingNode, pairs: list[str], path: str) -> _Edit:
        """Add `key: value` pairs to a section, in its own (block or flow) style."""
        if section.flow_style:
            if section.value:
                at = section.value[-1][1].end_mark.index
                return _Edit(at, at, "".join(f", {pair}" for pair in pairs))
            at = section.end_mark.index - 1
            if self.text[at : at + 1] != "}":
                raise ComposeError(f"{path} is an empty mapping tune cannot add keys to")
            return _Edit(at, at, ", ".join(pairs))
        first = section.value[0][0]
        line_start = self.text.rfind("\n", 0, first.start_mark.index) + 1
        indent = self.text[line_start : first.start_mark.index]
        if indent.strip():
            raise ComposeError(f"{path}: its first key does not start a line")
        return _Edit(line_start, line_start, "".join(f"{indent}{pair}\n" for pair in pairs))


def _wanted(values: LimitValues) -> dict[str, dict[str, str]]:
    wanted = {
        "limits": {"cpus": format_cpus(values.cpus), "memory": format_memory(values.memory_bytes)}
    }
    reservations: dict[str, str] = {}
    if values.reserved_cpus is not None:
        reservations["cpus"] = format_cpus(values.reserved_cpus)
    if values.reserved_memory_bytes is not None:
        reservations["memory"] = format_memory(values.reserved_memory_bytes)
    if reservations:
        wanted["reservations"] = reservations
    return wanted


def _edits(document: _Document, service: str, wanted: dict[str, dict[str, str]]) -> list[_Edit]:
    path = "services"
    node = document.mapping(document.root, "services", path)
    for key in (service, "deploy", "resources"):
        path = f"{path}.{key}"
        node = document.mapping(node, key, path)
    edits: list[_Edit] = []
    for section_name, fields in wanted.items():
        section_path = f"{path}.{section_name}"
        section = document.mapping(node, section_name, section_path)
        missing: list[str] = []
        for key, new in fields.items():
            value = document.child(section, key, f"{section_path}.{key}")
            if value is None:
                missing.append(f"{key}: {new}")
            else:
                edits.append(document.replacement(value, new, f"{section_path}.{key}"))
        if missing:
            edits.append(document.insertion(section, missing, section_path))
    return edits


def _limit_values(document: Any, service: str) -> Iterator[tuple[str, str, Any]]:
    """Yield and remove the four limit values of `service` from a loaded document."""
    resources = document["services"][service]["deploy"]["resources"]
    for section in ("limits", "reservations"):
        fields = resources.get(section) or {}
        for key in ("cpus", "memory"):
            if key in fields:
                yield section, key, fields.pop(key)


def _verify(old: str, new: str, service: str, wanted: dict[str, dict[str, str]]) -> None:
    """Parse the rewrite back: only the four values may differ, and they must be the new ones."""
    where = f"services.{service}.deploy.resources"
    try:
        before, after = yaml.safe_load(old), yaml.safe_load(new)
        values = {(s, k): v for s, k, v in _limit_values(after, service)}
        list(_limit_values(before, service))
        same = before == after
    except (yaml.YAMLError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        reason = " ".join(str(exc).split())
        raise ComposeError(f"{where}: the rewritten file does not read back ({reason})") from exc
    expected = {(s, k): v for s, fields in wanted.items() for k, v in fields.items()}
    parsers = {"cpus": parse_cpus, "memory": parse_memory}
    try:
        written = {key: parsers[key[1]](values.get(key)) for key in expected}
    except UnitError as exc:
        raise ComposeError(f"{where}: the rewritten limits do not read back ({exc})") from exc
    if not same or written != {key: parsers[key[1]](v) for key, v in expected.items()}:
        raise ComposeError(f"{where}: the rewrite would change more than the limits: not written")


def rewrite_limits(text: str, service: str, values: LimitValues) -> str:
    """The compose text with the service's limits (and reservations, when given) replaced."""
    wanted = _wanted(values)
    edits = _edits(_Document(text), service, wanted)
    new = text
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        new = new[: edit.start] + edit.text + new[edit.end :]
    _verify(text, new, service, wanted)
    return new


def check_editable(text: str, service: str) -> None:
    """Refuse, before any run, a file whose limits and reservations tune cannot rewrite."""
    rewrite_limits(text, service, PROBE_VALUES)


def write_compose(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically (`reports.atomic.write_atomic`)."""
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise ComposeError(f"cannot write {path}: {exc.strerror}; the file is unchanged") from exc


def unified_diff(path: Path, old: str, new: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"a/{path.name}",
            tofile=f"b/{path.name}",
        )
    )
