"""The ``vpn-gateway`` interface: Gluetun provides; qBittorrent, SABnzbd, Prowlarr require.

Gluetun publishes its HTTP and SOCKS5 proxy URLs, the ID of the proxy-credentials secret
(``username``, ``password``; shared by all relations), the ID of a control-API secret
made for this relation alone (``api-key``), whether the VPN is connected and the public
IP. ``connected`` means the tunnel carries traffic (Gluetun knows its public IP and its
health check passes), never merely that the VPN process runs. The requirer publishes
nothing; its presence is enough.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import ops

from .http import HttpClient, WorkloadHttpError, WorkloadUnreachableError
from .relation import Endpoint, InvalidRelationData
from .secrets import CharmarrError, WaitingError, read_consumed_secret
from .urls import is_ip_address

if TYPE_CHECKING:
    from .databags import AppData, VpnGatewayProviderData  # noqa: F401 (quoted uses)

INTERFACE = "vpn-gateway"
PROXY_KEYS = ("username", "password")
CONTROL_KEYS = ("api-key",)


class VpnGatewayProvider(Endpoint["AppData"]):
    """Gluetun's side."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, None)


class VpnGatewayRequirer(Endpoint["VpnGatewayProviderData"]):
    """A download client's or Prowlarr's side (limit 1)."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, "VpnGatewayProviderData")


_MODELS = frozenset({"VpnGatewayProviderData"})


def __getattr__(name: str) -> Any:
    # The databag models live in .databags, imported on first use (pydantic is costly).
    if name in _MODELS:
        from . import databags

        return getattr(databags, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------------------------
# The requirer's view, shared by qBittorrent, SABnzbd and Prowlarr
# ---------------------------------------------------------------------------------------------

PUBLIC_IP_PATH = "/v1/publicip/ip"
"""Gluetun control-server route a requirer's role may read (with this relation's key)."""
VPN_STATUS_PATH = "/v1/vpn/status"
"""Gluetun control-server route for the VPN's status."""


@dataclass(frozen=True)
class Gateway:
    """A ready-to-use VPN gateway: where its proxies are and how to log in to them."""

    app: str
    http_proxy_url: str
    socks5_proxy_url: str
    username: str
    password: str = field(repr=False)
    connected: bool
    public_ip: str | None

    @property
    def socks5_host(self) -> str:
        """The SOCKS5 proxy's host name."""
        return urlsplit(self.socks5_proxy_url).hostname or ""

    @property
    def socks5_port(self) -> int:
        """The SOCKS5 proxy's port."""
        return urlsplit(self.socks5_proxy_url).port or 1080

    @property
    def http_host(self) -> str:
        """The HTTP proxy's host name."""
        return urlsplit(self.http_proxy_url).hostname or ""

    @property
    def http_port(self) -> int:
        """The HTTP proxy's port."""
        return urlsplit(self.http_proxy_url).port or 8888


def read_gateway(
    charm: ops.CharmBase, requirer: VpnGatewayRequirer, *, refresh: bool = False
) -> Gateway | None:
    """The related gateway with its proxy credentials, or None when none is related.

    The public IP is asked of Gluetun's control server with this relation's own control
    key; if the control server does not answer, the IP Gluetun published is used.

    Raises:
        CharmarrError: invalid relation data or an unreadable secret (with its status).
    """
    for remote in requirer.read():
        if isinstance(remote, InvalidRelationData):
            raise CharmarrError(remote.message)
        data = remote.data
        source = f"{remote.app_name} ({requirer.endpoint})"
        proxy = read_consumed_secret(
            charm.model,
            data.proxy_credentials_secret_id,
            PROXY_KEYS,
            source=source,
            refresh=refresh,
        )
        control = read_consumed_secret(
            charm.model, data.control_secret_id, CONTROL_KEYS, source=source, refresh=refresh
        )
        public_ip = data.public_ip
        if data.connected:
            client = HttpClient(
                data.control_url, name=remote.app_name, headers={"X-API-Key": control["api-key"]}
            )
            try:
                answer = client.get_json(PUBLIC_IP_PATH)
                ip = answer.get("public_ip") if isinstance(answer, dict) else None
                if isinstance(ip, str) and is_ip_address(ip):
                    public_ip = ip or public_ip
            except (WorkloadUnreachableError, WorkloadHttpError):
                pass
        return Gateway(
            app=remote.app_name,
            http_proxy_url=data.http_proxy_url,
            socks5_proxy_url=data.socks5_proxy_url,
            username=proxy["username"],
            password=proxy["password"],
            connected=data.connected,
            public_ip=public_ip,
        )
    if requirer.relations:
        raise WaitingError(f"waiting for the VPN gateway on {requirer.endpoint} to publish")
    return None


@dataclass(frozen=True)
class VpnDecision:
    """Whether the workload may download, and what to tell the operator."""

    allow_downloads: bool
    problem: CharmarrError | None = None
    note: str = ""


def decide(app: str, require_vpn: bool, gateway: Gateway | None) -> VpnDecision:
    """Fail closed: with ``require-vpn`` and no connected gateway, no downloads."""
    if gateway is None:
        if require_vpn:
            return VpnDecision(
                False,
                CharmarrError(
                    f"no VPN and require-vpn is true: juju integrate {app} gluetun, "
                    f"or juju config {app} require-vpn=false"
                ),
            )
        return VpnDecision(True)
    if not gateway.connected:
        problem = WaitingError(f"VPN {gateway.app} disconnected; downloads stopped")
        return VpnDecision(not require_vpn, problem if require_vpn else None, "VPN disconnected")
    return VpnDecision(True, None, f"via VPN {gateway.public_ip or '(IP unknown)'}")
