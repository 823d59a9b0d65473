"""An in-process fake of Gluetun's HTTP control server.

Like the real server it reads its role-based API keys from the auth TOML the charm
pushed (``HTTP_CONTROL_SERVER_AUTH_CONFIG_FILEPATH``), each time a request arrives, and
lets a key reach only the routes ("METHOD /path") its role lists. It answers
``GET /v1/vpn/status`` and ``GET /v1/publicip/ip``; ``connected`` switches the tunnel.

Without an auth file it behaves like Gluetun without one: every route is public.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..http import Request, Response
from .fakes import FakeApp, json_response, text_response

ADDRESS = "localhost:8000"
"""Where the charm reaches its own control server inside the pod."""

_TABLE = re.compile(r"^\s*\[\[\s*roles\s*\]\]\s*$")
_STRING = re.compile(r'^\s*(name|auth|apikey)\s*=\s*"([^"]*)"\s*$')
_ROUTES = re.compile(r"^\s*routes\s*=\s*\[(.*)\]\s*$")


def parse_roles(text: str) -> list[dict[str, object]]:
    """The ``[[roles]]`` of a Gluetun auth TOML.

    A real TOML parser (Python 3.11+) where there is one, so that a file the charm renders
    badly fails here as it would in Gluetun; otherwise the subset Gluetun's docs use.
    """
    import importlib

    try:
        tomllib = importlib.import_module("tomllib")
    except ImportError:  # pragma: no cover - Python 3.10
        tomllib = None
    if tomllib is not None:
        roles_data = tomllib.loads(text).get("roles", [])
        return [dict(r) for r in roles_data if isinstance(r, dict)]
    roles: list[dict[str, object]] = []
    for line in text.splitlines():
        if _TABLE.match(line):
            roles.append({})
        elif roles and (match := _STRING.match(line)):
            roles[-1][match.group(1)] = match.group(2)
        elif roles and (match := _ROUTES.match(line)):
            roles[-1]["routes"] = re.findall(r'"([^"]*)"', match.group(1))
    return roles


class FakeGluetun(FakeApp):
    """Gluetun's control server.

    Args:
        auth_file: the host path where the charm's auth TOML lands (a ``testing.Mount``
            source), read on every request as Gluetun reads it at start.
        public_ip: what ``/v1/publicip/ip`` reports while connected.
        connected: whether the tunnel is up (``status`` ``running`` or ``stopped``).
    """

    def __init__(
        self,
        auth_file: Path | None = None,
        *,
        public_ip: str = "203.0.113.7",
        connected: bool = True,
    ) -> None:
        super().__init__()
        self.auth_file = auth_file
        self.public_ip = public_ip
        self.connected = connected

    def roles(self) -> list[dict[str, object]]:
        """The roles in the auth file now (empty if there is none)."""
        if self.auth_file is None or not self.auth_file.exists():
            return []
        return parse_roles(self.auth_file.read_text())

    def role_of(self, key: str) -> dict[str, object] | None:
        """The role an API key belongs to."""
        for role in self.roles():
            if role.get("auth") == "apikey" and key and role.get("apikey") == key:
                return role
        return None

    def allowed(self, request: Request) -> bool:
        """Whether the request's API key (header or ``api_key`` query) may use its route."""
        roles = self.roles()
        if not roles:
            return True
        route = f"{request.method} {request.path}"
        key = {k.lower(): v for k, v in request.headers.items()}.get("x-api-key", "")
        key = key or request.query.get("api_key", "")
        for role in roles:
            routes = role.get("routes")
            if not isinstance(routes, list) or route not in routes:
                continue
            if role.get("auth") == "none":
                return True
            if role.get("auth") == "apikey" and key and role.get("apikey") == key:
                return True
        return False

    def handle(self, request: Request) -> Response:
        """Answer the two read routes Charmarr uses, honouring the roles."""
        if not self.allowed(request):
            return text_response("Unauthorized", 401)
        route = f"{request.method} {request.path}"
        if route == "GET /v1/vpn/status":
            return json_response({"status": "running" if self.connected else "stopped"})
        if route == "GET /v1/publicip/ip":
            return json_response({"public_ip": self.public_ip if self.connected else ""})
        return text_response("Not Found", 404)
