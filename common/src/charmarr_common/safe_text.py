"""One rule for every config file a charm writes: no control characters in a value.

A newline in a value starts a new line of an INI file (a new ``[section]`` in
``sabnzbd.ini``, a new key in ``qBittorrent.conf``, a new directive in ``3proxy.cfg``), a
NUL makes ``config.xml`` unparsable. None of the files' formats can escape them all, so
the writers refuse such a value with a status instead of writing a file the app misreads.
The message names the value's role and file, never the value (it may be a secret).
"""

from __future__ import annotations

import re

from .errors import CharmarrError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")


class UnsafeValueError(CharmarrError):
    """A value would break out of the line or element it is written to (Blocked)."""


def has_control(value: str, *, space: bool = False) -> bool:
    """Whether ``value`` holds a control character (or, with ``space``, any whitespace)."""
    return bool((_CONTROL_OR_SPACE if space else _CONTROL).search(value))


def line_safe(value: str, *, what: str, file: str, space: bool = False) -> str:
    """``value`` unchanged if it can be written on one line of ``file``.

    Raises:
        UnsafeValueError: naming ``what`` and ``file`` (never the value).
    """
    if has_control(value, space=space):
        kind = "whitespace or control characters" if space else "control characters"
        raise UnsafeValueError(f"refusing to write {what} to {file}: it contains {kind}")
    return value
