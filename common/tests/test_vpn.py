"""The vpn-gateway requirer's view and the fail-closed decision."""

from __future__ import annotations

import ops
import pytest
from ops import testing

from charmarr_common import vpn
from charmarr_common.errors import CharmarrError, WaitingError
from charmarr_interfaces import vpn_gateway
from charmarr_testing import builders
from charmarr_testing.fakes import FakeApp, json_response

META = {
    "name": "qbittorrent",
    "requires": {"vpn-gateway": {"interface": "vpn-gateway", "limit": 1}},
}


class Client(ops.CharmBase):
    def __init__(self, framework):
        super().__init__(framework)
        self.vpn = vpn_gateway.VpnGatewayRequirer(self)


class Control(FakeApp):
    def __init__(self, key):
        super().__init__()
        self.key = key

    def handle(self, request):
        if request.headers.get("X-API-Key") != self.key:
            return json_response({"error": "unauthorized"}, 401)
        return json_response({"public_ip": "198.51.100.4"})


def _read(state):
    ctx = testing.Context(Client, meta=META)
    with ctx(ctx.on.update_status(), state) as mgr:
        return vpn.read_gateway(mgr.charm, mgr.charm.vpn)


def test_gateway_with_credentials_and_public_ip_from_the_control_server(fake_network):
    remote = builders.vpn_gateway_from_gluetun(control_key="k" * 32)
    control = Control("k" * 32)
    fake_network.add("gluetun-0.gluetun-endpoints.media.svc.cluster.local:8000", control)
    gateway = _read(testing.State(relations=[remote.relation], secrets=remote.secrets))
    assert gateway is not None
    assert gateway.public_ip == "198.51.100.4"
    assert (gateway.socks5_host, gateway.socks5_port) == (
        "gluetun-0.gluetun-endpoints.media.svc.cluster.local",
        1080,
    )
    assert gateway.http_port == 8888 and gateway.http_host.startswith("gluetun")
    assert gateway.username == remote.content(0)["username"]
    assert gateway.password == remote.content(0)["password"]
    assert gateway.password not in repr(gateway)
    assert control.requests[0].path == vpn_gateway.PUBLIC_IP_PATH


def test_control_server_down_falls_back_to_the_published_ip(fake_network):
    remote = builders.vpn_gateway_from_gluetun(public_ip="203.0.113.9")
    gateway = _read(testing.State(relations=[remote.relation], secrets=remote.secrets))
    assert gateway is not None and gateway.public_ip == "203.0.113.9"


def test_no_relation_means_no_gateway():
    assert _read(testing.State()) is None


def test_related_but_silent_gateway_is_waiting():
    relation = testing.Relation("vpn-gateway", remote_app_name="gluetun")
    with pytest.raises(WaitingError, match="waiting for the VPN gateway"):
        _read(testing.State(relations=[relation]))


def test_invalid_gateway_data_is_an_error_with_the_field():
    relation = testing.Relation(
        "vpn-gateway", remote_app_name="gluetun", remote_app_data={"connected": "yes"}
    )
    with pytest.raises(CharmarrError, match="invalid data from gluetun on vpn-gateway"):
        _read(testing.State(relations=[relation]))


def _gateway(connected=True):
    return vpn_gateway.Gateway(
        "gluetun", "http://g:8888", "socks5://g:1080", "u", "p" * 10, connected, "1.2.3.4"
    )


def test_decide_fails_closed_without_a_gateway():
    decision = vpn.decide("qbittorrent", True, None)
    assert decision.allow_downloads is False
    assert decision.problem is not None
    assert decision.problem.status == ops.BlockedStatus(
        "no VPN and require-vpn is true: juju integrate qbittorrent gluetun, "
        "or juju config qbittorrent require-vpn=false"
    )
    assert vpn.decide("sabnzbd", False, None).allow_downloads is True


def test_decide_stops_downloads_when_the_vpn_is_down_and_required():
    down = vpn.decide("qbittorrent", True, _gateway(connected=False))
    assert down.allow_downloads is False
    assert isinstance(down.problem.status, ops.WaitingStatus)
    relaxed = vpn.decide("sabnzbd", False, _gateway(connected=False))
    assert relaxed.allow_downloads is True and relaxed.problem is None
    up = vpn.decide("qbittorrent", True, _gateway())
    assert up.allow_downloads and up.note == "via VPN 1.2.3.4"
