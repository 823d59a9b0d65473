"""No value reaches Gluetun's or 3proxy's files with a newline or control character in it."""

from __future__ import annotations

import pytest
from charms_under_test import load_charm
from ops import testing

from charmarr_common.safe_text import UnsafeValueError

load_charm("gluetun")

from _gluetun.config import VpnSettings  # noqa: E402
from _gluetun.workload import AuthFile, gluetun_files, socks5_config  # noqa: E402

HOSTILE = ["a\nb", "a\rb", "a\x00b", "a\x1bb", "a\x7fb"]
PROXY = {"username": "proxy-0a1b2c3d", "password": "s3cr3t-proxy-password"}


@pytest.mark.parametrize("bad", HOSTILE)
def test_3proxy_cfg_refuses_a_credential_that_would_add_a_directive(bad):
    for proxy in ({**PROXY, "username": bad}, {**PROXY, "password": bad}):
        with pytest.raises(UnsafeValueError, match=r"3proxy.cfg"):
            socks5_config(proxy)
    with pytest.raises(UnsafeValueError):  # a space would split the users line too
        socks5_config({**PROXY, "password": "two words"})
    assert f"users {PROXY['username']}:CL:{PROXY['password']}\n" in socks5_config(PROXY)


@pytest.mark.parametrize("bad", HOSTILE)
def test_gluetun_secret_files_refuse_control_characters(bad):
    settings = VpnSettings("mullvad", "openvpn", (), ("10.1.0.0/16",))
    with pytest.raises(UnsafeValueError, match="openvpn_password") as e:
        gluetun_files(settings, {"username": "u", "password": bad}, PROXY)
    assert bad not in e.value.message
    with pytest.raises(UnsafeValueError, match="httpproxy_password"):
        gluetun_files(settings, {"username": "u", "password": "p"}, {**PROXY, "password": bad})


@pytest.mark.parametrize("bad", [*HOSTILE, 'a"b', "a\\b"])
def test_control_server_auth_file_refuses_a_key_that_is_not_a_token(bad):
    with pytest.raises(UnsafeValueError, match=r"control-server-auth.toml"):
        AuthFile(charm_key="k" * 32, relation_keys={7: bad}).render()


@pytest.mark.parametrize("bad", ["pass\nword", "pass\rword", "pass\x00word"])
def test_an_openvpn_password_with_a_newline_blocks_with_its_fix(gw, bad):
    gw.user = testing.Secret({"username": "vpn-user-1234", "password": bad})
    state = gw.state(config={"vpn-type": "openvpn", "vpn-provider": "protonvpn"})
    out = gw.ctx.run(gw.ctx.on.config_changed(), state)

    assert out.unit_status == testing.BlockedStatus(
        "credentials-secret password contains a newline or control character: "
        f"juju update-secret {gw.user.id} password=<value>"
    )
    assert gw.file("openvpn_password") is None
    assert "gluetun" not in out.get_container("gluetun").plan.services
