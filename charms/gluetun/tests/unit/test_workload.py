"""The pod: layers, files, idempotency, hook cost, leadership and control-server faults."""

from __future__ import annotations

import dataclasses

import ops
import pytest
from charms_under_test import wired_state
from gluetun_wired import AUTH_FILE_NAME
from ops import testing

from charmarr_testing import builders
from charmarr_testing.fakes import FakeNetwork

SECRETFILE_VARS = {
    "WIREGUARD_PRIVATE_KEY_SECRETFILE": "/run/secrets/wireguard_private_key",
    "WIREGUARD_ADDRESSES_SECRETFILE": "/run/secrets/wireguard_addresses",
    "HTTPPROXY_USER_SECRETFILE": "/run/secrets/httpproxy_user",
    "HTTPPROXY_PASSWORD_SECRETFILE": "/run/secrets/httpproxy_password",
}


def _secret_values(state: testing.State) -> set[str]:
    return {
        value
        for secret in state.secrets
        for content in (secret.tracked_content, secret.latest_content)
        for value in (content or {}).values()
    }


def test_gluetun_layer_holds_paths_never_values(gw, requirer):
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(relations=[requirer.relation]))

    service = out.get_container("gluetun").plan.services["gluetun"]
    env = dict(service.environment)
    assert service.command.endswith("exec /gluetun-entrypoint'")
    assert service.startup == "enabled"
    for variable, path in SECRETFILE_VARS.items():
        assert env[variable] == path
    assert env["HTTPPROXY"] == "on"
    assert env["HTTP_CONTROL_SERVER_ADDRESS"] == ":8000"
    assert env["HTTP_CONTROL_SERVER_AUTH_CONFIG_FILEPATH"] == (
        "/run/secrets/control-server-auth.toml"
    )
    assert "1080" in env["FIREWALL_INPUT_PORTS"].split(",")
    secrets = _secret_values(out)
    for name, value in env.items():
        assert value not in secrets, name
        assert not any(secret in value for secret in secrets if len(secret) >= 8), name
    # Every value the env points at is in the file, and nowhere else.
    assert gw.file("wireguard_private_key") == gw.user.tracked_content["private-key"]
    assert gw.file("wireguard_addresses") == "10.64.0.2/32"
    check = out.get_container("gluetun").plan.checks["gluetun-control"]
    assert check.level == ops.pebble.CheckLevel.READY
    assert check.tcp == {"port": 8000}


def test_socks5_layer_runs_3proxy_from_the_pushed_config(gw):
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state())

    plan = out.get_container("socks5").plan
    service = plan.services["socks5"]
    assert service.command == "/bin/3proxy /run/secrets/3proxy.cfg"
    assert service.user_id == 1000
    assert service.group_id == 1000
    assert not service.environment
    assert plan.checks["socks5-port"].tcp == {"port": 1080}
    assert gw.socks_config() is not None


def test_second_update_status_changes_nothing(gw, requirer, spy, hook_tools):
    first = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(relations=[requirer.relation]))
    revisions = {s.label: s._latest_revision for s in first.secrets if s.label}
    spy.clear()
    hook_tools.clear()
    gw.fake.requests.clear()

    out = gw.ctx.run(gw.ctx.on.update_status(), first)

    assert spy.writes == []
    assert len(spy.pebble()) <= 3, spy.pebble()
    assert {s.label: s._latest_revision for s in out.secrets if s.label} == revisions
    for tool in ("secret-add", "secret-set", "secret-grant", "secret-remove", "relation-set"):
        assert hook_tools.count(tool) == 0, tool
    assert out.get_relation(requirer.relation.id).local_app_data == (
        first.get_relation(requirer.relation.id).local_app_data
    )
    assert gw.fake.writes == []
    assert out.unit_status == first.unit_status


def test_first_start_pushes_then_starts_without_a_restart(gw, spy):
    gw.ctx.run(gw.ctx.on.config_changed(), gw.state())

    assert ("gluetun", "replan", None) in spy.log
    assert ("gluetun", "restart", "gluetun") not in spy.log
    auth_push = spy.index(("gluetun", "push", "/run/secrets/control-server-auth.toml"))
    assert auth_push < spy.index(("gluetun", "replan", None))
    assert spy.index(("socks5", "push", "/run/secrets/3proxy.cfg")) < spy.index(
        ("socks5", "replan", None)
    )


def test_a_new_relation_restarts_gluetun_once_for_its_role(gw, spy):
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state())
    relation = builders.vpn_gateway_from_requirer(relation_id=11).relation
    spy.clear()

    out = gw.ctx.run(
        gw.ctx.on.relation_joined(relation), dataclasses.replace(out, relations=[relation])
    )

    assert spy.pebble("restart") == [("gluetun", "restart", "gluetun")]
    assert "vpn-gateway-11" in gw.roles()
    assert isinstance(out.unit_status, testing.ActiveStatus)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("down", "waiting for the gluetun control server to answer"),
        ("401", "answered GET /v1/vpn/status with HTTP 401"),
        ("500", "answered GET /v1/vpn/status with HTTP 500"),
        ("garbage", "answered /v1/vpn/status with non-JSON"),
    ],
)
def test_control_server_faults_are_waiting_with_the_reason(gw, requirer, fault, reason):
    gw.fake.fault = fault
    out = gw.ctx.run(gw.ctx.on.update_status(), gw.state(relations=[requirer.relation]))

    assert isinstance(out.unit_status, testing.WaitingStatus)
    assert reason in out.unit_status.message
    bag = out.get_relation(requirer.relation.id).local_app_data
    assert bag["connected"] == "false"
    assert "public_ip" not in bag or bag["public_ip"] in ("", "null")


