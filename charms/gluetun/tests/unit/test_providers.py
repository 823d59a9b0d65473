"""What Gluetun requires of each provider, checked before it starts (settings/wireguard.go)."""

from __future__ import annotations

import pytest
from ops import testing

from charmarr_testing.fake_gluetun import wireguard_key

APP = "gluetun-k8s"


@pytest.mark.parametrize(
    ("provider", "content", "expected"),
    [
        (
            "mullvad",
            {"private-key": "KEY"},
            "credentials-secret lacks addresses (mullvad needs the WireGuard interface "
            "address from your provider's config): juju update-secret {uri} "
            "addresses=<address/32>",
        ),
        (
            "airvpn",
            {"private-key": "KEY", "addresses": "10.64.0.2/32"},
            "credentials-secret lacks preshared-key (airvpn requires it): "
            "juju update-secret {uri} preshared-key=<key>",
        ),
        (
            "mullvad",
            {"private-key": "not-a-key-but-long-enough", "addresses": "10.64.0.2/32"},
            "credentials-secret private-key is not a WireGuard key (44 base64 characters from "
            "your provider's WireGuard config): juju update-secret {uri} private-key=<key>",
        ),
        (
            "mullvad",
            {"private-key": "KEY", "addresses": "my-address"},
            "credentials-secret addresses holds something that is not an address/prefix: "
            "juju update-secret {uri} addresses=<address/32>",
        ),
        (
            "custom",
            {"private-key": "KEY", "addresses": "10.64.0.2/32"},
            "vpn-provider custom is not supported: it needs endpoint settings (server IP, "
            "port, public key or an OpenVPN file) this charm does not offer; use your "
            "provider's name, e.g. mullvad",
        ),
        (
            "private internet access",
            {"private-key": "KEY", "addresses": "10.64.0.2/32"},
            "vpn-provider private internet access has no WireGuard support in Gluetun: "
            f"juju config {APP} vpn-type=openvpn, or use one of airvpn, fastestvpn, ivpn, "
            "mullvad, nordvpn, protonvpn, surfshark, windscribe",
        ),
    ],
)
def test_provider_requirements_block_before_gluetun_starts(gw, provider, content, expected):
    gw.user = testing.Secret({k: wireguard_key() if v == "KEY" else v for k, v in content.items()})
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(config={"vpn-provider": provider}))

    assert out.unit_status == testing.BlockedStatus(expected.format(uri=gw.user.id))
    assert "gluetun" not in out.get_container("gluetun").plan.services


@pytest.mark.parametrize("provider", ["nordvpn", "protonvpn"])
def test_providers_with_a_default_address_need_none(gw, provider):
    gw.user = testing.Secret({"private-key": wireguard_key()})
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(config={"vpn-provider": provider}))

    assert out.unit_status == testing.ActiveStatus(
        f"VPN connected via {provider}, public IP 203.0.113.7"
    )
    assert "WIREGUARD_ADDRESSES_SECRETFILE" not in gw.env(out)


def test_airvpn_with_its_preshared_key_starts(gw):
    key, psk = wireguard_key(), wireguard_key()
    gw.user = testing.Secret(
        {"private-key": key, "preshared-key": psk, "addresses": "10.0.0.2/32"}
    )
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(config={"vpn-provider": "airvpn"}))

    assert isinstance(out.unit_status, testing.ActiveStatus)
    assert gw.file("wireguard_preshared_key") == psk


def test_openvpn_needs_no_wireguard_keys(gw):
    gw.user = testing.Secret({"username": "vpn-user-1234", "password": "vpn-password-5678"})
    state = gw.state(config={"vpn-type": "openvpn", "vpn-provider": "private internet access"})
    out = gw.ctx.run(gw.ctx.on.config_changed(), state)

    assert isinstance(out.unit_status, testing.ActiveStatus)
