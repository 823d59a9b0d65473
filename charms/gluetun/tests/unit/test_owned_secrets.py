"""The secrets Gluetun owns: proxy credentials and one control key per relation."""

from __future__ import annotations

import dataclasses
import json

import ops
import pytest
from ops import pebble, testing

from charmarr_common import standby
from charmarr_common.http import HttpClient, WorkloadHttpError
from charmarr_interfaces.vpn_gateway import VpnGatewayProviderData
from charmarr_testing import builders

PROXY = "gluetun-proxy-credentials"
RELATION_ROUTES = ["GET /v1/publicip/ip", "GET /v1/vpn/status"]


def published(relation: testing.Relation) -> VpnGatewayProviderData:
    bag = dict(relation.local_app_data)
    return VpnGatewayProviderData.model_validate({k: json.loads(v) for k, v in bag.items()})


def control_status(key: str, method: str = "GET", path: str = "/v1/vpn/status") -> int:
    client = HttpClient("http://localhost:8000", name="gluetun", headers={"X-API-Key": key})
    try:
        return client.request(method, path).status
    except WorkloadHttpError as e:
        return e.http_status or 0


# ---------------------------------------------------------------------------------------------
# Proxy credentials
# ---------------------------------------------------------------------------------------------


def test_proxy_credentials_reach_both_proxies_as_files(gw, requirer):
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(relations=[requirer.relation]))

    secret = gw.owned(out, PROXY)
    assert secret is not None
    content = secret.latest_content
    assert content["username"].startswith("proxy-")
    assert len(content["password"]) == 32
    assert gw.file("httpproxy_user") == content["username"]
    assert gw.file("httpproxy_password") == content["password"]
    config = gw.socks_config()
    assert config is not None
    assert f"users {content['username']}:CL:{content['password']}" in config
    assert "auth strong" in config
    assert config.index("deny * * 127.0.0.0/8") < config.index(f"allow {content['username']}")
    assert "socks -p1080" in config
    assert secret.rotate == ops.SecretRotate.MONTHLY


def test_rotation_interval_sets_the_policy_and_never_turns_it_off(gw):
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(config={"rotation-interval": "weekly"}))
    assert gw.owned(out, PROXY).rotate == ops.SecretRotate.WEEKLY

    off = dataclasses.replace(out, config={**out.config, "rotation-interval": "never"})
    out = gw.ctx.run(gw.ctx.on.config_changed(), off)
    assert gw.owned(out, PROXY).rotate == ops.SecretRotate.NEVER


def test_rotate_action_updates_both_proxies_before_publishing(gw, requirer, spy):
    state = gw.state(relations=[requirer.relation], secrets=[gw.proxy_secret()])
    running = gw.ctx.run(gw.ctx.on.config_changed(), state)
    before = gw.owned(running, PROXY)
    old_password = before.latest_content["password"]
    spy.clear()

    out = gw.ctx.run(gw.ctx.on.action("rotate-credentials"), running)

    after = gw.owned(out, PROXY)
    new_password = after.latest_content["password"]
    assert new_password != old_password
    assert gw.file("httpproxy_password") == new_password
    assert after.latest_content["username"] == before.latest_content["username"]
    assert f"users {after.latest_content['username']}:CL:{new_password}" in gw.socks_config()
    assert gw.ctx.action_results == {"secret-id": after.id, "revision": after._latest_revision}
    assert after._latest_revision == before._latest_revision + 1
    published_at = spy.index(("juju", "secret-set", PROXY))
    assert spy.index(("gluetun", "restart", "gluetun")) < published_at
    assert spy.index(("socks5", "restart", "socks5")) < published_at
    assert isinstance(out.unit_status, testing.ActiveStatus)


