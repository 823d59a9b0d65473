"""The ``vpn-gateway`` interface: Gluetun provides; qBittorrent, SABnzbd, Prowlarr require.

Gluetun publishes its HTTP and SOCKS5 proxy URLs, the ID of the proxy-credentials secret
(``username``, ``password``; shared by all relations), the ID of a control-API secret
made for this relation alone (``api-key``), whether the VPN is connected and the public
IP. The requirer publishes nothing; its presence is enough.
"""

from __future__ import annotations

import ops

from .relation import AppData, Endpoint, HttpUrl, SecretId

INTERFACE = "vpn-gateway"
PROXY_KEYS = ("username", "password")
CONTROL_KEYS = ("api-key",)


class VpnGatewayProviderData(AppData):
    """What Gluetun publishes on each relation."""

    http_proxy_url: HttpUrl
    socks5_proxy_url: str
    control_url: HttpUrl
    proxy_credentials_secret_id: SecretId
    control_secret_id: SecretId
    connected: bool = False
    public_ip: str | None = None


class VpnGatewayProvider(Endpoint[AppData]):
    """Gluetun's side."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, None)


class VpnGatewayRequirer(Endpoint[VpnGatewayProviderData]):
    """A download client's or Prowlarr's side (limit 1)."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, VpnGatewayProviderData)
