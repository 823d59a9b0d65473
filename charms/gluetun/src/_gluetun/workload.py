"""What the charm writes into the Gluetun and SOCKS5 containers, and their Pebble layers.

Secrets reach the workloads as files only. Gluetun reads each sensitive value from the
file its ``*_SECRETFILE`` variable names; the Pebble environment holds nothing but those
paths. The control server's roles live in a TOML file that is also the charm's record
of which relations it made control keys for (ADR-001: the list of auth tokens is the
state, so cleanup needs no relation-broken data).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ops import pebble

from .config import VpnSettings

GLUETUN = "gluetun"
SOCKS5 = "socks5"

CONTROL_PORT = 8000
HTTP_PROXY_PORT = 8888
SOCKS5_PORT = 1080

SECRETS_DIR = "/run/secrets"
"""Where the charm pushes every sensitive file, in both containers."""
AUTH_FILE = f"{SECRETS_DIR}/control-server-auth.toml"
SOCKS5_CONFIG = f"{SECRETS_DIR}/3proxy.cfg"

SECRET_FILES: Mapping[str, str] = {
    # Gluetun variable -> file name under SECRETS_DIR (Gluetun's own default names).
    "WIREGUARD_PRIVATE_KEY_SECRETFILE": "wireguard_private_key",
    "WIREGUARD_PRESHARED_KEY_SECRETFILE": "wireguard_preshared_key",
    "WIREGUARD_ADDRESSES_SECRETFILE": "wireguard_addresses",
    "OPENVPN_USER_SECRETFILE": "openvpn_user",
    "OPENVPN_PASSWORD_SECRETFILE": "openvpn_password",
    "HTTPPROXY_USER_SECRETFILE": "httpproxy_user",
    "HTTPPROXY_PASSWORD_SECRETFILE": "httpproxy_password",
}
_KEY_TO_VARIABLE: Mapping[tuple[str, str], str] = {
    ("wireguard", "private-key"): "WIREGUARD_PRIVATE_KEY_SECRETFILE",
    ("wireguard", "preshared-key"): "WIREGUARD_PRESHARED_KEY_SECRETFILE",
    ("wireguard", "addresses"): "WIREGUARD_ADDRESSES_SECRETFILE",
    ("openvpn", "username"): "OPENVPN_USER_SECRETFILE",
    ("openvpn", "password"): "OPENVPN_PASSWORD_SECRETFILE",
}

CHARM_ROLE = "charm"
RELATION_ROLE_PREFIX = "vpn-gateway-"
PUBLIC_IP_ROUTE = "GET /v1/publicip/ip"
VPN_STATUS_ROUTE = "GET /v1/vpn/status"
RELATION_ROUTES = (PUBLIC_IP_ROUTE, VPN_STATUS_ROUTE)
"""All a related application's key may do: read the public IP and the VPN status."""
CHARM_ROUTES = (
    "GET /openvpn/actions/restart",
    "GET /openvpn/portforwarded",
    "GET /openvpn/settings",
    "GET /unbound/actions/restart",
    "GET /updater/restart",
    "GET /v1/version",
    "GET /v1/vpn/status",
    "PUT /v1/vpn/status",
    "GET /v1/vpn/settings",
    "PUT /v1/vpn/settings",
    "GET /v1/openvpn/status",
    "PUT /v1/openvpn/status",
    "GET /v1/openvpn/portforwarded",
    "GET /v1/openvpn/settings",
    "GET /v1/dns/status",
    "PUT /v1/dns/status",
    "GET /v1/updater/status",
    "PUT /v1/updater/status",
    "GET /v1/publicip/ip",
    "GET /v1/portforward",
)
"""The charm's own role covers every route, so no route is left without authentication."""


def relation_role(relation_id: int) -> str:
    """The control-server role (and record) of one vpn-gateway relation."""
    return f"{RELATION_ROLE_PREFIX}{relation_id}"


def relation_id_of(role: str) -> int | None:
    """The relation ID a role was made for, or None for other roles."""
    suffix = role.removeprefix(RELATION_ROLE_PREFIX)
    return int(suffix) if role != suffix and suffix.isdigit() else None


# ---------------------------------------------------------------------------------------------
# The control server's auth file
# ---------------------------------------------------------------------------------------------

_STAMP = re.compile(r'^# stamp ([a-z0-9-]+) = "([0-9a-f]{64})"$')
_FIELD = re.compile(r'^(name|apikey) = "([^"\\]*)"$')


