r"""A client for qBittorrent's WebUI API v2 (the part the charm needs).

Facts checked against qbittorrent-nox 4.5.2 and 5.1.0 and upstream's source:

- Every endpoint but ``auth/login`` needs a session: ``app/version`` without the session
  cookie answers 403. ``auth/login`` answers 200 ``Ok.`` and sets the cookie (``SID`` in
  4.x and 5.1, ``src/webui/webapplication.cpp``; ``QBT_SID_<port>`` only from 5.2; the
  client keeps whichever it gets); wrong credentials answer 200 ``Fails.`` (4.x and 5.x;
  a 401 is read the same way); a banned client gets 403.
- A login sent *with* a valid session cookie answers ``Ok.`` without checking the
  credentials, so confirming a password always uses a fresh client.
- After ``WebUI\MaxAuthenticationFailCount`` (default 5) failed logins the client IP is
  banned for ``WebUI\BanDuration`` (default one hour). A successful login resets the
  count, so the charm tries at most one login per client per hook and, when it must
  check that a password is refused, does so right before a login that succeeds.
- ``app/setPreferences`` takes a form field ``json``; ``web_ui_password`` changes the
  password at once (existing sessions stay valid) and qBittorrent writes the new hash to
  its conf itself.
- Categories: ``torrents/categories`` (``{name: {name, savePath}}``),
  ``torrents/createCategory`` (409 if it exists), ``torrents/editCategory``,
  ``torrents/removeCategories`` (names separated by newlines).
"""

from __future__ import annotations

import json
import re
from typing import Any

from charmarr_common.errors import CharmarrError, WaitingError
from charmarr_common.http import HttpClient, WorkloadHttpError, WorkloadUnreachableError
from charmarr_common.workload import poll

__all__ = [
    "BannedError",
    "LoginRejectedError",
    "QBittorrentClient",
    "WorkloadHttpError",
    "WorkloadUnreachableError",
    "change_password",
    "confirm_password",
    "login_page_answers",
    "parse_version",
    "wait_until_answering",
]

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


class LoginRejectedError(CharmarrError):
    """qBittorrent refused the credentials."""


