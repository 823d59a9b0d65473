"""The charm's options and the VPN credentials, checked and turned into Gluetun settings."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass

from charmarr_interfaces.secrets import InvalidConfigError

VPN_TYPES = ("wireguard", "openvpn")

CREDENTIALS_OPTION = "credentials-secret"

REQUIRED_KEYS: Mapping[str, tuple[str, ...]] = {
    "wireguard": ("private-key",),
    "openvpn": ("username", "password"),
}
"""Keys the user secret must hold for each vpn-type."""

OPTIONAL_KEYS: Mapping[str, tuple[str, ...]] = {
    "wireguard": ("addresses", "preshared-key"),
    "openvpn": (),
}

EXAMPLES: Mapping[str, str] = {
    "wireguard": "private-key=<key> addresses=<address/32>",
    "openvpn": "username=<user> password=<password>",
}
"""``juju add-secret`` placeholders for the "unset" status."""

_PROVIDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
_COUNTRY = re.compile(r"^[^\x00-\x1f,=\"\\]{2,64}$")


@dataclass(frozen=True)
class VpnSettings:
    """The validated, non-secret Gluetun settings."""

    provider: str
    vpn_type: str
    countries: tuple[str, ...]
    cidrs: tuple[str, ...]


def _csv(value: object) -> list[str]:
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def parse_vpn_type(value: object) -> str:
    """The vpn-type, or InvalidConfigError naming the accepted values."""
    if value not in VPN_TYPES:
        shown = str(value)[:32]
        raise InvalidConfigError(f"invalid vpn-type {shown!r}: use one of {', '.join(VPN_TYPES)}")
    return str(value)


def parse_settings(config: Mapping[str, object], app: str) -> VpnSettings:
    """Check every VPN option.

    Raises:
        InvalidConfigError: naming the option, the bad value and what is accepted.
    """
    vpn_type = parse_vpn_type(config.get("vpn-type", "wireguard"))
    provider = str(config.get("vpn-provider") or "").strip()
    if not provider:
        raise InvalidConfigError(
            f"vpn-provider unset: juju config {app} vpn-provider=<provider> "
            "(Gluetun's VPN_SERVICE_PROVIDER, e.g. mullvad)"
        )
    if not _PROVIDER.match(provider):
        raise InvalidConfigError(
            f"invalid vpn-provider {provider[:32]!r}: use Gluetun's provider name, e.g. mullvad"
        )
    countries = _csv(config.get("server-countries"))
    for country in countries:
        if not _COUNTRY.match(country):
            raise InvalidConfigError(
                f"invalid server-countries entry {country[:32]!r}: use comma-separated "
                "country names, e.g. Netherlands,Sweden"
            )
    cidrs: list[str] = []
    for entry in _csv(config.get("cluster-cidrs")):
        try:
            cidrs.append(str(ipaddress.ip_network(entry, strict=False)))
        except ValueError:
            raise InvalidConfigError(
                f"invalid cluster-cidrs entry {entry[:48]!r}: use comma-separated CIDRs, "
                "e.g. 10.1.0.0/16,10.152.183.0/24"
            ) from None
    return VpnSettings(provider, vpn_type, tuple(countries), tuple(dict.fromkeys(cidrs)))
