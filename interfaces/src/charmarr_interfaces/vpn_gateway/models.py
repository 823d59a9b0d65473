"""The ``vpn-gateway`` databag (pydantic; imported only when a hook reads or writes one)."""

from __future__ import annotations

import pydantic

from .._databag import AppData, HttpUrl, SecretId, Socks5Url
from ..urls import is_ip_address


class VpnGatewayProviderData(AppData):
    """What Gluetun publishes on each relation."""

    http_proxy_url: HttpUrl
    socks5_proxy_url: Socks5Url
    control_url: HttpUrl
    proxy_credentials_secret_id: SecretId
    control_secret_id: SecretId
    connected: bool = False
    """The tunnel carries traffic (public IP known, Gluetun's health check passing)."""
    public_ip: str | None = None

    @pydantic.field_validator("public_ip")
    @classmethod
    def _ip_address(cls, value: str | None) -> str | None:
        if value is not None and not is_ip_address(value):
            raise ValueError("not an IP address")
        return value or None