@dataclass
class AuthFile:
    """The control server's roles plus the stamps of the other files the charm pushed.

    The stamps (hashes of what the charm last wrote) let a steady-state hook decide that
    nothing changed with one Pebble pull instead of one per file.
    """

    charm_key: str = ""
    relation_keys: dict[int, str] = field(default_factory=dict)
    stamps: dict[str, str] = field(default_factory=dict)

    def render(self) -> str:
        """The TOML Gluetun reads (``[[roles]]`` with name, auth, apikey, routes)."""
        lines = [
            "# Gluetun control-server roles, managed by the gluetun-k8s charm: do not edit.",
            *(f'# stamp {name} = "{digest}"' for name, digest in sorted(self.stamps.items())),
        ]
        roles = [(CHARM_ROLE, self.charm_key, CHARM_ROUTES)]
        roles += [
            (relation_role(rid), key, RELATION_ROUTES)
            for rid, key in sorted(self.relation_keys.items())
        ]
        for name, key, routes in roles:
            lines += [
                "",
                "[[roles]]",
                f'name = "{name}"',
                'auth = "apikey"',
                f'apikey = "{key}"',
                "routes = [" + ", ".join(f'"{route}"' for route in routes) + "]",
            ]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str | None) -> AuthFile:
        """Read a file this charm rendered; anything unrecognised is ignored."""
        result = cls()
        name: str | None = None
        for raw in (text or "").splitlines():
            line = raw.strip()
            if line == "[[roles]]":
                name = None
            elif match := _STAMP.match(line):
                result.stamps[match.group(1)] = match.group(2)
            elif match := _FIELD.match(line):
                key, value = match.groups()
                if key == "name":
                    name = value
                elif name == CHARM_ROLE:
                    result.charm_key = value
                elif name is not None and (rid := relation_id_of(name)) is not None:
                    result.relation_keys[rid] = value
        return result


def stamp(files: Mapping[str, str]) -> str:
    """A digest of a set of files (name -> content): equal digests, equal files."""
    return hashlib.sha256(json.dumps(dict(sorted(files.items()))).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Files and layers
# ---------------------------------------------------------------------------------------------


def gluetun_files(
    settings: VpnSettings, credentials: Mapping[str, str], proxy: Mapping[str, str]
) -> dict[str, str]:
    """Gluetun's secret files (file name -> content) for these credentials."""
    files: dict[str, str] = {}
    for (vpn_type, key), variable in _KEY_TO_VARIABLE.items():
        value = credentials.get(key, "").strip()
        if vpn_type == settings.vpn_type and value:
            files[SECRET_FILES[variable]] = value
    files[SECRET_FILES["HTTPPROXY_USER_SECRETFILE"]] = proxy["username"]
    files[SECRET_FILES["HTTPPROXY_PASSWORD_SECRETFILE"]] = proxy["password"]
    return files


def gluetun_layer(settings: VpnSettings, files: Mapping[str, str]) -> pebble.LayerDict:
    """Gluetun's layer: settings in the environment, secrets only as file paths."""
    env = {
        "VPN_SERVICE_PROVIDER": settings.provider,
        "VPN_TYPE": settings.vpn_type,
        "HTTPPROXY": "on",
        "HTTPPROXY_LISTENING_ADDRESS": f":{HTTP_PROXY_PORT}",
        "HTTP_CONTROL_SERVER_ADDRESS": f":{CONTROL_PORT}",
        "HTTP_CONTROL_SERVER_AUTH_CONFIG_FILEPATH": AUTH_FILE,
        # Gluetun's firewall drops everything but the tunnel: let the cluster reach the
        # proxies and the control server.
        "FIREWALL_INPUT_PORTS": f"{CONTROL_PORT},{HTTP_PROXY_PORT},{SOCKS5_PORT}",
    }
    if settings.countries:
        env["SERVER_COUNTRIES"] = ",".join(settings.countries)
    if settings.cidrs:
        env["FIREWALL_OUTBOUND_SUBNETS"] = ",".join(settings.cidrs)
    for variable, name in SECRET_FILES.items():
        if name in files:
            env[variable] = f"{SECRETS_DIR}/{name}"
    return {
        "summary": "Gluetun VPN gateway",
        "services": {
            GLUETUN: {
                "override": "replace",
                "summary": "Gluetun",
                # Gluetun runs as root: it manages the tunnel device and the firewall.
                "command": "/gluetun-entrypoint",
                "startup": "enabled",
                "environment": env,
            }
        },
        "checks": {
            "gluetun-control": {
                "override": "replace",
                "level": "ready",
                "tcp": {"port": CONTROL_PORT},
            }
        },
    }


def socks5_config(proxy: Mapping[str, str]) -> str:
    """3proxy's configuration: one user, SOCKS5 with strong authentication.

    DNS goes to Gluetun's resolver on localhost, so lookups also use the tunnel; the pod's
    own loopback (Gluetun's control server and HTTP proxy) is not reachable through it.
    """
    return "\n".join(
        [
            "# SOCKS5 server managed by the gluetun-k8s charm: do not edit.",
            "nserver 127.0.0.1",
            "nscache 65536",
            f"users {proxy['username']}:CL:{proxy['password']}",
            "auth strong",
            "deny * * 127.0.0.0/8",
            f"allow {proxy['username']}",
            f"socks -p{SOCKS5_PORT}",
            "",
        ]
    )


def socks5_layer() -> pebble.LayerDict:
    """The SOCKS5 server's layer (no secrets: the password is in the config file)."""
    return {
        "summary": "SOCKS5 server",
        "services": {
            SOCKS5: {
                "override": "replace",
                "summary": "3proxy SOCKS5 server",
                "command": f"/bin/3proxy {SOCKS5_CONFIG}",
                "startup": "enabled",
                "user-id": 1000,
                "group-id": 1000,
            }
        },
        "checks": {
            "socks5-port": {
                "override": "replace",
                "level": "ready",
                "tcp": {"port": SOCKS5_PORT},
            }
        },
    }
