r"""qBittorrent.conf: the WebUI credentials, hashed the way qBittorrent hashes them.

qBittorrent run with ``--profile=/config`` keeps its settings in
``/config/qBittorrent/config/qBittorrent.conf`` (checked with qbittorrent-nox 4.5.2 and 5.1.0:
the profile directory gets ``qBittorrent/config/`` and ``qBittorrent/data/``), a
QSettings INI file. The WebUI password is stored under ``[Preferences]`` as
``WebUI\Password_PBKDF2="@ByteArray(<base64 salt>:<base64 key>)"``: PBKDF2-HMAC-SHA512,
100000 iterations, a 16-byte random salt and a 64-byte key (qBittorrent >= 4.2; the
same in 4.5, 4.6 and 5.x).

The app rewrites this file itself (on every settings change and on exit), so the charm
edits only the lines it owns and keeps every other line as it found it. Because the salt
is random, two hashes of one password differ: :func:`credentials_match` verifies the
stored hash against the password instead of comparing text, so a hook with nothing to
change writes nothing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import MutableMapping

from charmarr_common.safe_text import line_safe

CONF_PATH = "/config/qBittorrent/config/qBittorrent.conf"
"""Where ``qbittorrent-nox --profile=/config`` reads its settings."""

ITERATIONS = 100_000
SALT_BYTES = 16
KEY_BYTES = 64

_PREFERENCES = "Preferences"
_USERNAME_KEY = "WebUI\\Username"
_PASSWORD_KEY = "WebUI\\Password_PBKDF2"
_LEGAL_SECTION = "LegalNotice"
_LEGAL_KEY = "Accepted"

_BYTEARRAY = re.compile(r'^"?@ByteArray\(([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)\)"?$')


def hash_password(password: str, salt: bytes | None = None) -> str:
    r"""The ``WebUI\Password_PBKDF2`` value for ``password`` (a fresh salt unless given)."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS, KEY_BYTES)
    return f'"@ByteArray({base64.b64encode(salt).decode()}:{base64.b64encode(key).decode()})"'


def verify_password(stored: str | None, password: str) -> bool:
    r"""Whether the stored ``WebUI\Password_PBKDF2`` value is a hash of ``password``."""
    match = _BYTEARRAY.match((stored or "").strip())
    if match is None:
        return False
    try:
        salt = base64.b64decode(match[1], validate=True)
        key = base64.b64decode(match[2], validate=True)
    except (binascii.Error, ValueError):
        return False
    if not salt or len(key) != KEY_BYTES:
        return False
    candidate = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS, KEY_BYTES)
    return hmac.compare_digest(candidate, key)


def _section_of(line: str) -> str | None:
    stripped = line.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        return stripped[1:-1]
    return None


def read_value(text: str | None, section: str, key: str) -> str | None:
    """The raw value of ``key`` in ``[section]`` (None if absent)."""
    current = "General"
    for line in (text or "").splitlines():
        name = _section_of(line)
        if name is not None:
            current = name
            continue
        k, sep, value = line.partition("=")
        if sep and current == section and k.strip() == key:
            return value.strip()
    return None


VERIFIED_KEY = "qbittorrent-webui-hash"
"""Where :func:`credentials_match` keeps the last verified (hash, password) pair."""


def fingerprint(stored: str, password: str) -> str:
    """HMAC-SHA256 of ``password`` keyed by the stored hash: names the pair, reveals neither.

    A different stored value (qBittorrent rewrote it, an operator edited it) or password
    (rotated) gives a different fingerprint; guessing the password from it costs a PBKDF2
    derivation per guess, as the stored hash itself does.
    """
    return hmac.new(stored.encode(), password.encode(), hashlib.sha256).hexdigest()


def credentials_match(
    text: str | None,
    username: str,
    password: str,
    *,
    verified: MutableMapping[str, str] | None = None,
) -> bool:
    """Whether the file already grants ``username``/``password`` and accepts the notice.

    Verifies the PBKDF2 hash (no text comparison), so an unchanged password never
    causes a rewrite with a new salt. The derivation is 100,000 rounds of SHA-512, most of
    a hook's CPU: with ``verified`` (a mapping kept between hooks) a pair that verified
    before is recognised by its :func:`fingerprint` instead, and only a changed hash or
    password is derived again.
    """
    if read_value(text, _PREFERENCES, _USERNAME_KEY) != username:
        return False
    if (read_value(text, _LEGAL_SECTION, _LEGAL_KEY) or "").lower() != "true":
        return False
    stored = read_value(text, _PREFERENCES, _PASSWORD_KEY) or ""
    known = fingerprint(stored, password)
    if verified is not None and hmac.compare_digest(verified.get(VERIFIED_KEY, ""), known):
        return True
    if not verify_password(stored, password):
        return False
    if verified is not None:
        verified[VERIFIED_KEY] = known
    return True


def set_values(text: str | None, values: dict[str, dict[str, str]]) -> str:
    """Set ``{section: {key: raw value}}`` in an INI text, keeping every other line.

    Existing keys are replaced in place; missing keys are appended to their section;
    missing sections are appended to the file.
    """
    for section, keys in values.items():
        # QSettings reads one key per line: a newline in a value would add keys of its own.
        line_safe(section, what="a section name", file="qBittorrent.conf")
        for key, value in keys.items():
            line_safe(key, what="a key", file="qBittorrent.conf", space=True)
            line_safe(value, what=key, file="qBittorrent.conf")
    lines = (text or "").splitlines()
    pending = {section: dict(keys) for section, keys in values.items()}
    out: list[str] = []
    current = "General"

    def flush(section: str) -> None:
        remaining = pending.get(section)
        if remaining:
            # Keep a blank line between sections: insert before trailing blanks.
            tail: list[str] = []
            while out and not out[-1].strip():
                tail.append(out.pop())
            out.extend(f"{k}={v}" for k, v in remaining.items())
            out.extend(tail)
            remaining.clear()

    for line in lines:
        name = _section_of(line)
        if name is not None:
            flush(current)
            current = name
            out.append(line)
            continue
        k, sep, _ = line.partition("=")
        key = k.strip()
        if sep and key in pending.get(current, {}):
            out.append(f"{key}={pending[current].pop(key)}")
            continue
        out.append(line)
    flush(current)
    for section, keys in pending.items():
        if keys:
            if out and out[-1].strip():
                out.append("")
            out.append(f"[{section}]")
            out.extend(f"{k}={v}" for k, v in keys.items())
    return "\n".join(out).rstrip("\n") + "\n"


def render(text: str | None, username: str, password: str) -> str:
    """The conf with the WebUI credentials (a new hash) and the legal notice accepted.

    ``[LegalNotice] Accepted=true`` lets qBittorrent 5.x start headless without
    ``--confirm-legal-notice`` (an option 4.5 does not know); 4.5 reads the same key.
    """
    return set_values(
        text,
        {
            _LEGAL_SECTION: {_LEGAL_KEY: "true"},
            _PREFERENCES: {_USERNAME_KEY: username, _PASSWORD_KEY: hash_password(password)},
        },
    )