@pytest.mark.parametrize("fault", ["down", "500", "garbage", "401"])
def test_rotation_that_the_workload_does_not_confirm_publishes_nothing(gw, requirer, fault):
    state = gw.state(relations=[requirer.relation], secrets=[gw.proxy_secret()])
    running = gw.ctx.run(gw.ctx.on.config_changed(), state)
    before = gw.owned(running, PROXY)
    gw.fake.fault = fault

    with pytest.raises(testing.ActionFailed) as failure:
        gw.ctx.run(gw.ctx.on.action("rotate-credentials"), running)

    assert failure.value.message.startswith("rotation failed, old credential kept")
    after = gw.owned(failure.value.state, PROXY)
    assert after.latest_content == before.latest_content
    assert after._latest_revision == before._latest_revision
    # The old password is back on both proxies, so consumers keep working.
    assert gw.file("httpproxy_password") == before.latest_content["password"]
    assert f"CL:{before.latest_content['password']}" in gw.socks_config()


def test_rotation_needs_a_running_gluetun(gw):
    state = gw.state(with_user_secret=False, secrets=[gw.proxy_secret()])
    with pytest.raises(testing.ActionFailed) as failure:
        gw.ctx.run(gw.ctx.on.action("rotate-credentials"), state)
    assert "Gluetun must be running to rotate: credentials-secret unset" in failure.value.message


def test_scheduled_rotation(gw, requirer):
    state = gw.state(relations=[requirer.relation], secrets=[gw.proxy_secret()])
    running = gw.ctx.run(gw.ctx.on.config_changed(), state)
    secret = gw.owned(running, PROXY)

    out = gw.ctx.run(gw.ctx.on.secret_rotate(secret), running)

    rotated = gw.owned(out, PROXY)
    assert rotated.latest_content["password"] != secret.latest_content["password"]
    assert gw.file("httpproxy_password") == rotated.latest_content["password"]


def test_secret_remove_prunes_the_old_revision(gw, requirer):
    running = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(relations=[requirer.relation]))
    rotated = gw.ctx.run(gw.ctx.on.secret_rotate(gw.owned(running, PROXY)), running)
    gw.ctx.run(gw.ctx.on.secret_remove(gw.owned(rotated, PROXY), revision=1), rotated)
    assert gw.ctx.removed_secret_revisions == [1]


def test_non_leader_action_fails_with_the_leader_command(gw):
    state = gw.state(leader=False, secrets=[gw.proxy_secret()])
    with pytest.raises(testing.ActionFailed) as failure:
        gw.ctx.run(gw.ctx.on.action("rotate-credentials"), state)
    assert failure.value.message.startswith("run this on the leader")
    assert "juju run gluetun-k8s/leader rotate-credentials" in failure.value.message


# ---------------------------------------------------------------------------------------------
# Per-relation control keys
# ---------------------------------------------------------------------------------------------


def test_each_relation_gets_its_own_control_key_granted_to_it_alone(gw):
    qbt = builders.vpn_gateway_from_requirer(remote_app="qbittorrent", relation_id=3)
    sab = builders.vpn_gateway_from_requirer(remote_app="sabnzbd", relation_id=4)
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(relations=[qbt.relation, sab.relation]))

    proxy = gw.owned(out, PROXY)
    assert dict(proxy.remote_grants) == {3: {"qbittorrent"}, 4: {"sabnzbd"}}
    roles = gw.roles()
    for relation, app in ((qbt.relation, "qbittorrent"), (sab.relation, "sabnzbd")):
        secret = gw.owned(out, f"gluetun-control-{relation.id}")
        assert secret is not None
        assert dict(secret.remote_grants) == {relation.id: {app}}
        data = published(out.get_relation(relation.id))
        assert data.control_secret_id == secret.id
        assert data.proxy_credentials_secret_id == proxy.id
        key = secret.latest_content["api-key"]
        role = roles[f"vpn-gateway-{relation.id}"]
        assert role["apikey"] == key
        assert role["auth"] == "apikey"
        assert sorted(role["routes"]) == RELATION_ROUTES
        # The key reads the VPN status and public IP, nothing else.
        assert control_status(key) == 200
        assert control_status(key, path="/v1/publicip/ip") == 200
        assert control_status(key, "PUT", "/v1/vpn/status") == 401
        assert control_status(key, path="/v1/openvpn/settings") == 401
    assert control_status("not-a-key") == 401
    # The charm's own role covers every route; its key is in the auth file only.
    assert len(roles["charm"]["routes"]) == 20
    assert control_status(roles["charm"]["apikey"], "PUT", "/v1/vpn/status") != 401


