"""A stateful in-process fake of qBittorrent's WebUI API v2 (the part the charms use).

It behaves like qbittorrent-nox as checked against 4.5.2, 5.1.0 and upstream's source:

- only ``auth/login`` (and the anonymous login page at ``/``) works without a session;
  everything else answers 403 without the ``SID`` cookie;
- ``auth/login`` answers ``Ok.`` and sets ``SID``, or ``Fails.`` (HTTP 200) and counts
  the failure; a successful login resets the count; after ``max_failures`` (5) failures
  the client is banned and every login answers 403;
- a login that carries a valid session cookie answers ``Ok.`` without checking;
- ``app/setPreferences`` (form field ``json``) changes preferences; ``web_ui_password``
  changes the password (existing sessions stay valid);
- ``proxy_type`` is an integer in 4.5 and a string from 4.6 on; a value of the other
  form is read the way the real app reads it (``"SOCKS5"`` as an int is 0, an int as
  a string type is ``"None"``), i.e. it silently turns the proxy off;
- categories: ``torrents/categories``, ``createCategory`` (409 if it exists),
  ``editCategory`` (409 if missing), ``removeCategories`` (newline-separated);
- torrents: ``torrents/add`` (multipart: ``torrents`` files, ``category``, ``savepath``,
  ``autoTMM``) places each torrent as the session does: manual management by default
  (``auto_tmm_enabled`` false), so without a save path it goes to the default
  ``save_path`` (the profile's ``downloads`` folder); with automatic management it goes
  to its category's path; ``torrents/info`` lists them with ``save_path``.

Knobs for tests: ``refuse_password_change`` (setPreferences answers 200 but keeps the
old password), ``fault`` (from :class:`~.fakes.FakeApp`), and :meth:`boot` (start "from
qBittorrent.conf": take the user name and the PBKDF2 hash the conf holds, so a test can
prove that what a charm wrote really authenticates).
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import hashlib
import hmac
import json
import re
import secrets
from typing import Any

from charmarr_common.http import Request, Response

from .apps import FakeApp, json_response, text_response


def _default_preferences(string_proxy_type: bool) -> dict[str, Any]:
    prefs: dict[str, Any] = {
        "proxy_ip": "0.0.0.0",  # noqa: S104 - what qBittorrent reports, not a bind
        "proxy_port": 8080,
        "proxy_username": "",
        "proxy_password": "",
        "proxy_peer_connections": False,
        "proxy_hostname_lookup": True,
        "dht": True,
        "lsd": True,
        "pex": True,
        "upnp": True,
        # mirrors qBittorrent src/base/bittorrent/sessionimpl.cpp (DisableAutoTMMByDefault
        # true, UseCategoryPathsInManualMode false) and src/base/profile_p.cpp (the
        # default save path of --profile=/config is <profile>/qBittorrent/downloads)
        "auto_tmm_enabled": False,
        "use_category_paths_in_manual_mode": False,
        "save_path": "/config/qBittorrent/downloads",
    }
    if string_proxy_type:
        prefs |= {
            "proxy_type": "None",
            "proxy_auth_enabled": False,
            "proxy_bittorrent": True,
            "proxy_rss": True,
            "proxy_misc": True,
        }
    else:
        prefs |= {"proxy_type": 0, "proxy_auth_enabled": False, "proxy_torrents_only": False}
    return prefs


def _pbkdf2_verify(stored: bytes, password: str) -> bool:
    # mirrors qBittorrent src/base/utils/password.cpp PBKDF2::verify: base64 salt and key
    # joined by ":", PBKDF2-HMAC-SHA512, 100 000 iterations
    salt_b64, sep, key_b64 = stored.partition(b":")
    if not sep:
        return False
    try:
        salt = base64.b64decode(salt_b64, validate=True)
        key = base64.b64decode(key_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    candidate = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 100_000, len(key))
    return bool(key) and hmac.compare_digest(candidate, key)


# qBittorrent reads qBittorrent.conf through QSettings' INI format (qBittorrent
# src/base/settingsstorage.cpp); what follows mirrors Qt src/corelib/io/qsettings.cpp.
_ESCAPES = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    '"': '"', "?": "?", "'": "'", "\\": "\\",
}  # fmt: skip


def _conf_key(raw: str) -> str:
    r"""A key or group name as written (iniUnescapedKey).

    ``\`` is ``/``; ``%XX`` and ``%UXXXX`` are characters.
    """

    def char(match: re.Match[str]) -> str:
        return "/" if match[0] == "\\" else chr(int(match[1] or match[2], 16))

    return re.sub(r"\\|%U([0-9A-Fa-f]{4})|%([0-9A-Fa-f]{2})", char, raw)


def _conf_strings(raw: str) -> str | list[str]:
    r"""A value as written (iniUnescapedStringList).

    ``"`` quotes (commas inside are literal), C escapes (``\n``, ``\x41``, octal), an
    unquoted comma makes a string list, spaces around unquoted parts are dropped.
    """
    strings: list[str] = []
    current, quoted, in_quotes, listed, i = "", False, False, False, 0
    raw = raw.lstrip(" \t")
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            code = raw[i + 1]
            i += 2
            if code in _ESCAPES:
                current += _ESCAPES[code]
            elif code == "x" and (digits := re.match(r"[0-9A-Fa-f]+", raw[i:])):
                current += chr(int(digits[0], 16))
                i += len(digits[0])
            elif code in "01234567":
                digits = re.match(r"[0-7]*", raw[i:])
                octal = code + (digits[0] if digits else "")
                current += chr(int(octal, 8))
                i += len(octal) - 1
        elif ch == '"':
            quoted, in_quotes = True, not in_quotes
            i += 1
            if not in_quotes:
                i += len(raw[i:]) - len(raw[i:].lstrip(" \t"))
        elif ch == "," and not in_quotes:
            strings.append(current if quoted else current.rstrip(" \t"))
            current, quoted, listed = "", False, True
            i += 1
            i += len(raw[i:]) - len(raw[i:].lstrip(" \t"))
        else:
            current += ch
            i += 1
    current = current if quoted else current.rstrip(" \t")
    return [*strings, current] if listed else current


def _conf_variant(text: str) -> Any:
    """A stored string as the value it stands for (stringToVariant)."""
    if text.startswith("@ByteArray(") and text.endswith(")"):
        return text[len("@ByteArray(") : -1].encode("latin-1")
    if text == "@Invalid()":
        return None
    return text[1:] if text.startswith("@@") else text


def parse_conf(text: str) -> dict[str, Any]:
    """qBittorrent.conf as qBittorrent reads it: ``"Group/Key"`` -> value.

    ``[General]`` holds the keys without a group; a value is a string, a list of strings,
    bytes (``@ByteArray(...)``) or None (``@Invalid()``).
    """
    values: dict[str, Any] = {}
    group = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in ";#":
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            name = _conf_key(stripped[1:-1].strip())
            group = "" if name.lower() == "general" else f"{name}/"
            continue
        key, sep, raw = line.partition("=")
        if not sep or not key.strip():
            continue
        value = _conf_strings(raw)
        if isinstance(value, list):
            plain = not any(v.startswith("@") and not v.startswith("@@") for v in value)
            value = [v[1:] if plain and v.startswith("@@") else v for v in value]
            values[group + _conf_key(key.strip())] = (
                value if plain else [_conf_variant(v) for v in value]
            )
        else:
            values[group + _conf_key(key.strip())] = _conf_variant(value)
    return values


_INT_PROXY_TYPES = {0: "None", 1: "HTTP", 2: "SOCKS5", 3: "HTTP", 4: "SOCKS5", 5: "SOCKS4"}


class FakeQBittorrent(FakeApp):
    """qbittorrent-nox's WebUI, in memory.

    Args:
        username: the WebUI user name.
        password: the WebUI password.
        version: what ``app/version`` answers (``v4.5.2``: integer ``proxy_type``;
            ``v4.6.0`` and later: string ``proxy_type``).
    """

    def __init__(self, username: str = "admin", password: str = "", version: str = "v4.5.2"):
        super().__init__()
        self.username = username
        self.password = password
        self.version = version
        major, minor = (int(p) for p in version.lstrip("v").split(".")[:2])
        self.string_proxy_type = (major, minor) >= (4, 6)
        self.preferences: dict[str, Any] = _default_preferences(self.string_proxy_type)
        self.categories: dict[str, str] = {}
        self.torrents: dict[str, dict[str, Any]] = {}
        self.sessions: set[str] = set()
        self.failed_logins = 0
        self.failed_logins_total = 0
        self.max_failures = 5
        self.banned = False
        self.refuse_password_change = False
        self.password_changes = 0
        self.password_hash: bytes | None = None
        self.boots = 0

    def boot(self, conf_text: str) -> None:
        """Start as qbittorrent-nox would from ``conf_text``: credentials from the conf.

        Sessions, failed-login counts and bans live in memory and are gone after a start.
        """
        conf = parse_conf(conf_text)
        # mirrors qBittorrent src/base/preferences.cpp (Preferences/WebUI/Username and
        # Preferences/WebUI/Password_PBKDF2, a QByteArray; a plain string reads as UTF-8)
        username = conf.get("Preferences/WebUI/Username")
        self.username = username if isinstance(username, str) else ""
        stored = conf.get("Preferences/WebUI/Password_PBKDF2")
        if isinstance(stored, str):
            stored = stored.encode()
        self.password_hash = stored if isinstance(stored, bytes) else None
        self.password = ""
        self.sessions.clear()
        self.failed_logins = 0
        self.banned = False
        self.boots += 1

    def accepts(self, username: str, password: str) -> bool:
        """Whether these credentials log in now (without counting a failure)."""
        if username != self.username or not password:
            return False
        if self.password_hash is not None:
            return _pbkdf2_verify(self.password_hash, password)
        return password == self.password

    # -- helpers for tests ------------------------------------------------------------

    @property
    def logins(self) -> list[Request]:
        """Every login request received."""
        return [r for r in self.requests if r.path == "/api/v2/auth/login"]

    def changes_state(self, request: Request) -> bool:
        """POSTs change state, except a login (a POST by API design that changes nothing)."""
        return super().changes_state(request) and request.path != "/api/v2/auth/login"

    @property
    def api_writes(self) -> list[Request]:
        """Requests that change the app's state (same as ``writes``: logins excluded)."""
        return self.writes

    # -- the API ----------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request."""
        path = request.path
        if path in ("/", "/index.html"):
            return Response(200, b"<!DOCTYPE html><title>qBittorrent login</title>", {})
        if path == "/api/v2/auth/login":
            return self._login(request)
        if not path.startswith("/api/v2/"):
            return text_response("Not Found", 404)
        if self._session(request) is None:
            return text_response("Forbidden", 403)
        if request.method in ("GET", "HEAD"):
            params: Any = request.query
        elif request.headers.get("Content-Type", "").startswith("multipart/form-data"):
            params = _multipart(request)
        else:
            params = request.form()
        handler = self._routes().get(path)
        if handler is None:
            return text_response("Not Found", 404)
        return handler(params)

    def _routes(self) -> dict[str, Any]:
        return {
            "/api/v2/app/version": lambda _: text_response(self.version),
            "/api/v2/app/webapiVersion": lambda _: text_response("2.8.19"),
            "/api/v2/app/preferences": lambda _: json_response(
                {**self.preferences, "web_ui_username": self.username}
            ),
            "/api/v2/app/setPreferences": self._set_preferences,
            "/api/v2/torrents/categories": lambda _: json_response(
                {n: {"name": n, "savePath": p} for n, p in self.categories.items()}
            ),
            "/api/v2/torrents/createCategory": self._create_category,
            "/api/v2/torrents/editCategory": self._edit_category,
            "/api/v2/torrents/removeCategories": self._remove_categories,
            "/api/v2/torrents/add": self._add_torrents,
            "/api/v2/torrents/info": self._torrents_info,
        }

    def _session(self, request: Request) -> str | None:
        for part in request.headers.get("Cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "SID" and value in self.sessions:
                return value
        return None

    def _login(self, request: Request) -> Response:
        if self._session(request) is not None:
            return text_response("Ok.")
        if self.banned:
            return text_response(
                "Your IP address has been banned after too many failed authentication attempts.",
                403,
            )
        form = request.form() if request.method == "POST" else request.query
        if self.accepts(form.get("username", ""), form.get("password", "")):
            self.failed_logins = 0
            sid = secrets.token_urlsafe(24)
            self.sessions.add(sid)
            return Response(
                200,
                b"Ok.",
                {"content-type": "text/plain", "set-cookie": f"SID={sid}; HttpOnly; path=/"},
            )
        self.failed_logins += 1
        self.failed_logins_total += 1
        if self.failed_logins >= self.max_failures:
            self.banned = True
        return text_response("Fails.")

    def _set_preferences(self, params: dict[str, str]) -> Response:
        try:
            changes = json.loads(params.get("json", ""))
        except ValueError:
            return text_response("Bad Request", 400)
        if not isinstance(changes, dict):
            return text_response("Bad Request", 400)
        for key, value in changes.items():
            if key == "web_ui_password":
                if not self.refuse_password_change:
                    self.password = str(value)
                    self.password_hash = None
                    self.password_changes += 1
            elif key == "web_ui_username":
                self.username = str(value)
            elif key == "proxy_type":
                self.preferences[key] = self._proxy_type(value)
            else:
                self.preferences[key] = value
        if self.string_proxy_type is False and "proxy_type" in changes:
            self.preferences["proxy_auth_enabled"] = self.preferences["proxy_type"] in (3, 4)
        return text_response("")

    def _proxy_type(self, value: Any) -> Any:
        if self.string_proxy_type:
            return value if value in ("None", "HTTP", "SOCKS5", "SOCKS4") else "None"
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                value = int(str(value))
            except ValueError:
                value = 0
        return value if value in _INT_PROXY_TYPES else 0

    def _create_category(self, params: dict[str, str]) -> Response:
        name = params.get("category", "")
        if not name:
            return text_response("Category name cannot be empty", 400)
        if name in self.categories:
            return text_response("Unable to create category", 409)
        self.categories[name] = params.get("savePath", "")
        return text_response("")

    def _edit_category(self, params: dict[str, str]) -> Response:
        name = params.get("category", "")
        if name not in self.categories:
            return text_response("Unable to edit category", 409)
        self.categories[name] = params.get("savePath", "")
        return text_response("")

    def _remove_categories(self, params: dict[str, str]) -> Response:
        for name in params.get("categories", "").split("\n"):
            self.categories.pop(name.strip(), None)
        return text_response("")

    def _add_torrents(self, params: dict[str, Any]) -> Response:
        files: list[bytes] = params.get("torrents", [])
        if not files:
            return text_response("Fails.", 415)
        for torrent in files:
            info_hash = _info_hash(torrent)
            if info_hash is None:
                return text_response("Fails.", 415)
            self.torrents[info_hash] = {
                "hash": info_hash,
                "category": params.get("category", ""),
                "save_path": self._save_path(params),
                "auto_tmm": self._auto_tmm(params),
            }
        return text_response("Ok.")

    def _torrents_info(self, params: dict[str, str]) -> Response:
        wanted = [h for h in params.get("hashes", "").split("|") if h]
        listed = [t for h, t in self.torrents.items() if not wanted or h in wanted]
        return json_response(listed)

    def _auto_tmm(self, params: dict[str, Any]) -> bool:
        # mirrors qBittorrent src/base/bittorrent/sessionimpl.cpp initLoadTorrentParams:
        # autoTMM as sent, else only without a save path and with auto TMM by default
        sent = str(params.get("autoTMM", "")).lower()
        if sent in ("true", "false"):
            return sent == "true"
        return not params.get("savepath") and bool(self.preferences["auto_tmm_enabled"])

    def _save_path(self, params: dict[str, Any]) -> str:
        # mirrors qBittorrent src/base/bittorrent/sessionimpl.cpp initLoadTorrentParams,
        # suggestedSavePath and categorySavePath (an empty category path is
        # <default save path>/<category>)
        default = str(self.preferences["save_path"]).rstrip("/")
        category = str(params.get("category", ""))
        if category and category not in self.categories:
            self.categories[category] = ""
        category_path = (self.categories.get(category) or f"{default}/{category}").rstrip("/")
        if not category:
            category_path = default
        if self._auto_tmm(params):
            return category_path
        savepath = str(params.get("savepath", "")).rstrip("/")
        if savepath.startswith("/"):
            return savepath
        use_category = bool(self.preferences["use_category_paths_in_manual_mode"])
        base = category_path if use_category else default
        return f"{base}/{savepath}" if savepath else base


def _multipart(request: Request) -> dict[str, Any]:
    """A multipart form: text fields as str, ``torrents`` files as a list of bytes."""
    head = f"Content-Type: {request.headers.get('Content-Type', '')}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        head + (request.body or b"")
    )
    fields: dict[str, Any] = {"torrents": []}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if name == "torrents":
            fields["torrents"].append(data)
        elif isinstance(name, str):
            fields[name] = data.decode()
    return fields


def _info_hash(torrent: bytes) -> str | None:
    """The v1 info-hash: SHA-1 of the bencoded ``info`` dictionary, as it is in the file."""
    start = torrent.find(b"4:infod")
    if start < 0:
        return None
    start += len(b"4:info")
    end = _bencoded_end(torrent, start)
    if end is None:
        return None
    return hashlib.sha1(torrent[start:end]).hexdigest()  # noqa: S324 - BEP 3's hash


def _bencoded_end(data: bytes, i: int) -> int | None:
    """Where the bencoded value starting at ``i`` ends (None: malformed)."""
    try:
        kind = data[i : i + 1]
        if kind == b"i":
            return data.index(b"e", i) + 1
        if kind in (b"l", b"d"):
            i += 1
            while data[i : i + 1] != b"e":
                end = _bencoded_end(data, i)
                if end is None:
                    return None
                i = end
            return i + 1
        colon = data.index(b":", i)
        return colon + 1 + int(data[i:colon])
    except (ValueError, IndexError):
        return None
