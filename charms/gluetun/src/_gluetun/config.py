"""The charm's options and the VPN credentials, checked and turned into Gluetun settings."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass

from charmarr_common.charm import RotationConfig
from charmarr_common.errors import InvalidConfigError
from charmarr_common.safe_text import has_control

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

WIREGUARD_PROVIDERS = (
    "airvpn",
    "custom",
    "fastestvpn",
    "ivpn",
    "mullvad",
    "nordvpn",
    "protonvpn",
    "surfshark",
    "windscribe",
)
"""Providers Gluetun v3.41.1 runs WireGuard for (settings/wireguard.go)."""
DEFAULT_ADDRESS_PROVIDERS = ("nordvpn", "protonvpn")
"""WireGuard providers for which Gluetun has a default WIREGUARD_ADDRESSES."""
PRESHARED_KEY_PROVIDERS = ("airvpn",)
"""WireGuard providers for which Gluetun requires WIREGUARD_PRESHARED_KEY."""

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


@dataclass
class GluetunConfig(RotationConfig):
    """Gluetun's options; :attr:`settings` is None when one of the VPN options is invalid."""

    vpn_type: str = "wireguard"
    vpn_provider: str = ""
    server_countries: str = ""
    cluster_cidrs: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.settings: VpnSettings | None = self.checked(
            lambda options: parse_settings(options, self.app), dataclasses.asdict(self)
        )


def parse_settings(config: Mapping[str, object], app: str) -> VpnSettings:
    """Check every VPN option (``config``: the options, dashes as underscores).

    Raises:
        InvalidConfigError: naming the option, the bad value and what is accepted.
    """
    vpn_type = parse_vpn_type(config.get("vpn_type", "wireguard"))
    provider = str(config.get("vpn_provider") or "").strip()
    if not provider:
        raise InvalidConfigError(
            f"vpn-provider unset: juju config {app} vpn-provider=<provider> "
            "(Gluetun's VPN_SERVICE_PROVIDER, e.g. mullvad)"
        )
    if not _PROVIDER.match(provider):
        raise InvalidConfigError(
            f"invalid vpn-provider {provider[:32]!r}: use Gluetun's provider name, e.g. mullvad"
        )
    provider = provider.lower()
    if provider == "custom":
        raise InvalidConfigError(
            "vpn-provider custom is not supported: it needs endpoint settings (server IP, "
            "port, public key or an OpenVPN file) this charm does not offer; use your "
            "provider's name, e.g. mullvad"
        )
    if vpn_type == "wireguard" and provider not in WIREGUARD_PROVIDERS:
        named = ", ".join(p for p in WIREGUARD_PROVIDERS if p != "custom")
        raise InvalidConfigError(
            f"vpn-provider {provider} has no WireGuard support in Gluetun: juju config {app} "
            f"vpn-type=openvpn, or use one of {named}"
        )
    countries = _csv(config.get("server_countries"))
    for country in countries:
        if not _COUNTRY.match(country):
            raise InvalidConfigError(
                f"invalid server-countries entry {country[:32]!r}: use comma-separated "
                "country names, e.g. Netherlands,Sweden"
            )
    cidrs: list[str] = []
    for entry in _csv(config.get("cluster_cidrs")):
        try:
            cidrs.append(str(ipaddress.ip_network(entry, strict=False)))
        except ValueError:
            raise InvalidConfigError(
                f"invalid cluster-cidrs entry {entry[:48]!r}: use comma-separated CIDRs, "
                "e.g. 10.1.0.0/16,10.152.183.0/24"
            ) from None
    return VpnSettings(provider, vpn_type, tuple(countries), tuple(dict.fromkeys(cidrs)))


_WIREGUARD_KEY = re.compile(r"^[A-Za-z0-9+/]{43}=$")
"""A base64 Curve25519 key (32 bytes), the shape wgtypes.ParseKey accepts."""


def check_credentials(settings: VpnSettings, content: Mapping[str, str], uri: str) -> None:
    """What Gluetun checks at start (settings/wireguard.go), checked before it starts.

    Raises:
        InvalidConfigError: naming the key and the ``juju update-secret`` that fixes it;
            never the value.
    """
    fix = f"juju update-secret {uri}"
    for key in (*REQUIRED_KEYS[settings.vpn_type], *OPTIONAL_KEYS[settings.vpn_type]):
        # Gluetun copies these into files of its own (OpenVPN's auth file is one line
        # each): a newline inside one would add a line there.
        if has_control(str(content.get(key, "")).strip()):
            raise InvalidConfigError(
                f"{CREDENTIALS_OPTION} {key} contains a newline or control character: "
                f"{fix} {key}=<value>"
            )
    if settings.vpn_type != "wireguard":
        return
    if not _WIREGUARD_KEY.match(content.get("private-key", "").strip()):
        raise InvalidConfigError(
            f"{CREDENTIALS_OPTION} private-key is not a WireGuard key (44 base64 characters "
            f"from your provider's WireGuard config): {fix} private-key=<key>"
        )
    preshared = content.get("preshared-key", "").strip()
    if preshared and not _WIREGUARD_KEY.match(preshared):
        raise InvalidConfigError(
            f"{CREDENTIALS_OPTION} preshared-key is not a WireGuard key (44 base64 "
            f"characters): {fix} preshared-key=<key>"
        )
    if settings.provider in PRESHARED_KEY_PROVIDERS and not preshared:
        raise InvalidConfigError(
            f"{CREDENTIALS_OPTION} lacks preshared-key ({settings.provider} requires it): "
            f"{fix} preshared-key=<key>"
        )
    addresses = _csv(content.get("addresses"))
    if not addresses and settings.provider not in DEFAULT_ADDRESS_PROVIDERS:
        raise InvalidConfigError(
            f"{CREDENTIALS_OPTION} lacks addresses ({settings.provider} needs the WireGuard "
            f"interface address from your provider's config): {fix} addresses=<address/32>"
        )
    for address in addresses:
        try:
            ipaddress.ip_interface(address)
        except ValueError:
            raise InvalidConfigError(
                f"{CREDENTIALS_OPTION} addresses holds something that is not an address/"
                f"prefix: {fix} addresses=<address/32>"
            ) from None


def uncovered(
    cidrs: tuple[str, ...], needed: Mapping[str, tuple[str, ...]]
) -> dict[str, list[str]]:
    """The needed addresses (by what they are) that no CIDR in ``cidrs`` contains."""
    networks = [ipaddress.ip_network(c) for c in cidrs]
    missing: dict[str, list[str]] = {}
    for what, addresses in needed.items():
        for address in addresses:
            ip = ipaddress.ip_address(address)
            if not any(ip.version == n.version and ip in n for n in networks):
                missing.setdefault(what, []).append(address)
    return missing
