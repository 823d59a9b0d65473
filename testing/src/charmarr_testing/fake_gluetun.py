"""An in-process fake of Gluetun v3.41.1: its control server, health server and firewall.

It is no kinder than Gluetun:

- it reads the auth TOML (``HTTP_CONTROL_SERVER_AUTH_CONFIG_FILEPATH``) once, at
  :meth:`FakeGluetun.start`, so a role the charm adds without a restart does not exist;
- ``/v1/vpn/status`` says ``running`` as soon as it started, before the tunnel is up; the
  public IP is empty and the health server answers 500 until the first health check
  passes, which with ``wrong_key`` it never does;
- it can have exited (nothing answers) or lack a usable TUN device (it exits at start).

Harnesses call :meth:`~FakeGluetun.start` whenever Pebble (re)starts the service; a fake
nobody started starts at its first request. Without an auth file every route is public,
as in Gluetun without one. :class:`Firewall` is the firewall Gluetun builds from the
environment the charm gives it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from charmarr_common.http import Request, Response

from .apps import FakeApp, json_response, text_response

ADDRESS = "localhost:8000"
"""Where the charm reaches its own control server inside the pod."""
HEALTH_ADDRESS = "127.0.0.1:9999"
"""Gluetun's health server (HEALTH_SERVER_ADDRESS's default)."""
NOT_CHECKED_YET = "healthcheck did not run yet"
# mirrors gluetun internal/healthcheck/checker.go: the startup check's error, no handshake
TUNNEL_DOWN = (
    "startup check: all check tries failed: dialing: dial tcp4 104.16.132.229:443: i/o timeout"
)
TUN_ERRORS = {
    "missing": "sh: can't open '/dev/net/tun': No such file or directory",
    "denied": "sh: can't open '/dev/net/tun': Operation not permitted",
}
"""What opening /dev/net/tun read-write says in the gluetun container (busybox sh)."""
Tun = Literal["ok", "missing", "denied"]


def wireguard_key() -> str:
    """A random key of the shape WireGuard takes (base64 of 32 bytes)."""
    import base64
    import secrets

    return base64.b64encode(secrets.token_bytes(32)).decode()


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
    """Gluetun's control and health servers.

    Args:
        auth_file: the host path where the charm's auth TOML lands (a ``testing.Mount``
            source), read at each :meth:`start`, as Gluetun reads it at start.
        public_ip: what ``/v1/publicip/ip`` reports once the tunnel carries traffic.
        connected: whether the VPN loop runs at all (``running`` or ``stopped``).
        wrong_key: the tunnel never carries traffic (the handshake never completes).
        checks_to_connect: health requests after a start before the tunnel is up (time
            passing, as the charm sees it through its bounded wait).
    """

    def __init__(
        self,
        auth_file: Path | None = None,
        *,
        public_ip: str = "203.0.113.7",
        connected: bool = True,
        wrong_key: bool = False,
        checks_to_connect: int = 1,
    ) -> None:
        super().__init__()
        self.auth_file = auth_file
        self.public_ip = public_ip
        self.connected = connected
        self.wrong_key = wrong_key
        self.checks_to_connect = checks_to_connect
        self.exited = False
        """The process is gone (crashed, or exited at start); nothing answers."""
        self.tun: Tun = "ok"
        self.starts = 0
        self._roles: list[dict[str, object]] = []
        self._checks = 0

    # -- the process ---------------------------------------------------------------------

    def start(self) -> None:
        """What a (re)start does: read the auth file, begin the tunnel from nothing."""
        self.starts += 1
        self._checks = 0
        # mirrors gluetun cmd/gluetun/main.go: the TUN check fails the start, before any server
        self.exited = self.tun != "ok"
        # mirrors gluetun internal/server/server.go: auth.Read once, as the server is set up
        text = self.auth_file.read_text() if self.auth_file and self.auth_file.exists() else ""
        self._roles = parse_roles(text) if text else []

    def tun_exec(self) -> Any:
        """The ``testing.Exec`` the TUN probe meets in the gluetun container now."""
        from ops import testing

        # mirrors gluetun internal/tun/check.go: the device is opened read-write
        if self.tun == "ok":
            return testing.Exec(["/bin/sh"], return_code=0)
        return testing.Exec(["/bin/sh"], return_code=1, stderr=TUN_ERRORS[self.tun])

    @property
    def tunnel_up(self) -> bool:
        """Whether traffic passes now."""
        return self.connected and not self.wrong_key and self._checks >= self.checks_to_connect

    # -- the control server --------------------------------------------------------------

    def roles(self) -> list[dict[str, object]]:
        """The roles Gluetun loaded at its last start."""
        return list(self._roles)

    def role_of(self, key: str) -> dict[str, object] | None:
        """The role an API key belongs to."""
        for role in self._roles:
            if role.get("auth") == "apikey" and key and role.get("apikey") == key:
                return role
        return None

    def allowed(self, request: Request) -> bool:
        """Whether the request's API key (header or ``api_key`` query) may use its route."""
        roles = self._roles
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
        """Answer the control server's two read routes, or the health server."""
        if self.starts == 0:
            self.start()
        if self.exited:
            # a process that is gone: its ports are closed
            raise ConnectionRefusedError("fake gluetun: exited")
        if urlsplit(request.url).port == 9999:
            return self._health()
        if not self.allowed(request):
            return text_response("Unauthorized", 401)
        route = f"{request.method} {request.path}"
        if route == "GET /v1/vpn/status":
            # mirrors gluetun internal/server/vpn.go: the loop's status, not the tunnel's
            return json_response({"status": "running" if self.connected else "stopped"})
        if route == "GET /v1/publicip/ip":
            # mirrors gluetun internal/publicip: fetched through the tunnel, empty until then
            return json_response({"public_ip": self.public_ip if self.tunnel_up else ""})
        return text_response("Not Found", 404)

    def _health(self) -> Response:
        # mirrors gluetun internal/healthcheck/handler.go: 200, or 500 with the error text
        self._checks += 1
        if self.tunnel_up:
            return text_response("", 200)
        if self._checks <= self.checks_to_connect or not self.connected:
            return text_response(NOT_CHECKED_YET + "\n", 500)
        return text_response(TUNNEL_DOWN + "\n", 500)


