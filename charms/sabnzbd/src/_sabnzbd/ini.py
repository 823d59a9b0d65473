"""Read and edit ``sabnzbd.ini`` without losing anything SABnzbd wrote.

SABnzbd keeps its settings in a ConfigObj file: a few top-level ``__key__`` lines, a
``[misc]`` section of ``key = value`` lines, and nested ``[[name]]`` subsections under
``[servers]``, ``[categories]`` and ``[rss]``. SABnzbd rewrites the whole file whenever a
setting changes, so the charm edits only the ``[misc]`` keys it owns, line by line, and
keeps every other line byte for byte. A value with a comma is a list in ConfigObj, and
a list is written ``a, b, c``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from charmarr_common.safe_text import line_safe

INI_NAME = "sabnzbd.ini"

_SECTION = re.compile(r"^\s*\[([^\[\]]+)\]\s*$")
_SUBSECTION = re.compile(r"^\s*\[\[")
_KEY_VALUE = re.compile(r"^(\s*)([^=\s\[#][^=]*?)\s*=\s*(.*?)\s*$")
_PLAIN = re.compile(r"^[^,\"'#\s][^,\"'#]*$")

Value = str | Sequence[str]


def _unquote(raw: str) -> str:
    for quote in ('"""', "'''", '"', "'"):
        if len(raw) >= 2 * len(quote) and raw.startswith(quote) and raw.endswith(quote):
            return raw[len(quote) : -len(quote)]
    return raw


def _split_list(raw: str) -> list[str]:
    items: list[str] = []
    for part in re.findall(r"\"[^\"]*\"|'[^']*'|[^,]+", raw):
        item = _unquote(part.strip())
        if item:
            items.append(item)
    return items


def _quote(value: str) -> str:
    # ConfigObj has no escape for a newline: one would end the value and start a new line
    # (a key, or a [section]) of the file.
    line_safe(value, what="a [misc] value", file=INI_NAME)
    if value == "":
        return '""'
    if _PLAIN.match(value) and value == value.strip():
        return value
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    return f'"""{value}"""'


def _render(value: Value) -> str:
    if isinstance(value, str):
        return _quote(value)
    items = [_quote(item) for item in value]
    if not items:
        return '""'
    return ", ".join(items) + ("," if len(items) == 1 else "")


def _misc_span(lines: list[str]) -> tuple[int, int] | None:
    """The [start, end) line range of the top-level ``[misc]`` section's body."""
    start = None
    for i, line in enumerate(lines):
        match = _SECTION.match(line)
        if match and not _SUBSECTION.match(line):
            if start is not None:
                return start, i
            if match.group(1).strip() == "misc":
                start = i + 1
    return None if start is None else (start, len(lines))


def misc_values(text: str | None) -> dict[str, str]:
    """The raw (unquoted) values of the ``[misc]`` section."""
    if not text:
        return {}
    lines = text.splitlines()
    span = _misc_span(lines)
    if span is None:
        return {}
    values: dict[str, str] = {}
    for line in lines[span[0] : span[1]]:
        match = _KEY_VALUE.match(line)
        if match:
            values[match.group(2)] = _unquote(match.group(3))
    return values


def misc_list(text: str | None, key: str) -> list[str]:
    """A ``[misc]`` list value (e.g. ``host_whitelist``) as its items."""
    if not text:
        return []
    lines = text.splitlines()
    span = _misc_span(lines)
    if span is None:
        return []
    for line in lines[span[0] : span[1]]:
        match = _KEY_VALUE.match(line)
        if match and match.group(2) == key:
            return _split_list(match.group(3))
    return []


def with_misc(text: str | None, updates: Mapping[str, Value]) -> str:
    """``text`` with the ``[misc]`` keys in ``updates`` set; every other line kept.

    A key that exists is changed in place; a missing key is appended to ``[misc]``; a
    missing ``[misc]`` section is added at the end.
    """
    lines = (text or "").splitlines()
    pending = dict(updates)
    span = _misc_span(lines)
    if span is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines.append("[misc]")
        span = (len(lines), len(lines))
    start, end = span
    for key in pending:
        line_safe(key, what="a [misc] key", file=INI_NAME, space=True)
    for i in range(start, end):
        match = _KEY_VALUE.match(lines[i])
        if match and match.group(2) in pending:
            lines[i] = f"{match.group(1)}{match.group(2)} = {_render(pending.pop(match.group(2)))}"
    insert_at = end
    while insert_at > start and not lines[insert_at - 1].strip():
        insert_at -= 1
    lines[insert_at:insert_at] = [f"{key} = {_render(value)}" for key, value in pending.items()]
    return "\n".join(lines) + "\n"
