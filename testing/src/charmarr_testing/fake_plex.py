"""Fakes of Plex Media Server's ``/identity`` and of plex.tv's claim exchange.

:class:`FakePlexServer` serves ``GET /identity`` (anonymous) and ``GET /library/sections``
(with the server's token) at ``localhost:32400``. A new server has no library, as a real
one has until its owner creates one (``add_library``). It is
claimed when its ``Preferences.xml`` holds a ``PlexOnlineToken``: give it the host path of
that file (the source of the container's ``/config`` mount) and it reads the file on every
request, as the real server reads its settings; or set ``claimed`` by hand.

:class:`FakePlexTv` serves ``POST /api/claim/exchange?token=<claim>`` at ``plex.tv:443``.
It accepts a claim token it issued, once, within its validity (about 4 minutes, like the
real one), and answers with the server token as plex.tv does (an XML ``<user>`` with
``<authentication-token>``). Expired, used or unknown tokens get HTTP 404.
"""

from __future__ import annotations

import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from charmarr_common.http import Request, Response

from .apps import FakeApp, text_response

PLEX_ADDRESS = "localhost:32400"
PLEX_TV_ADDRESS = "plex.tv:443"
CLAIM_VALIDITY = 240.0
"""Seconds a claim token from https://plex.tv/claim stays valid (about 4 minutes)."""

DEFAULT_MACHINE_ID = "0f6cd3a5b59e4b1fa4b1b8a1c0b4b3f2d7e8a9c1"


def xml_response(body: str, status: int = 200) -> Response:
    """An XML response."""
    return Response(status, body.encode(), {"content-type": "application/xml"})


class FakePlexServer(FakeApp):
    """Plex Media Server's anonymous ``/identity``.

    Args:
        preferences: host path of the server's ``Preferences.xml``; when given, ``claimed``
            and the machine identifier come from it on every request.
        claimed: used when ``preferences`` is None.
        machine_identifier: used when the file has no ``ProcessedMachineIdentifier``.
        version: the server version it reports.
        token: the token ``/library/sections`` accepts when ``preferences`` is None.
    """

    def __init__(
        self,
        preferences: Path | None = None,
        *,
        claimed: bool = False,
        machine_identifier: str = DEFAULT_MACHINE_ID,
        version: str = "1.43.0.10492-121068a07",
        token: str | None = None,
    ) -> None:
        super().__init__()
        self.preferences = preferences
        self.claimed = claimed
        self.token = token
        self.libraries: list[tuple[str, str]] = []
        """``(type, title)`` of each library: type ``movie`` or ``show``."""
        self.machine_identifier = machine_identifier
        self.version = version

    def _settings(self) -> dict[str, str]:
        if self.preferences is None or not self.preferences.exists():
            return {}
        try:
            return dict(ET.fromstring(self.preferences.read_text()).attrib)  # noqa: S314
        except ET.ParseError:
            return {}

    @property
    def is_claimed(self) -> bool:
        """Whether ``/identity`` says ``claimed="1"`` now."""
        if self.preferences is not None:
            return bool(self._settings().get("PlexOnlineToken"))
        return self.claimed

    def add_library(self, kind: str, title: str) -> None:
        """The owner creates a library (``movie`` or ``show``) in the web app."""
        self.libraries.append((kind, title))

    @property
    def server_token(self) -> str | None:
        """The token the server accepts (``PlexOnlineToken`` once claimed)."""
        if self.preferences is not None:
            return self._settings().get("PlexOnlineToken") or None
        return self.token

    def _sections(self, request: Request) -> Response:
        token = request.headers.get("X-Plex-Token") or request.query.get("X-Plex-Token")
        if not token or token != self.server_token:
            return text_response("Unauthorized", 401)
        rows = "".join(
            f'  <Directory key="{n}" type={quoteattr(kind)} title={quoteattr(title)}/>\n'
            for n, (kind, title) in enumerate(self.libraries, start=1)
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<MediaContainer size="{len(self.libraries)}">\n{rows}</MediaContainer>\n'
        )
        return xml_response(body)

    def handle(self, request: Request) -> Response:
        """Answer ``GET /identity`` and ``GET /library/sections``; anything else is 404."""
        if request.method == "GET" and request.path == "/library/sections":
            return self._sections(request)
        if request.method == "GET" and request.path == "/identity":
            machine = self._settings().get("ProcessedMachineIdentifier") or self.machine_identifier
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<MediaContainer size="0" apiVersion="1.1.1" '
                f'claimed="{1 if self.is_claimed else 0}" '
                f"machineIdentifier={quoteattr(machine)} version={quoteattr(self.version)}>\n"
                "</MediaContainer>\n"
            )
            return xml_response(body)
        return text_response("Not Found", 404)


@dataclass
class ClaimToken:
    """A claim token plex.tv issued."""

    value: str
    expires_at: float
    used: bool = False


class FakePlexTv(FakeApp):
    """plex.tv's claim exchange.

    Args:
        server_token: the token handed to the server a claim succeeds for (random if None).
        clock: seconds, monotonic; tests move it to let a claim token expire.
    """

    def __init__(
        self, server_token: str | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.server_token = server_token or secrets.token_hex(10)
        self.clock = clock
        self.tokens: dict[str, ClaimToken] = {}
        self.claimed_by: list[str] = []
        """The ``X-Plex-Client-Identifier`` of every successful claim."""

    def issue_claim_token(self, validity: float = CLAIM_VALIDITY) -> str:
        """A fresh claim token, as https://plex.tv/claim gives one."""
        value = f"claim-{secrets.token_hex(10)}"
        self.tokens[value] = ClaimToken(value, self.clock() + validity)
        return value

    def expire(self, value: str) -> None:
        """Let the claim token ``value`` run out."""
        self.tokens[value].expires_at = self.clock() - 1

    @property
    def exchanges(self) -> list[Request]:
        """Every claim exchange that reached plex.tv."""
        return [r for r in self.requests if r.path == "/api/claim/exchange"]

    def handle(self, request: Request) -> Response:
        """Answer ``POST /api/claim/exchange?token=...``."""
        if request.path != "/api/claim/exchange":
            return text_response("Not Found", 404)
        if request.method != "POST":
            return text_response("Method Not Allowed", 405)
        client = request.headers.get("X-Plex-Client-Identifier", "")
        if not client or request.headers.get("X-Plex-Provides") != "server":
            return xml_response(
                "<errors><error>X-Plex-Client-Identifier is missing</error></errors>", 400
            )
        claim = self.tokens.get(request.query.get("token", ""))
        if claim is None or claim.used or self.clock() > claim.expires_at:
            return xml_response("<errors><error>Code not found or expired</error></errors>", 404)
        claim.used = True
        self.claimed_by.append(client)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<user id="1234567" uuid="a1b2c3d4e5f60718" username="charmarr" '
            f"authenticationToken={quoteattr(self.server_token)}>\n"
            f"  <authentication-token>{self.server_token}</authentication-token>\n"
            "</user>\n"
        )
        return xml_response(body, 201)