# ---------------------------------------------------------------------------------------------
# The firewall Gluetun builds (internal/firewall/enable.go, iptables.go)
# ---------------------------------------------------------------------------------------------


@dataclass
class Firewall:
    """Gluetun's iptables, from its environment and ``/iptables/post-rules.txt``.

    Policies DROP; accepted: loopback, established traffic, input to the pod's link
    network, ``FIREWALL_INPUT_PORTS`` (TCP and UDP) on the default interface, output to
    the link network and ``FIREWALL_OUTBOUND_SUBNETS``, then the post-rules' ``-A INPUT``
    lines. ``link`` is the pod's non-gateway route: ``169.254.1.1/32`` on Calico
    (internal/routing/local.go).
    """

    env: Mapping[str, str]
    post_rules: str = ""
    link: str = "169.254.1.1/32"
    _udp: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, int, int]] = field(
        default_factory=list
    )

    def __post_init__(self) -> None:
        for line in self.post_rules.splitlines():
            words = line.split()
            if not words or words[0] not in ("iptables", "ip6tables") or "-A" not in words:
                continue  # mirrors runUserPostRules: other lines are skipped
            if words[words.index("-A") + 1] != "INPUT" or words[-1] != "ACCEPT":
                continue
            if "udp" not in words or "-s" not in words or "--dport" not in words:
                continue
            low, _, high = words[words.index("--dport") + 1].partition(":")
            source = ipaddress.ip_network(words[words.index("-s") + 1])
            self._udp.append((source, int(low), int(high or low)))

    def _ports(self) -> set[int]:
        value = self.env.get("FIREWALL_INPUT_PORTS", "")
        return {int(p) for p in value.split(",") if p.strip()}

    def _subnets(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        value = self.env.get("FIREWALL_OUTBOUND_SUBNETS", "")
        return [ipaddress.ip_network(c.strip()) for c in value.split(",") if c.strip()]

    def admits(self, source: str, pod_ip: str, port: int, proto: str = "tcp") -> bool:
        """Whether a new connection from ``source`` to ``pod_ip:port`` gets in."""
        if ipaddress.ip_address(pod_ip) in ipaddress.ip_network(self.link):
            return True
        if port in self._ports():
            return True
        ip = ipaddress.ip_address(source)
        return proto == "udp" and any(
            ip.version == net.version and ip in net and low <= port <= high
            for net, low, high in self._udp
        )

    def reaches(self, destination: str) -> bool:
        """Whether the pod may open a connection to ``destination`` outside the tunnel."""
        ip = ipaddress.ip_address(destination)
        networks = [*self._subnets(), ipaddress.ip_network(self.link)]
        return any(ip.version == n.version and ip in n for n in networks)
