"""What the charm writes into the Gluetun and SOCKS5 containers, and their Pebble layers.

Secrets reach the workloads as files only. Gluetun reads each sensitive value from the
file its ``*_SECRETFILE`` variable names; the Pebble environment holds nothing but those
paths. The control server's roles live in a TOML file that is also the charm's record
of which relations it made control keys for (ADR-001: the list of auth tokens is the
state, so cleanup needs no relation-broken data).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ops import pebble

from charmarr_common.safe_text import UnsafeValueError, has_control, line_safe

from .config import VpnSettings

GLUETUN = "gluetun"
SOCKS5 = "socks5"

CONTROL_PORT = 8000
HTTP_PROXY_PORT = 8888
SOCKS5_PORT = 1080
HEALTH_ADDRESS = "127.0.0.1:9999"
"""Gluetun's own health server (HEALTH_SERVER_ADDRESS): 200 only while the tunnel works."""

CHARM_PROBE_PORT = 38812
"""Pebble's HTTP port in Juju's charm container; the kubelet probes it from the node."""
WORKLOAD_PROBE_PORT = 38813
"""Pebble's HTTP port in the first workload container (by name); the next ones count up."""

POST_RULES_FILE = "/iptables/post-rules.txt"
"""Extra iptables commands Gluetun runs once its firewall is up (firewall/firewall.go)."""
EPHEMERAL_PORTS = "1024:65535"
"""Where 3proxy's SOCKS5 UDP relay binds (port 0: the kernel's ephemeral range)."""

ROUTING_TABLE = 51820
"""Gluetun's WireGuard routing table; its ``ip rule``s outlive an abrupt exit."""
KILL_DELAY = "10s"
"""Longer than Gluetun's 5 s shutdown grace period (cmd/gluetun/main.go)."""

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
            if has_control(key, space=True) or '"' in key or "\\" in key:
                raise UnsafeValueError(
                    f"refusing to write the key of role {name} to {AUTH_FILE}: it is not "
                    "a plain token"
                )
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


def probe_ports(containers: Iterable[str]) -> tuple[int, ...]:
    """The ports Juju's kubelet probes reach in this pod (Pebble's /v1/health).

    Juju runs Pebble with ``--http :38812`` in the charm container and ``:38813 + i`` in
    the i-th workload container, sorted by name (caas/kubernetes/provider/application).
    """
    ordered = sorted(containers)
    return (CHARM_PROBE_PORT, *(WORKLOAD_PROBE_PORT + i for i in range(len(ordered))))


def input_ports(containers: Iterable[str]) -> tuple[int, ...]:
    """Every port Gluetun's firewall must admit on the pod's interface."""
    return (CONTROL_PORT, HTTP_PROXY_PORT, SOCKS5_PORT, *probe_ports(containers))


def post_rules(settings: VpnSettings) -> str:
    """Gluetun's post-rules: the pod's peers may reach 3proxy's UDP relay ports.

    3proxy answers a SOCKS5 UDP ASSOCIATE with a port it binds then on the address the
    client reached (port 0: ephemeral; 3proxy src/socks.c); Gluetun's INPUT chain drops
    it unless admitted. Only ``cluster-cidrs`` sources, only unprivileged
    ports (Gluetun's DNS on 53 stays closed).
    """
    lines = ["# managed by the gluetun-k8s charm: SOCKS5 UDP relay for the cluster"]
    for cidr in settings.cidrs:
        tool = "iptables" if ipaddress.ip_network(cidr).version == 4 else "ip6tables"
        lines.append(
            f"{tool} -A INPUT -s {cidr} -p udp -m udp --dport {EPHEMERAL_PORTS} -j ACCEPT"
        )
    return "\n".join(lines) + "\n"