def test_provider_data(gw, requirer):
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(relations=[requirer.relation]))

    data = published(out.get_relation(requirer.relation.id))
    host = f"gluetun-k8s.{out.model.name}.svc.cluster.local"
    assert data.http_proxy_url == f"http://{host}:8888"
    assert data.socks5_proxy_url == f"socks5://{host}:1080"
    assert data.control_url == f"http://{host}:8000"
    assert data.connected is True
    assert data.public_ip == "203.0.113.7"
    assert out.opened_ports == {
        testing.TCPPort(8000),
        testing.TCPPort(8888),
        testing.TCPPort(1080),
    }


def test_update_status_refreshes_connected_and_public_ip(gw, requirer):
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(relations=[requirer.relation]))
    gw.fake.public_ip = "198.51.100.23"
    out = gw.ctx.run(gw.ctx.on.update_status(), out)
    assert published(out.get_relation(requirer.relation.id)).public_ip == "198.51.100.23"
    assert out.unit_status.message.endswith("public IP 198.51.100.23")

    gw.fake.connected = False
    out = gw.ctx.run(gw.ctx.on.update_status(), out)
    data = published(out.get_relation(requirer.relation.id))
    assert data.connected is False
    assert data.public_ip is None
    assert out.unit_status == testing.WaitingStatus("VPN stopped: waiting for the tunnel")


def _relation_removed(gw, state, relation):
    """relation-broken for ``relation``, then the state without it."""
    out = gw.ctx.run(gw.ctx.on.relation_broken(state.get_relation(relation.id)), state)
    return dataclasses.replace(out, relations=[r for r in out.relations if r.id != relation.id])


def test_removed_relations_lose_their_secret_and_role_including_the_last(gw, spy):
    qbt = builders.vpn_gateway_from_requirer(remote_app="qbittorrent", relation_id=3)
    sab = builders.vpn_gateway_from_requirer(remote_app="sabnzbd", relation_id=4)
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(relations=[qbt.relation, sab.relation]))
    sab_key = gw.owned(out, "gluetun-control-4").latest_content["api-key"]
    assert control_status(sab_key) == 200

    spy.clear()
    out = _relation_removed(gw, out, sab.relation)
    assert gw.owned(out, "gluetun-control-4") is None
    assert gw.owned(out, "gluetun-control-3") is not None
    assert set(gw.roles()) == {"charm", "vpn-gateway-3"}
    assert ("gluetun", "restart", "gluetun") in spy.log  # the role is gone for real
    assert control_status(sab_key) == 401

    out = _relation_removed(gw, out, qbt.relation)
    assert gw.owned(out, "gluetun-control-3") is None
    assert set(gw.roles()) == {"charm"}
    assert [s.label for s in out.secrets if s.owner] == [PROXY]

    # Nothing left to clean: the next hook is a no-op.
    spy.clear()
    gw.ctx.run(gw.ctx.on.update_status(), out)
    assert spy.writes == []


def test_cleanup_needs_no_relation_broken_event(gw):
    """A relation that vanished while no hook ran is cleaned up by any later hook."""
    out = gw.ctx.run(
        gw.ctx.on.config_changed(),
        gw.state(relations=[builders.vpn_gateway_from_requirer(relation_id=5).relation]),
    )
    assert gw.owned(out, "gluetun-control-5") is not None

    out = gw.ctx.run(gw.ctx.on.update_status(), dataclasses.replace(out, relations=[]))

    assert gw.owned(out, "gluetun-control-5") is None
    assert set(gw.roles()) == {"charm"}


def test_a_former_leader_stops_both_workloads_but_never_touches_secrets(gw, hook_tools):
    relation = builders.vpn_gateway_from_requirer(relation_id=5).relation
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(relations=[relation]))
    follower = dataclasses.replace(out, leader=False, relations=[])
    hook_tools.clear()

    out = gw.ctx.run(gw.ctx.on.update_status(), follower)

    assert hook_tools.management == []
    assert gw.owned(out, "gluetun-control-5") is not None  # the leader's job
    assert out.unit_status == testing.BlockedStatus(standby.message("gluetun-k8s"))
    for name in ("gluetun", "socks5"):
        assert out.get_container(name).service_statuses[name] != pebble.ServiceStatus.ACTIVE


