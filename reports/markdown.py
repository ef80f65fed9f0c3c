"""Text from a result, made inert for Markdown: a pull-request comment is rendered by GitHub.

A result carries text that came from the gateway under test (an error body, a note quoting it)
or from whoever wrote the file. Put raw into `summary.md`, `![x](https://evil/p.png)` would load
an image from a stranger's server in every reviewer's browser, `<img src=x>` would be HTML,
`[approve](https://evil)` a link, `@someone` a notification, and a newline a new table row.
So every ASCII punctuation character is backslash-escaped (CommonMark renders it literally and
parses nothing around it), `@` and `#` get a zero-width space after them (GitHub links mentions
and issue numbers in the rendered text, after Markdown), control and format characters (bidi
overrides among them) are dropped, and whitespace collapses to single spaces. `visible` is that
last step alone: what a terminal can be shown, too (the console's compare table uses it).
"""

from __future__ import annotations

import re
import string
import unicodedata

ZERO_WIDTH_SPACE = "\u200b"
MAX_TEXT = 400
"""Characters of one piece of result text shown in a summary: a comment stays a comment."""
_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")


def printable(text: str) -> str:
    """`text` with every non-printable character escaped: a target's answer must not drive the
    terminal or a CI log (ANSI escapes, `::` workflow commands on a line of their own)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def visible(text: str, limit: int = MAX_TEXT) -> str:
    """`text` on one line, without control or format characters, cut to `limit` characters
    (what a terminal can show safely, too)."""
    kept = "".join(
        " " if char.isspace() else char
        for char in text
        if char.isspace() or unicodedata.category(char) not in {"Cc", "Cf", "Cs", "Co", "Cn"}
    )
    kept = " ".join(kept.split())
    return kept if len(kept) <= limit else kept[: limit - 1].rstrip() + "…"


def inert(text: str, limit: int = MAX_TEXT) -> str:
    """`text` escaped so that Markdown and GitHub show it literally, cut to `limit` characters."""
    escaped = _PUNCTUATION.sub(r"\\\1", visible(text, limit))
    return escaped.replace("@", "@" + ZERO_WIDTH_SPACE).replace("#", "#" + ZERO_WIDTH_SPACE)


def table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub Markdown table; cells must already be inert (or built from figures alone)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