def gluetun_command() -> str:
    """Gluetun's entrypoint, after removing ``ip rule``s a previous run left behind.

    After an abrupt exit the rules of table 51820 remain in the pod's network namespace and
    the next start fails with "file exists" (gluetun wiki, setup/advanced/kubernetes.md).
    Each ``ip rule del`` removes one rule; the loop is bounded.
    """
    clear = (
        f"for i in 1 2 3 4 5 6 7 8; do ip rule del table {ROUTING_TABLE} 2>/dev/null "
        f"|| break; done; for i in 1 2 3 4 5 6 7 8; do ip -6 rule del table "
        f"{ROUTING_TABLE} 2>/dev/null || break; done; exec /gluetun-entrypoint"
    )
    return f"/bin/sh -c '{clear}'"


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
    # Gluetun writes some of these into files of its own (OpenVPN's auth file is
    # "user\npassword"): a newline inside one would add a line there.
    for name, value in files.items():
        line_safe(value, what=name, file=SECRETS_DIR)
    return files


def gluetun_layer(
    settings: VpnSettings, files: Mapping[str, str], containers: Iterable[str]
) -> pebble.LayerDict:
    """Gluetun's layer: settings in the environment, secrets only as file paths."""
    env = {
        "VPN_SERVICE_PROVIDER": settings.provider,
        "VPN_TYPE": settings.vpn_type,
        "HTTPPROXY": "on",
        "HTTPPROXY_LISTENING_ADDRESS": f":{HTTP_PROXY_PORT}",
        "HTTP_CONTROL_SERVER_ADDRESS": f":{CONTROL_PORT}",
        "HTTP_CONTROL_SERVER_AUTH_CONFIG_FILEPATH": AUTH_FILE,
        "HEALTH_SERVER_ADDRESS": HEALTH_ADDRESS,
        # Gluetun's firewall drops all input but the pod's link network: let the cluster
        # reach the proxies and the control server, and the kubelet (from the node's
        # address) reach every container's Pebble health port, or the pod crash-loops.
        "FIREWALL_INPUT_PORTS": ",".join(str(p) for p in input_ports(containers)),
        # ...and all output but the tunnel: the controller, the Kubernetes API and the
        # pod's peers are in cluster-cidrs.
        "FIREWALL_OUTBOUND_SUBNETS": ",".join(settings.cidrs),
    }
    if settings.countries:
        env["SERVER_COUNTRIES"] = ",".join(settings.countries)
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
                "command": gluetun_command(),
                "startup": "enabled",
                "kill-delay": KILL_DELAY,
                "environment": env,
            }
        },
        "checks": dict(GLUETUN_CHECKS),
    }


GLUETUN_CHECKS: Mapping[str, pebble.CheckDict] = {
    "gluetun-control": {"override": "replace", "level": "ready", "tcp": {"port": CONTROL_PORT}}
}
"""Gluetun is ready when its control server answers."""


def standby_gluetun_layer() -> pebble.LayerDict:
    """What a standby needs of Gluetun's layer: the service's name and the checks."""
    return {"services": {GLUETUN: {"override": "merge"}}, "checks": dict(GLUETUN_CHECKS)}


def socks5_config(proxy: Mapping[str, str]) -> str:
    """3proxy's configuration: one user, SOCKS5 with strong authentication.

    DNS goes to Gluetun's resolver on localhost, so lookups also use the tunnel; the pod's
    own loopback (Gluetun's control server and HTTP proxy) is not reachable through it.
    """
    # 3proxy splits a line into words at whitespace; ":" separates a user's fields.
    username = line_safe(
        proxy["username"], what="the proxy username", file=SOCKS5_CONFIG, space=True
    )
    password = line_safe(
        proxy["password"], what="the proxy password", file=SOCKS5_CONFIG, space=True
    )
    if ":" in username:
        raise UnsafeValueError(
            f"refusing to write the proxy username to {SOCKS5_CONFIG}: it contains ':'"
        )
    return "\n".join(
        [
            "# SOCKS5 server managed by the gluetun-k8s charm: do not edit.",
            "nserver 127.0.0.1",
            "nscache 65536",
            f"users {username}:CL:{password}",
            "auth strong",
            "deny * * 127.0.0.0/8",
            f"allow {username}",
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
