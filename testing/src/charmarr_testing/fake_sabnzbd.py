"""A stateful in-process fake of SABnzbd's ``/api`` (JSON output), for charm unit tests.

It keeps what the sabnzbd charm relies on: ``mode=version`` answers anyone; every other
mode checks ``apikey`` and answers a wrong or missing key the way SABnzbd 3.7 and 4.5 do (HTTP 403,
``API Key Incorrect`` / ``API Key Required``), or, with ``refusal="body"``, with HTTP 200 and
an ``error:`` body as other releases and proxies do; ``mode=config&name=set_apikey`` makes a
new key, invalidates the old one and returns it; ``get_config`` / ``set_config`` /
``del_config`` work on categories (the built-in ``*`` included) and on ``[misc]`` settings;
``pause`` / ``resume`` flip ``paused``. Categories start as SABnzbd 3.7 and 4.x start: none
at all (``get_config`` answers ``{}``) until the first full read (``get_config`` of the
section once it exists, ``get_config`` of everything, ``get_cats``) adds ``*`` and the
suggestions movies, tv, audio and software, replacing same-named categories made before.
Host headers outside ``host_whitelist`` are refused like SABnzbd does (``localhost``, IPs
and ``*.local`` always pass).

``down_requests`` makes the next N requests fail as if nothing listened; when the fake comes
back it re-reads its key from ``ini_path`` if one is set (as SABnzbd does on a restart).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from charmarr_common.http import Request, Response

from .apps import FakeApp, json_response, text_response

INCORRECT = "API Key Incorrect"
REQUIRED = "API Key Required"
HOST_REFUSED = "Access denied - Hostname verification failed: https://sabnzbd.org/hostname-check"


IniValue = str | list[str]
IniSection = dict[str, "IniValue | IniSection"]

_SECTION_LINE = re.compile(r"^(\[+)\s*(.*?)\s*(\]+)\s*(?:#.*)?$")
_KEY_LINE = re.compile(r"""^("[^"]*"|'[^']*'|[^"'=][^=]*?)\s*=\s*(.*)$""")


def _ini_items(raw: str, where: str) -> IniValue:
    """One ConfigObj value (``list_values`` on): a string, or a list.

    A comma outside quotes makes a list; an item is quoted with ``"`` or ``'``, or bare
    (no comma, ``#`` or quote); a string may be triple-quoted; ``#`` outside quotes starts
    a comment; a list may end with a comma, and a lone comma is the empty list.
    """
    if re.fullmatch(r"\s*,\s*(#.*)?", raw):
        return []
    triple = re.fullmatch(r"\s*(\"\"\"|\'\'\')(.*?)\1\s*(#.*)?", raw)
    if triple:  # a triple-quoted string (one line here), never a list item
        return triple.group(2)
    items: list[tuple[str, bool]] = []
    i = 0
    while True:
        i += len(raw[i:]) - len(raw[i:].lstrip(" \t"))
        if raw[i : i + 1] in ('"', "'"):
            end = raw.find(raw[i], i + 1)
            if end < 0:
                raise ValueError(f"sabnzbd.ini {where}: unterminated quote")
            items.append((raw[i + 1 : end], True))
            i = end + 1
        else:
            bare = re.match(r"[^,#]*", raw[i:]).group(0)  # type: ignore[union-attr]
            if '"' in bare or "'" in bare:
                raise ValueError(f"sabnzbd.ini {where}: a quote inside a bare value")
            items.append((bare.rstrip(), False))
            i += len(bare)
        i += len(raw[i:]) - len(raw[i:].lstrip(" \t"))
        if i >= len(raw) or raw[i] == "#":
            break
        if raw[i] != ",":
            raise ValueError(f"sabnzbd.ini {where}: text after a quoted value")
        i += 1
    if len(items) == 1:
        return items[0][0]
    if any(not text and not quoted for text, quoted in items[:-1]):
        raise ValueError(f"sabnzbd.ini {where}: an empty list item")
    last, quoted = items[-1]
    return [text for text, _ in items[:-1]] + ([last] if last or quoted else [])


def parse_ini(text: str) -> IniSection:
    """sabnzbd.ini as SABnzbd reads it (ConfigObj): nested sections, strings and lists.

    ``[name]`` opens a section, ``[[name]]`` a subsection of the last ``[name]`` (servers,
    categories and rss entries); a line is ``key = value``; ``#`` starts a comment. A
    file ConfigObj refuses raises ValueError, as SABnzbd then refuses to start.
    """
    # mirrors SABnzbd sabnzbd/config.py read_config (configobj.ConfigObj, list_values on)
    root: IniSection = {}
    path: list[IniSection] = [root]
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            header = _SECTION_LINE.match(stripped)
            depth = len(header.group(1)) if header else 0
            if header is None or depth != len(header.group(3)) or depth > len(path):
                raise ValueError(f"sabnzbd.ini line {number}: bad section marker")
            name = header.group(2).strip("\"'")
            section: IniSection = {}
            path[depth - 1][name] = section
            del path[depth:]
            path.append(section)
            continue
        match = _KEY_LINE.match(stripped)
        if match is None:
            raise ValueError(f"sabnzbd.ini line {number}: neither a section nor key = value")
        key = match.group(1).strip("\"'")
        path[-1][key] = _ini_items(match.group(2), f"line {number}")
    return root


