"""The VPN credentials: every way the operator's user secret can be wrong, and fixed."""

from __future__ import annotations

import dataclasses

import pytest
from ops import testing

from charmarr_common.rotation import generate_token
from charmarr_testing.fake_gluetun import wireguard_key
from charmarr_testing.pytest_plugin import ungranted_secrets

APP = "gluetun-k8s"


def test_unset_blocks_with_the_three_commands(gw):
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(with_user_secret=False))

    assert isinstance(out.unit_status, testing.BlockedStatus)
    message = out.unit_status.message
    assert message.startswith("credentials-secret unset")
    assert f"juju add-secret {APP}-credentials-secret private-key=<key>" in message
    assert f"juju grant-secret {APP}-credentials-secret {APP}" in message
    assert f"juju config {APP} credentials-secret=<secret-uri>" in message
    # Without credentials neither Gluetun nor the SOCKS5 server (which would leak) runs.
    assert "gluetun" not in out.get_container("gluetun").plan.services
    assert "socks5" not in out.get_container("socks5").plan.services


def test_unset_names_the_openvpn_keys(gw):
    state = gw.state(with_user_secret=False, config={"vpn-type": "openvpn"})
    out = gw.ctx.run(gw.ctx.on.config_changed(), state)

    assert "username=<user> password=<password>" in out.unit_status.message


def test_added_later_starts_gluetun(gw):
    first = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(with_user_secret=False))
    assert isinstance(first.unit_status, testing.BlockedStatus)

    later = dataclasses.replace(
        first,
        config={**first.config, "credentials-secret": gw.user.id},
        secrets=[*first.secrets, gw.user],
    )
    out = gw.ctx.run(gw.ctx.on.config_changed(), later)

    assert out.unit_status == testing.ActiveStatus(
        "VPN connected via mullvad, public IP 203.0.113.7"
    )
    assert gw.file("wireguard_private_key") == gw.user.tracked_content["private-key"]
    assert "gluetun" in out.get_container("gluetun").plan.services


def test_not_granted_names_the_grant_command_then_update_status_picks_the_grant_up(gw):
    with ungranted_secrets(gw.user.id):
        out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state())
    assert out.unit_status == testing.BlockedStatus(
        f"credentials-secret not granted: juju grant-secret {gw.user.id} {APP}"
    )
    assert gw.file("wireguard_private_key") is None

    # The operator grants it: no hook fires, the next update-status notices.
    out = gw.ctx.run(gw.ctx.on.update_status(), out)
    assert isinstance(out.unit_status, testing.ActiveStatus)
    assert gw.file("wireguard_private_key") == gw.user.tracked_content["private-key"]


def test_not_granted_with_the_fixture(gw, ungranted):
    ungranted(gw.user.id)
    out = gw.ctx.run(gw.ctx.on.update_status(), gw.state())

    assert "not granted" in out.unit_status.message
    assert f"juju grant-secret {gw.user.id} {APP}" in out.unit_status.message


def test_not_found_is_its_own_status(gw):
    state = gw.state(with_user_secret=False, config={"credentials-secret": gw.user.id})
    out = gw.ctx.run(gw.ctx.on.config_changed(), state)

    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert out.unit_status.message.startswith(f"credentials-secret {gw.user.id} not found")


def test_removed_after_running_blocks_and_keeps_the_last_good_tunnel(gw):
    running = gw.ctx.run(gw.ctx.on.config_changed(), gw.state())
    assert isinstance(running.unit_status, testing.ActiveStatus)

    gone = dataclasses.replace(running, secrets=[s for s in running.secrets if s.id != gw.user.id])
    out = gw.ctx.run(gw.ctx.on.update_status(), gone)

    assert "not found" in out.unit_status.message
    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert "gluetun" in out.get_container("gluetun").plan.services


@pytest.mark.parametrize(
    ("vpn_type", "content", "missing"),
    [
        ("wireguard", {"addresses": "10.64.0.2/32"}, "private-key"),
        ("openvpn", {"username": "someone"}, "password"),
        ("openvpn", {"private-key": generate_token()}, "username, password"),
    ],
)
def test_a_required_key_missing_for_the_vpn_type(gw, vpn_type, content, missing):
    gw.user = testing.Secret(content)
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(config={"vpn-type": vpn_type}))

    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert out.unit_status.message.startswith(f"credentials-secret lacks {missing}:")
    assert f"juju update-secret {gw.user.id}" in out.unit_status.message
    assert "gluetun" not in out.get_container("gluetun").plan.services


