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
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import ops

from ..endpoint import Endpoint, InvalidRelationData, lazy_models
from ..errors import CharmarrError, WaitingError
from ..secret_ids import read_consumed_secret

if TYPE_CHECKING:
    from .._databag import AppData  # noqa: F401 (quoted uses)
    from .models import VpnGatewayProviderData

__all__ = [
    "CONTROL_KEYS",
    "INTERFACE",
    "PROXY_KEYS",
    "PUBLIC_IP_PATH",
    "VPN_STATUS_PATH",
    "Gateway",
    "VpnGatewayProvider",
    "VpnGatewayProviderData",
    "VpnGatewayRequirer",
]

INTERFACE = "vpn-gateway"
PROXY_KEYS = ("username", "password")
CONTROL_KEYS = ("api-key",)

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
    control_url: str = ""
    """This relation's Gluetun control server (for :data:`PUBLIC_IP_PATH`)."""
    control_key: str = field(default="", repr=False)
    """This relation's own control-server key (content of the control secret)."""

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


class VpnGatewayProvider(Endpoint["AppData"]):
    """Gluetun's side."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, None)


class VpnGatewayRequirer(Endpoint["VpnGatewayProviderData"]):
    """A download client's or Prowlarr's side (limit 1)."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, f"{__name__}.models:VpnGatewayProviderData")

    def gateway(self, *, refresh: bool = False) -> Gateway | None:
        """The related gateway with its credentials as published, or None when none is related.

        Raises:
            CharmarrError: invalid relation data or an unreadable secret (with its status).
            WaitingError: related, but the gateway has not published yet.
        """
        model = self._charm.model
        for remote in self.read():
            if isinstance(remote, InvalidRelationData):
                raise CharmarrError(remote.message)
            data = remote.data
            source = f"{remote.app_name} ({self.endpoint})"
            proxy = read_consumed_secret(
                model, data.proxy_credentials_secret_id, PROXY_KEYS, source=source, refresh=refresh
            )
            control = read_consumed_secret(
                model, data.control_secret_id, CONTROL_KEYS, source=source, refresh=refresh
            )
            return Gateway(
                app=remote.app_name,
                http_proxy_url=data.http_proxy_url,
                socks5_proxy_url=data.socks5_proxy_url,
                username=proxy["username"],
                password=proxy["password"],
                connected=data.connected,
                public_ip=data.public_ip,
                control_url=data.control_url,
                control_key=control["api-key"],
            )
        if self.relations:
            raise WaitingError(f"waiting for the VPN gateway on {self.endpoint} to publish")
        return None


__getattr__ = lazy_models(__name__, ["VpnGatewayProviderData"])