def test_unexpected_json_is_waiting(gw, requirer, monkeypatch):
    from charmarr_testing.fakes import json_response

    monkeypatch.setattr(gw.fake, "handle", lambda request: json_response(["running"]))
    out = gw.ctx.run(gw.ctx.on.update_status(), gw.state(relations=[requirer.relation]))
    assert out.unit_status == testing.WaitingStatus(
        "gluetun control server answered /v1/vpn/status with unexpected content; "
        "waiting for Gluetun"
    )


def test_containers_not_ready_is_waiting(gw, requirer):
    out = gw.ctx.run(
        gw.ctx.on.update_status(), gw.state(relations=[requirer.relation], can_connect=False)
    )
    assert out.unit_status == testing.WaitingStatus("waiting for the gluetun container")
    # Relation data still goes out, saying the VPN is not there.
    assert out.get_relation(requirer.relation.id).local_app_data["connected"] == "false"


def test_pebble_ready_starts_the_workloads(gw):
    state = gw.state()
    out = gw.ctx.run(gw.ctx.on.pebble_ready(state.get_container("gluetun")), state)
    assert out.get_container("gluetun").service_statuses["gluetun"].value == "active"
    assert out.get_container("socks5").service_statuses["socks5"].value == "active"


def test_non_leader_stands_by_without_managing_secrets(gw, requirer, hook_tools):
    """One tunnel per WireGuard key: a second unit runs neither Gluetun nor the proxy."""
    control = testing.Secret(
        {"api-key": "c" * 32}, owner="app", label=f"gluetun-control-{requirer.relation.id}"
    )
    state = gw.state(
        leader=False, relations=[requirer.relation], secrets=[gw.proxy_secret(), control]
    )
    out = gw.ctx.run(gw.ctx.on.update_status(), state)

    assert hook_tools.management == []
    assert out.unit_status == testing.BlockedStatus(
        "gluetun-k8s runs on one unit only; this one stands by, stopped: "
        "juju scale-application gluetun-k8s 1"
    )
    assert not (gw.gluetun_dir / AUTH_FILE_NAME).exists(), "no role written on a standby"
    assert not (gw.gluetun_dir / "wireguard_private_key").exists()
    assert dict(out.get_relation(requirer.relation.id).local_app_data) == {}
    assert gw.fake.requests == []
    # Readiness fails at the first check: the Service sends the standby no traffic.
    for name, check in (("gluetun", "gluetun-control"), ("socks5", "socks5-port")):
        planned = out.get_container(name).plan.checks[check]
        assert (planned.level.value, planned.threshold) == ("ready", 1)


def test_a_fresh_non_leader_stands_by_before_the_secrets_exist(gw, requirer, hook_tools):
    out = gw.ctx.run(
        gw.ctx.on.update_status(), gw.state(leader=False, relations=[requirer.relation])
    )
    assert out.unit_status.name == "blocked"
    assert "juju scale-application gluetun-k8s 1" in out.unit_status.message
    assert hook_tools.management == []
    assert "socks5" not in out.get_container("socks5").plan.services
    assert "gluetun" not in out.get_container("gluetun").plan.services


def test_wired_state_is_active_for_the_leader_and_stands_by_for_a_follower(fake_network):
    from charms_under_test import context

    ctx = context("gluetun")
    state, fake = wired_state("gluetun", fake_network, leader=True)
    out = ctx.run(ctx.on.update_status(), state)
    assert isinstance(out.unit_status, testing.ActiveStatus), out.unit_status
    # Each start: "running" first, the tunnel a moment later (the charm waits for it).
    assert fake.tunnel_up
    assert [r.path for r in fake.requests][-3:] == ["/v1/vpn/status", "/v1/publicip/ip", "/"]

    state, fake = wired_state("gluetun", FakeNetwork(), leader=False)
    out = ctx.run(ctx.on.update_status(), state)
    assert out.unit_status.name == "blocked", out.unit_status
    assert not fake.tunnel_up and fake.requests == []


def test_a_follower_elected_leader_applies_the_latest_proxy_revision(gw):
    old, new = "old-password-" + "a" * 20, "new-password-" + "b" * 20
    proxy = testing.Secret(
        tracked_content={"username": "proxy-0a1b2c3d", "password": old},
        latest_content={"username": "proxy-0a1b2c3d", "password": new},
        owner="app",
        label="gluetun-proxy-credentials",
    )
    out = gw.ctx.run(gw.ctx.on.update_status(), gw.state(leader=False, secrets=[proxy]))
    assert not (gw.gluetun_dir / "httpproxy_password").exists(), "a standby writes nothing"

    out = gw.ctx.run(gw.ctx.on.leader_elected(), dataclasses.replace(out, leader=True))

    assert gw.file("httpproxy_password") == new
    assert f"CL:{new}" in gw.socks_config()
    assert isinstance(out.unit_status, testing.ActiveStatus)