def test_control_key_rotation_updates_the_role_before_publishing(gw, requirer, spy):
    running = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(relations=[requirer.relation]))
    label = f"gluetun-control-{requirer.relation.id}"
    before = gw.owned(running, label)
    old_key = before.latest_content["api-key"]
    spy.clear()

    out = gw.ctx.run(gw.ctx.on.secret_rotate(before), running)

    after = gw.owned(out, label)
    new_key = after.latest_content["api-key"]
    assert new_key != old_key
    assert after._latest_revision == before._latest_revision + 1
    assert gw.roles()[f"vpn-gateway-{requirer.relation.id}"]["apikey"] == new_key
    assert spy.index(("gluetun", "restart", "gluetun")) < spy.index(("juju", "secret-set", label))
    assert control_status(new_key) == 200
    assert control_status(old_key) == 401


def test_control_key_rotation_not_confirmed_publishes_nothing(gw, requirer):
    running = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(relations=[requirer.relation]))
    label = f"gluetun-control-{requirer.relation.id}"
    before = gw.owned(running, label)
    gw.fake.fault = "401"

    out = gw.ctx.run(gw.ctx.on.secret_rotate(before), running)

    after = gw.owned(out, label)
    assert after._latest_revision == before._latest_revision
    role = gw.roles()[f"vpn-gateway-{requirer.relation.id}"]
    assert role["apikey"] == before.latest_content["api-key"]
    assert isinstance(out.unit_status, testing.WaitingStatus)


def test_control_secret_of_a_gone_relation_is_not_rotated(gw):
    stale = testing.Secret({"api-key": "k" * 32}, owner="app", label="gluetun-control-9")
    state = gw.state(secrets=[stale])
    out = gw.ctx.run(gw.ctx.on.secret_rotate(stale), state)
    assert gw.owned(out, "gluetun-control-9").latest_content == stale.latest_content


def test_rotation_fails_when_the_socks5_server_does_not_restart(gw, requirer, monkeypatch):
    state = gw.state(relations=[requirer.relation], secrets=[gw.proxy_secret()])
    running = gw.ctx.run(gw.ctx.on.config_changed(), state)
    before = gw.owned(running, PROXY)
    original = ops.Container.restart

    def restart(self, *names):
        if "socks5" in names:
            raise ops.pebble.APIError({}, 500, "Internal Server Error", "cannot start 3proxy")
        return original(self, *names)

    monkeypatch.setattr(ops.Container, "restart", restart)
    with pytest.raises(testing.ActionFailed) as failure:
        gw.ctx.run(gw.ctx.on.action("rotate-credentials"), running)

    assert "socks5 container: APIError" in failure.value.message
    after = gw.owned(failure.value.state, PROXY)
    assert after._latest_revision == before._latest_revision
    assert gw.file("httpproxy_password") == before.latest_content["password"]


def test_new_relation_while_blocked_still_gets_a_working_key(gw, spy):
    """Credentials gone: the last good tunnel keeps running and still learns the new role."""
    running = gw.ctx.run(gw.ctx.on.config_changed(), gw.state())
    blocked = dataclasses.replace(
        running, secrets=[s for s in running.secrets if s.id != gw.user.id]
    )
    relation = builders.vpn_gateway_from_requirer(relation_id=21).relation
    spy.clear()

    out = gw.ctx.run(
        gw.ctx.on.relation_joined(relation), dataclasses.replace(blocked, relations=[relation])
    )

    assert "not found" in out.unit_status.message
    key = gw.owned(out, "gluetun-control-21").latest_content["api-key"]
    assert gw.roles()["vpn-gateway-21"]["apikey"] == key
    assert spy.pebble("restart") == [("gluetun", "restart", "gluetun")]
    assert ("gluetun", "replan", None) not in spy.log
    assert control_status(key) == 200
    assert published(out.get_relation(21)).connected is True
