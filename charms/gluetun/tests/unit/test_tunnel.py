"""What "connected" means: the tunnel carries traffic, not merely "running"."""

from __future__ import annotations

import dataclasses
import json

import ops
import pytest
from ops import testing

from charmarr_testing.fake_gluetun import TUN_ERRORS


def _bag(out: testing.State, relation: testing.Relation) -> dict[str, object]:
    return {k: json.loads(v) for k, v in out.get_relation(relation.id).local_app_data.items()}


def test_a_wrong_key_is_never_connected_and_names_the_likely_cause(gw, requirer):
    gw.fake.wrong_key = True
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(relations=[requirer.relation]))

    # Gluetun says "running" all along: the charm looked further.
    assert out.unit_status == testing.BlockedStatus(
        "VPN up but no traffic passes (gluetun: startup check: all check tries failed: "
        "dialing: dial tcp4 104.16.132.229:443: i/o timeout): likely a wrong private-key or "
        f"addresses in credentials-secret; fix it with juju update-secret {gw.user.id}"
    )
    bag = _bag(out, requirer.relation)
    assert bag["connected"] is False
    assert bag.get("public_ip") is None

    # Still wrong at the next update-status; once traffic passes, connected.
    out = gw.ctx.run(gw.ctx.on.update_status(), out)
    assert _bag(out, requirer.relation)["connected"] is False
    gw.fake.wrong_key = False
    out = gw.ctx.run(gw.ctx.on.update_status(), out)
    assert isinstance(out.unit_status, testing.ActiveStatus)
    assert _bag(out, requirer.relation) | {"connected": True, "public_ip": "203.0.113.7"} == (
        _bag(out, requirer.relation)
    )


def test_running_before_the_tunnel_is_up_is_not_connected(gw, requirer):
    gw.fake.checks_to_connect = 1000  # the handshake takes longer than the hook waits
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(relations=[requirer.relation]))

    assert out.unit_status == testing.WaitingStatus("VPN connecting: waiting for its health check")
    assert _bag(out, requirer.relation)["connected"] is False


def test_after_a_restart_the_hook_waits_for_the_tunnel(gw, requirer):
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(relations=[requirer.relation]))

    assert gw.fake.starts == 1
    assert out.unit_status == testing.ActiveStatus(
        "VPN connected via mullvad, public IP 203.0.113.7"
    )
    assert _bag(out, requirer.relation)["connected"] is True


def _running(gw, requirer) -> testing.State:
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(relations=[requirer.relation]))
    assert isinstance(out.unit_status, testing.ActiveStatus)
    return out


def _with_gluetun(out: testing.State, status: ops.pebble.ServiceStatus, execs) -> testing.State:
    box = dataclasses.replace(
        out.get_container("gluetun"), service_statuses={"gluetun": status}, execs=execs
    )
    others = [c for c in out.containers if c.name != "gluetun"]
    return dataclasses.replace(out, containers=[box, *others])


def test_an_exited_gluetun_is_named_with_where_its_log_is(gw, requirer):
    out = _running(gw, requirer)
    gw.fake.exited = True

    out = gw.ctx.run(
        gw.ctx.on.update_status(),
        _with_gluetun(out, ops.pebble.ServiceStatus.ERROR, {gw.fake.tun_exec()}),
    )

    assert out.unit_status == testing.BlockedStatus(
        "gluetun exited (error): see juju ssh --container gluetun gluetun-k8s/0 "
        "/charm/bin/pebble logs gluetun"
    )
    assert _bag(out, requirer.relation)["connected"] is False


@pytest.mark.parametrize(("tun", "reason"), [("missing", "missing"), ("denied", "not allowed")])
def test_a_tun_device_gluetun_cannot_open_is_named_with_its_fix(gw, requirer, tun, reason):
    out = _running(gw, requirer)
    gw.fake.tun = tun
    gw.fake.start()  # the pod restarted on a node without a usable TUN device
    assert gw.fake.exited

    out = gw.ctx.run(
        gw.ctx.on.update_status(),
        _with_gluetun(out, ops.pebble.ServiceStatus.ERROR, {gw.fake.tun_exec()}),
    )

    assert isinstance(out.unit_status, testing.BlockedStatus)
    message = out.unit_status.message
    assert message.startswith(f"gluetun cannot open /dev/net/tun ({reason}")
    assert "sudo modprobe tun" in message
    assert TUN_ERRORS[tun] not in message


def test_a_crash_looping_gluetun_says_so(gw, requirer, monkeypatch):
    out = _running(gw, requirer)
    gw.fake.exited = True
    # Pebble reports "backoff" between automatic restarts; ops.testing cannot, so the one
    # call that reads it is made to answer as Pebble does.
    original = ops.Container.get_services

    def get_services(self, *names):
        infos = original(self, *names)
        if self.name != "gluetun":
            return infos
        return {
            name: ops.pebble.ServiceInfo(name, info.startup, "backoff")
            for name, info in infos.items()
        }

    monkeypatch.setattr(ops.Container, "get_services", get_services)
    out = gw.ctx.run(
        gw.ctx.on.update_status(),
        _with_gluetun(out, ops.pebble.ServiceStatus.ACTIVE, {gw.fake.tun_exec()}),
    )

    assert out.unit_status == testing.WaitingStatus(
        "gluetun keeps exiting (Pebble restarts it): see juju ssh --container gluetun "
        "gluetun-k8s/0 /charm/bin/pebble logs gluetun"
    )


def test_the_fake_reads_its_auth_file_only_at_start(gw, tmp_path):
    gw.fake.start()
    (gw.gluetun_dir / "control-server-auth.toml").write_text(
        '[[roles]]\nname = "x"\nauth = "apikey"\napikey = "k-0123456789"\n'
        'routes = ["GET /v1/vpn/status"]\n'
    )
    assert gw.fake.role_of("k-0123456789") is None
    gw.fake.start()
    assert gw.fake.role_of("k-0123456789") is not None


def test_a_stopped_vpn_after_a_restart_is_reported_without_waiting_it_out(gw, requirer):
    gw.fake.connected = False  # Gluetun's VPN loop says "stopped"
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(relations=[requirer.relation]))

    assert out.unit_status == testing.WaitingStatus("VPN stopped: waiting for the tunnel")
    asked = [r.path for r in gw.fake.requests if r.path == "/v1/vpn/status"]
    assert len(asked) == 1  # settled at once: waiting would not change it