class BannedError(WaitingError):
    """qBittorrent banned this client after too many failed logins (it lifts by itself)."""


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``"v4.5.2"`` -> ``(4, 5, 2)``; None if it is not a version."""
    match = _VERSION.match(text.strip())
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3] or 0)


class QBittorrentClient:
    """One WebUI session.

    Args:
        base_url: e.g. ``http://localhost:8080``.
        timeout: seconds per request.
    """

    def __init__(self, base_url: str, *, timeout: float = 5.0):
        self._http = HttpClient(base_url, name="qbittorrent", timeout=timeout)

    @property
    def http(self) -> HttpClient:
        """The logged-in session (for tests that drive endpoints the charm does not use)."""
        return self._http

    @property
    def base_url(self) -> str:
        """The WebUI's base URL."""
        return self._http.base_url

    def try_login(self, username: str, password: str) -> bool:
        """Log in: True if accepted, False if refused.

        Raises:
            BannedError: this client is banned (403).
            WorkloadUnreachableError, WorkloadHttpError: no usable answer.
        """
        response = self._http.request(
            "POST",
            "/api/v2/auth/login",
            form={"username": username, "password": password},
            expect=(200, 204, 401, 403),
        )
        body = response.text.strip()
        if response.status == 403:
            raise BannedError(
                "qbittorrent banned the charm after failed logins; it lifts by itself "
                "(WebUI ban duration, default one hour)"
            )
        if response.status == 401 or body == "Fails.":
            return False
        if body == "Ok." or (response.status in (200, 204) and self._http.cookies):
            return True
        raise WorkloadHttpError("qbittorrent answered the login with something unexpected")

    def login(self, username: str, password: str) -> None:
        """Log in or raise :class:`LoginRejectedError`."""
        if not self.try_login(username, password):
            raise LoginRejectedError(
                "qbittorrent refused the charm's credentials; "
                "juju run qbittorrent/leader rotate-credentials re-applies them"
            )

    def version(self) -> tuple[int, int, int]:
        """The app's version, from ``app/version`` (e.g. ``v4.5.2``)."""
        text = self._http.request("GET", "/api/v2/app/version").text
        version = parse_version(text)
        if version is None:
            raise WorkloadHttpError("qbittorrent answered app/version with no version")
        return version

    def preferences(self) -> dict[str, Any]:
        """All preferences (``app/preferences``)."""
        value = self._http.get_json("/api/v2/app/preferences")
        if not isinstance(value, dict):
            raise WorkloadHttpError("qbittorrent answered app/preferences with no object")
        return value

    def set_preferences(self, changes: dict[str, Any]) -> None:
        """Change some preferences (``app/setPreferences``)."""
        self._http.request(
            "POST", "/api/v2/app/setPreferences", form={"json": json.dumps(changes)}
        )

    def categories(self) -> dict[str, str]:
        """Category name -> save path."""
        value = self._http.get_json("/api/v2/torrents/categories")
        if not isinstance(value, dict):
            raise WorkloadHttpError("qbittorrent answered torrents/categories with no object")
        result: dict[str, str] = {}
        for name, entry in value.items():
            path = entry.get("savePath", "") if isinstance(entry, dict) else ""
            result[str(name)] = str(path or "")
        return result

    def create_category(self, name: str, save_path: str) -> None:
        """Create a category."""
        self._http.request(
            "POST",
            "/api/v2/torrents/createCategory",
            form={"category": name, "savePath": save_path},
        )

    def remove_categories(self, names: list[str]) -> None:
        """Remove categories (their torrents keep their files and lose the category)."""
        self._http.request(
            "POST", "/api/v2/torrents/removeCategories", form={"categories": "\n".join(names)}
        )


def change_password(base_url: str, username: str, old: str, new: str) -> None:
    """Log in with ``old`` and set ``new`` through ``app/setPreferences`` (no restart).

    Raises:
        LoginRejectedError: ``old`` is not the current password.
        BannedError, WorkloadUnreachableError, WorkloadHttpError.
    """
    client = QBittorrentClient(base_url)
    client.login(username, old)
    client.set_preferences({"web_ui_password": new})


def confirm_password(base_url: str, username: str, old: str, new: str) -> None:
    """Check that ``new`` logs in and ``old`` does not, each with a fresh session.

    ``new`` first: a successful login resets qBittorrent's failed-login count, so the one
    expected failure (``old``) is the only one outstanding and the next login clears it;
    if ``new`` fails, ``old`` is not tried. A rotation never costs more than one failed
    login, far from the ban (5 by default).

    Raises:
        CharmarrError: qBittorrent refuses ``new`` or still accepts ``old``.
    """
    if not QBittorrentClient(base_url).try_login(username, new):
        raise CharmarrError("qbittorrent did not accept the new password; old one kept")
    if QBittorrentClient(base_url).try_login(username, old):
        raise CharmarrError("qbittorrent still accepts the old password; rotation undone")


def login_page_answers(base_url: str) -> bool:
    """Whether the anonymous WebUI login page is served (the daemon is up and is qBittorrent)."""
    try:
        page = HttpClient(base_url, name="qbittorrent", timeout=2.0).request("GET", "/")
    except (WorkloadUnreachableError, WorkloadHttpError):
        return False
    return b"qbittorrent" in page.body.lower()


def wait_until_answering(base_url: str, timeout: float) -> bool:
    """Poll the anonymous login page until it answers (bounded: ``timeout`` seconds)."""
    probe = HttpClient(base_url, name="qbittorrent", timeout=2.0)

    def answers() -> bool | None:
        try:
            probe.request("GET", "/")
        except (WorkloadUnreachableError, WorkloadHttpError):
            return None
        return True

    return bool(poll(answers, attempts=int(timeout * 4) + 1, delay=0.25))