def _misc_text(value: object) -> str:
    """A [misc] value as SABnzbd's API shows it (a list option joined with ``, ``)."""
    # mirrors SABnzbd sabnzbd/config.py OptionList.get_string
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value if isinstance(value, str) else ""


class FakeSabnzbd(FakeApp):
    """SABnzbd's API with state: key, categories, misc settings, paused."""

    def __init__(
        self,
        api_key: str = "0123456789abcdef0123456789abcdef",
        *,
        version: str = "4.5.1",
        refusal: Literal["403", "body"] = "403",
        ini_path: Path | None = None,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.version = version
        self.refusal = refusal
        self.ini_path = ini_path
        self.categories: dict[str, dict[str, object]] = {}
        self.categories_section = False
        """Whether sabnzbd.ini has a ``[categories]`` section yet."""
        self.misc: dict[str, str] = {"socks5_proxy_url": "", "host_whitelist": ""}
        self.paused = False
        self.down_requests = 0
        self.retired_keys: list[str] = []

    @staticmethod
    def _category(name: str, folder: str) -> dict[str, object]:
        return {
            "name": name,
            "order": 0,
            "pp": "3" if name == "*" else "",
            "script": "None" if name == "*" else "Default",
            "dir": folder,
            "newzbin": "",
            "priority": 0 if name == "*" else -100,
        }

    def add_user_category(self, name: str, folder: str) -> None:
        """A category the user made by hand in the web UI (which lists them first)."""
        self._get_categories()
        self.categories[name] = self._category(name, folder)

    def _get_categories(self) -> dict[str, dict[str, object]]:
        # mirrors SABnzbd sabnzbd/config.py get_categories: without "*", add it and the
        # suggestions (no folder), replacing same-named categories
        self.categories_section = True
        if "*" not in self.categories:
            suggestions = ("*", "movies", "tv", "audio", "software")
            for order, name in enumerate(suggestions):
                self.categories[name] = self._category(name, "") | {"order": order}
        return self.categories

    def changes_state(self, request: Request) -> bool:
        """SABnzbd's API writes with GET: judge by ``mode`` (and ``name`` for ``config``)."""
        writing = {"set_config", "del_config", "set_config_default", "pause", "resume"}
        mode = request.query.get("mode")
        return mode in writing or (mode == "config" and request.query.get("name") == "set_apikey")

    @property
    def api_writes(self) -> list[Request]:
        """Requests that changed (or tried to change) SABnzbd's state."""
        return self.writes

    def __call__(self, request: Request) -> Response:
        """Answer, or fail like a closed port while ``down_requests`` lasts."""
        if self.down_requests > 0:
            self.requests.append(request)
            self.down_requests -= 1
            if self.down_requests == 0:
                self._reload()
            raise ConnectionRefusedError("fake sabnzbd: not listening")
        return super().__call__(request)

    def _reload(self) -> None:
        if self.ini_path is not None and self.ini_path.exists():
            self.boot(self.ini_path.read_text())

    def boot(self, text: str | None = None) -> None:
        """Start as SABnzbd does: take the key, proxy and whitelist from sabnzbd.ini.

        ``text`` defaults to the file at ``ini_path``; without either nothing changes.
        """
        if text is None:
            if self.ini_path is None or not self.ini_path.exists():
                return
            text = self.ini_path.read_text()
        misc = parse_ini(text).get("misc", {})
        misc = misc if isinstance(misc, dict) else {}
        if _misc_text(misc.get("api_key")):
            self.api_key = _misc_text(misc["api_key"])
        self.misc["socks5_proxy_url"] = _misc_text(misc.get("socks5_proxy_url", ""))
        self.misc["host_whitelist"] = _misc_text(misc.get("host_whitelist", ""))
        # mirrors sabnzbd/cfg.py url_base (4.5: default "", a leading "/", no trailing one)
        base = _misc_text(misc.get("url_base", "")).strip().rstrip("/")
        self.misc["url_base"] = base if not base or base.startswith("/") else "/" + base

    def _refuse(self, message: str) -> Response:
        if self.refusal == "body":
            return text_response(f"error: {message}\n")
        return Response(403, message.encode(), {"content-type": "text/html;charset=utf-8"})

    def _host_ok(self, request: Request) -> bool:
        host = request.headers.get("Host")
        if host is None:
            return True
        host = re.sub(r":[0-9]+$", "", host).lower()
        if host == "localhost" or re.fullmatch(r"[0-9.]+", host) or host.endswith(".local"):
            return True
        allowed = [h.strip() for h in self.misc.get("host_whitelist", "").split(",")]
        return host in allowed

    def handle(self, request: Request) -> Response:
        """Answer one ``/api`` request, or the web UI's page."""
        path = request.path.rstrip("/")
        base = self.misc.get("url_base", "")
        # mirrors SABnzbd.py: the app is mounted at "/" and at url_base (cherrypy.tree.mount)
        if base and (path == base or path.startswith(base + "/")):
            path = path[len(base) :]
        if path not in ("", "/api"):
            return text_response("Not Found", 404)
        # mirrors sabnzbd/interface.py check_hostname: every page, the API included
        if not self._host_ok(request):
            return Response(403, HOST_REFUSED.encode(), {})
        if path == "":
            return text_response("<html><title>SABnzbd</title></html>")
        q = request.query
        mode = q.get("mode", "")
        if mode == "version":
            return json_response({"version": self.version})
        key = q.get("apikey")
        if not key:
            return self._refuse(REQUIRED)
        if key != self.api_key:
            return self._refuse(INCORRECT)
        handler = getattr(self, f"_mode_{mode}", None)
        if handler is None:
            return json_response({"status": False, "error": "not implemented"})
        return handler(q)

    def _mode_config(self, q: dict[str, str]) -> Response:
        if q.get("name") != "set_apikey":
            return json_response({"status": False, "error": "not implemented"})
        import secrets

        self.retired_keys.append(self.api_key)
        self.api_key = secrets.token_hex(16)
        self._save_key()
        return json_response({"apikey": self.api_key})

    def _save_key(self) -> None:
        """Write the new key into sabnzbd.ini, as SABnzbd saves its config at once."""
        if self.ini_path is None or not self.ini_path.exists():
            return
        text = self.ini_path.read_text()
        new = re.sub(
            r"(?m)^(\s*api_key\s*=\s*).*$", lambda m: m.group(1) + self.api_key, text, count=1
        )
        self.ini_path.write_text(new)

    def _mode_get_config(self, q: dict[str, str]) -> Response:
        section, keyword = q.get("section"), q.get("keyword")
        if section == "categories":
            # mirrors SABnzbd sabnzbd/config.py get_dconfig: no section, no answer; a full
            # read goes through get_ordered_categories (get_categories); one keyword not
            if not self.categories_section:
                return json_response({"config": {}})
            if keyword:
                found = [c for n, c in self.categories.items() if n == keyword]
                return json_response({"config": {"categories": found} if found else {}})
            cats = list(self._get_categories().values())
            return json_response({"config": {"categories": cats}})
        if not section and self.categories_section:
            self._get_categories()  # get_dconfig reads every section
        if section == "misc":
            if keyword:
                if keyword not in self.misc:
                    return json_response({"config": {}})
                return json_response({"config": {"misc": {keyword: self.misc[keyword]}}})
            return json_response({"config": {"misc": dict(self.misc)}})
        return json_response({"config": {}})

    def _mode_set_config(self, q: dict[str, str]) -> Response:
        section, keyword = q.get("section"), (q.get("keyword") or q.get("name") or "")
        if section == "categories" and keyword:
            name = keyword.lower()
            self.categories_section = True
            entry = self.categories.setdefault(name, self._category(name, ""))
            for field in ("order", "pp", "script", "dir", "priority"):
                if field in q:
                    entry[field] = q[field]
            return json_response({"config": {"categories": [entry]}})
        if section == "misc" and keyword in self.misc:
            self.misc[keyword] = q.get("value", self.misc[keyword])
            return json_response({"config": {"misc": {keyword: self.misc[keyword]}}})
        return json_response({"status": False, "error": "Config item does not exist"})

    def _mode_del_config(self, q: dict[str, str]) -> Response:
        if q.get("section") not in ("categories", "servers", "rss"):
            return json_response({"status": False, "error": "not implemented"})
        self.categories.pop(q.get("keyword") or "", None)
        return json_response({"status": True})

    def _mode_get_cats(self, q: dict[str, str]) -> Response:
        # mirrors SABnzbd sabnzbd/api.py _api_get_cats -> list_cats -> get_categories
        return json_response({"categories": list(self._get_categories())})

    def _mode_pause(self, q: dict[str, str]) -> Response:
        self.paused = True
        return json_response({"status": True})

    def _mode_resume(self, q: dict[str, str]) -> Response:
        self.paused = False
        return json_response({"status": True})