def test_update_secret_rewrites_the_files_and_restarts_gluetun_only(gw, spy):
    # protonvpn: Gluetun has a default address for it, so the secret may drop addresses.
    state = gw.state(config={"vpn-provider": "protonvpn"})
    running = gw.ctx.run(gw.ctx.on.config_changed(), state)
    old_key = gw.file("wireguard_private_key")
    new_key = wireguard_key()
    user = dataclasses.replace(
        gw.user,
        tracked_content=gw.user.tracked_content,
        latest_content={"private-key": new_key, "preshared-key": wireguard_key()},
    )
    state = dataclasses.replace(
        running, secrets=[user if s.id == user.id else s for s in running.secrets]
    )
    spy.clear()
    out = gw.ctx.run(gw.ctx.on.secret_changed(user), state)

    assert gw.file("wireguard_private_key") == new_key != old_key
    assert gw.file("wireguard_preshared_key") == user.latest_content["preshared-key"]
    assert gw.file("wireguard_addresses") is None  # no longer in the secret: removed
    env = gw.env(out)
    assert env["WIREGUARD_PRESHARED_KEY_SECRETFILE"] == "/run/secrets/wireguard_preshared_key"
    assert "WIREGUARD_ADDRESSES_SECRETFILE" not in env
    assert ("gluetun", "replan", None) in spy.log or ("gluetun", "restart", "gluetun") in spy.log
    assert ("socks5", "restart", "socks5") not in spy.log
    assert isinstance(out.unit_status, testing.ActiveStatus)

    # The same content again: nothing is written, nothing restarts.
    spy.clear()
    again = gw.ctx.run(gw.ctx.on.secret_changed(out.get_secret(id=user.id)), out)
    assert spy.writes == []
    assert again.unit_status == out.unit_status


def test_update_secret_with_same_files_restarts_gluetun(gw, spy):
    running = gw.ctx.run(gw.ctx.on.config_changed(), gw.state())
    new_key = wireguard_key()
    user = dataclasses.replace(
        gw.user, latest_content={"private-key": new_key, "addresses": "10.64.0.2/32"}
    )
    state = dataclasses.replace(
        running, secrets=[user if s.id == user.id else s for s in running.secrets]
    )
    spy.clear()
    gw.ctx.run(gw.ctx.on.secret_changed(user), state)

    assert gw.file("wireguard_private_key") == new_key
    assert ("gluetun", "restart", "gluetun") in spy.log  # env unchanged: an explicit restart
    assert ("gluetun", "replan", None) not in spy.log


def test_switching_vpn_type(gw):
    running = gw.ctx.run(gw.ctx.on.config_changed(), gw.state())
    assert gw.file("wireguard_private_key") is not None

    user = dataclasses.replace(
        gw.user,
        latest_content={"username": "vpn-user-1234", "password": "vpn-pass-" + generate_token()},
    )
    state = dataclasses.replace(
        running,
        config={**running.config, "vpn-type": "openvpn"},
        secrets=[user if s.id == user.id else s for s in running.secrets],
    )
    # `juju config` and `juju update-secret` each fire their own hook; the credentials
    # switch lands once secret-changed brings the new revision.
    out = gw.ctx.run(gw.ctx.on.config_changed(), state)
    out = gw.ctx.run(gw.ctx.on.secret_changed(user), out)

    env = gw.env(out)
    assert env["VPN_TYPE"] == "openvpn"
    assert env["OPENVPN_USER_SECRETFILE"] == "/run/secrets/openvpn_user"
    assert env["OPENVPN_PASSWORD_SECRETFILE"] == "/run/secrets/openvpn_password"
    assert not [k for k in env if k.startswith("WIREGUARD_")]
    assert gw.file("openvpn_user") == "vpn-user-1234"
    assert gw.file("openvpn_password") == user.latest_content["password"]
    assert gw.file("wireguard_private_key") is None
    assert gw.file("wireguard_addresses") is None
    assert isinstance(out.unit_status, testing.ActiveStatus)

    # Back to wireguard while the secret still holds OpenVPN keys: Blocked, names the key.
    back = dataclasses.replace(out, config={**out.config, "vpn-type": "wireguard"})
    out = gw.ctx.run(gw.ctx.on.config_changed(), back)
    assert out.unit_status.message.startswith("credentials-secret lacks private-key")


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("vpn-type", "ipsec", "invalid vpn-type 'ipsec': use one of wireguard, openvpn"),
        ("vpn-provider", "", "vpn-provider unset: juju config gluetun-k8s vpn-provider="),
        ("vpn-provider", "mull;vad", "invalid vpn-provider 'mull;vad'"),
        ("cluster-cidrs", "10.1.0.0/16,10.0.0.0/33", "invalid cluster-cidrs entry '10.0.0.0/33'"),
        ("cluster-cidrs", "cluster", "invalid cluster-cidrs entry 'cluster'"),
        ("server-countries", 'Nether"lands', "invalid server-countries entry"),
        (
            "rotation-interval",
            "fortnightly",
            "invalid rotation-interval 'fortnightly': use one of never, hourly, daily, weekly, "
            "monthly, quarterly, yearly",
        ),
    ],
)
def test_invalid_options_block_naming_the_option(gw, option, value, expected):
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(config={option: value}))

    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert out.unit_status.message.startswith(expected)


def test_cluster_cidrs_and_countries_reach_gluetun(gw):
    config = {"cluster-cidrs": " 10.1.0.0/16, 10.152.183.5/24 ", "server-countries": "Sweden, NL"}
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(config=config))

    env = gw.env(out)
    assert env["FIREWALL_OUTBOUND_SUBNETS"] == "10.1.0.0/16,10.152.183.0/24"
    assert env["SERVER_COUNTRIES"] == "Sweden,NL"
    assert env["VPN_SERVICE_PROVIDER"] == "mullvad"
