"""prowlarr-k8s: API key, rotation, application registration, VPN proxy, cleanup, faults."""

from __future__ import annotations

import dataclasses
import json
import re

import ops
import pytest
from charms_under_test import context, wired_state
from ops import pebble, testing
from servarr_wired import servarr_state

from charmarr_servarr.api import MASKED, PROWLARR
from charmarr_testing import builders
from charmarr_testing.fake_servarr import PEBBLE_WRITES, pebble_calls

APP = PROWLARR
LABEL = "prowlarr-api-key"
PROWLARR_URL = "http://prowlarr-k8s.media.svc.cluster.local:9696"


@pytest.fixture
def ctx():
    return context("prowlarr")


def _fast_rotation(monkeypatch):
    from charmarr_servarr.arr import ArrCharm

    monkeypatch.setattr(ArrCharm, "rotation_poll", 0.0)
    monkeypatch.setattr(ArrCharm, "rotation_attempts", 5)


def _owned(state) -> testing.Secret:
    return next(s for s in state.secrets if s.label == LABEL)


def _config_text(state) -> str:
    return (next(iter(state.containers)).mounts["config"].source / "config.xml").read_text()


def _relation_for(state, app):
    return next(r for r in state.relations if r.remote_app_name == app)


def _granted(state, relation, field):
    secret_id = json.loads(relation.remote_app_data[field])
    return next(s for s in state.secrets if s.id == secret_id)


def _with_latest(state, secret, content):
    rotated = dataclasses.replace(secret)
    object.__setattr__(rotated, "latest_content", content)
    return rotated, dataclasses.replace(
        state, secrets=[s for s in state.secrets if s is not secret] + [rotated]
    )


def _without(state, *apps):
    return dataclasses.replace(
        state, relations=[r for r in state.relations if r.remote_app_name not in apps]
    )


def _converged(ctx, state):
    return ctx.run(ctx.on.update_status(), ctx.run(ctx.on.config_changed(), state))


def test_first_start_writes_the_key_before_starting_prowlarr(ctx, fake_network):
    state, fake = servarr_state(APP, fake_network, deployed=False)
    with pebble_calls() as calls:
        out = ctx.run(ctx.on.pebble_ready(next(iter(state.containers))), state)
    key = _owned(out).latest_content["api-key"]
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    assert f"<ApiKey>{key}</ApiKey>" in _config_text(out)
    assert calls.index("push") < calls.index("replan")
    plan = next(iter(out.containers)).plan
    service = plan.services["prowlarr"]
    assert service.command == "/app/prowlarr/bin/Prowlarr -nobrowser -data=/config"
    assert (service.user_id, service.group_id) == (1000, 1000)
    assert key not in str(service.environment)
    assert service.environment["TMPDIR"] == "/run/prowlarr-temp"
    assert plan.checks["prowlarr-ready"].http == {"url": "http://localhost:9696/ping"}
    assert fake.accepted(key)
    assert out.unit_status == ops.ActiveStatus("ready")


def test_publishes_url_and_granted_key_to_every_arr_app(ctx, fake_network):
    state, _ = wired_state("prowlarr", fake_network)
    out = ctx.run(ctx.on.update_status(), state)
    for app in ("radarr", "sonarr"):
        relation = _relation_for(out, app)
        data = {k: json.loads(v) for k, v in relation.local_app_data.items()}
        assert data["url"] == PROWLARR_URL
        assert data["api_key_secret_id"] == _owned(out).id
        assert relation.id in _owned(out).remote_grants


def test_registers_each_arr_app_as_a_full_sync_application(ctx, fake_network):
    state, fake = wired_state("prowlarr", fake_network)
    out = ctx.run(ctx.on.update_status(), state)
    apps = fake.named("applications")
    assert set(apps) == {"radarr (juju)", "sonarr (juju)"}
    radarr = apps["radarr (juju)"]
    assert (radarr["implementation"], radarr["configContract"], radarr["syncLevel"]) == (
        "Radarr",
        "RadarrSettings",
        "fullSync",
    )
    fields = {f["name"]: f["value"] for f in radarr["fields"]}
    relation = _relation_for(state, "radarr")
    assert fields["prowlarrUrl"] == PROWLARR_URL
    assert fields["baseUrl"] == json.loads(relation.remote_app_data["url"])
    assert (
        fields["apiKey"]
        == _granted(state, relation, "api_key_secret_id").latest_content["api-key"]
    )
    assert 2000 in fields["syncCategories"]
    assert apps["sonarr (juju)"]["implementation"] == "Sonarr"
    assert 5000 in fake.field("applications", "sonarr (juju)", "syncCategories")
    assert out.unit_status.message.startswith("syncing to radarr, sonarr")


def test_requirer_rotation_updates_the_application_api_key(ctx, fake_network):
    state, fake = wired_state("prowlarr", fake_network)
    first = _converged(ctx, state)
    relation = _relation_for(first, "radarr")
    rotated, changed = _with_latest(
        first, _granted(first, relation, "api_key_secret_id"), {"api-key": "d" * 32}
    )
    before = len(fake.writes)
    ctx.run(ctx.on.secret_changed(rotated), changed)
    app_id = fake.named("applications")["radarr (juju)"]["id"]
    assert [(w.method, w.path) for w in fake.writes[before:]] == [
        ("PUT", f"/api/v1/applications/{app_id}")
    ]
    assert fake.field("applications", "radarr (juju)", "apiKey") == "d" * 32


def test_removed_relations_delete_managed_applications_only(ctx, fake_network):
    state, fake = wired_state("prowlarr", fake_network)
    user = fake.add(
        "applications",
        {"name": "lidarr", "implementation": "Lidarr", "fields": [], "syncLevel": "addOnly"},
    )
    first = _converged(ctx, state)
    out = ctx.run(ctx.on.relation_broken(_relation_for(first, "radarr")), first)
    assert set(fake.named("applications")) == {"sonarr (juju)", "lidarr"}
    last = _without(out, "radarr", "sonarr")
    out = ctx.run(ctx.on.config_changed(), last)
    assert set(fake.named("applications")) == {"lidarr"}
    assert fake.named("applications")["lidarr"] == user
    assert out.unit_status.name == "active"


def test_invalid_requirer_data_blocks_and_keeps_its_application(ctx, fake_network):
    state, fake = wired_state("prowlarr", fake_network)
    first = _converged(ctx, state)
    radarr = _relation_for(first, "radarr")
    state2, bad = builders.republished(first, radarr, kind='"lidarr"')
    out = ctx.run(ctx.on.relation_changed(bad), state2)
    assert out.unit_status.name == "blocked"
    assert "invalid data from radarr on media-indexer: kind" in out.unit_status.message
    assert "radarr (juju)" in fake.named("applications")


def test_ungranted_requirer_secret_waits(ctx, fake_network, ungranted):
    state, fake = wired_state("prowlarr", fake_network)
    radarr = _relation_for(state, "radarr")
    ungranted(json.loads(radarr.remote_app_data["api_key_secret_id"]))
    out = ctx.run(ctx.on.update_status(), state)
    assert out.unit_status == ops.WaitingStatus(
        "waiting for radarr (media-indexer) to grant its secret"
    )
    assert set(fake.named("applications")) == {"sonarr (juju)"}


# ---------------------------------------------------------------------------------------------
# vpn-gateway
# ---------------------------------------------------------------------------------------------


def test_vpn_gateway_sets_the_http_proxy_without_touching_the_key(ctx, fake_network):
    state, fake = wired_state("prowlarr", fake_network)
    key = _owned(state).latest_content["api-key"]
    out = ctx.run(ctx.on.update_status(), state)
    gluetun = _relation_for(state, "gluetun")
    credentials = _granted(state, gluetun, "proxy_credentials_secret_id").latest_content
    host = fake.host
    assert host["proxyEnabled"] is True
    assert host["proxyType"] == "http"
    assert host["proxyHostname"] == "gluetun-0.gluetun-endpoints.media.svc.cluster.local"
    assert host["proxyPort"] == 8888
    assert host["proxyUsername"] == credentials["username"]
    assert host["proxyPassword"] == credentials["password"]
    assert "*.svc.cluster.local" in host["proxyBypassFilter"]
    assert host["password"] == "user-password", "the user's UI password is kept"
    assert fake.api_key == key
    assert "via VPN 198.51.100.23" in out.unit_status.message, "IP asked of the control server"


def test_proxy_password_rotation_is_applied_and_the_mask_never_causes_writes(ctx, fake_network):
    state, fake = wired_state("prowlarr", fake_network)
    first = _converged(ctx, state)
    gluetun = _relation_for(first, "gluetun")
    rotated, changed = _with_latest(
        first,
        _granted(first, gluetun, "proxy_credentials_secret_id"),
        {"username": "charmarr", "password": "new-proxy-password"},
    )
    before = len(fake.writes)
    out = ctx.run(ctx.on.secret_changed(rotated), changed)
    assert [(w.method, w.path) for w in fake.writes[before:]] == [("PUT", "/api/v1/config/host/1")]
    assert fake.host["proxyPassword"] == "new-proxy-password"
    again = len(fake.writes)
    ctx.run(ctx.on.update_status(), out)
    assert fake.writes[again:] == []


def test_removing_the_gateway_removes_the_proxy(ctx, fake_network):
    state, fake = wired_state("prowlarr", fake_network)
    first = _converged(ctx, state)
    out = ctx.run(ctx.on.relation_broken(_relation_for(first, "gluetun")), first)
    assert fake.host["proxyEnabled"] is False
    assert fake.host["proxyHostname"] == ""
    assert fake.host["proxyPassword"] == ""
    assert "via VPN" not in out.unit_status.message
    before = len(fake.writes)
    ctx.run(ctx.on.update_status(), _without(out, "gluetun"))
    assert fake.writes[before:] == []


def test_a_proxy_the_user_set_is_left_alone_without_a_gateway(ctx, fake_network):
    state, fake = servarr_state(APP, fake_network)
    fake.host.update(proxyEnabled=True, proxyHostname="squid.lan", proxyPassword="users")
    ctx.run(ctx.on.update_status(), state)
    assert fake.host["proxyHostname"] == "squid.lan"
    assert fake.writes == []


def test_disconnected_vpn_waits(ctx, fake_network):
    state, fake = servarr_state(
        APP, fake_network, relations=[builders.vpn_gateway_from_gluetun(connected=False)]
    )
    out = ctx.run(ctx.on.update_status(), state)
    assert out.unit_status == ops.WaitingStatus(
        "VPN gluetun disconnected; indexer searches wait for it"
    )
    assert fake.host["proxyEnabled"] is True, "traffic stays on the (closed) tunnel"


# ---------------------------------------------------------------------------------------------
# Key, rotation, idempotency, faults
# ---------------------------------------------------------------------------------------------


def test_rotation_applies_then_publishes_and_resyncs_indexers(ctx, fake_network, monkeypatch):
    _fast_rotation(monkeypatch)
    state, fake = wired_state("prowlarr", fake_network)
    first = _converged(ctx, state)
    order: list[str] = []
    original = ops.Secret.set_content

    def spy(self, content):
        order.append("accepted" if fake.accepted(content["api-key"]) else "not accepted")
        order.append(f"synced:{len(fake.commands)}")
        return original(self, content)

    monkeypatch.setattr(ops.Secret, "set_content", spy)
    before = len(fake.commands)
    out = ctx.run(ctx.on.action("rotate-credentials"), first)
    new = _owned(out).latest_content["api-key"]
    assert order == ["accepted", f"synced:{before + 1}"]
    # Forced: a plain sync would take the masked remote keys as equal and skip them.
    assert fake.command_bodies[before:] == [{"name": "ApplicationIndexerSync", "forceSync": True}]
    assert f"<ApiKey>{new}</ApiKey>" in _config_text(out)
    assert ctx.action_results == {"secret-id": _owned(out).id, "revision": 2}
    assert out.unit_status.name == "active"


def test_rotation_never_accepted_keeps_the_old_key(ctx, fake_network, monkeypatch):
    _fast_rotation(monkeypatch)
    state, fake = servarr_state(APP, fake_network)
    old = _owned(state).latest_content["api-key"]
    fake.frozen, fake.api_key = True, old
    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("rotate-credentials"), state)
    assert "did not accept the new API key" in failure.value.message
    assert _owned(failure.value.state).latest_content["api-key"] == old
    assert f"<ApiKey>{old}</ApiKey>" in _config_text(failure.value.state)


def test_non_leader_rotation_fails_and_non_leader_stands_by(ctx, fake_network):
    state, fake = wired_state("prowlarr", fake_network, leader=False)
    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("rotate-credentials"), state)
    assert "run this on the leader" in failure.value.message
    out = ctx.run(ctx.on.update_status(), state)
    assert out.unit_status == testing.BlockedStatus(
        "prowlarr-k8s runs on one unit only; this one stands by, stopped: "
        "juju scale-application prowlarr-k8s 1"
    )
    assert fake.writes == [], "a standby registers nothing: wiring stays on the leader"
    assert out.get_container("prowlarr").service_statuses.get("prowlarr") != (
        pebble.ServiceStatus.ACTIVE
    )
    assert all(not r.local_app_data for r in out.relations)


def test_second_update_status_changes_nothing(ctx, fake_network):
    state, fake = wired_state("prowlarr", fake_network)
    first = _converged(ctx, state)
    assert first.unit_status.name == "active"
    before = len(fake.writes)
    with pebble_calls() as calls:
        second = ctx.run(ctx.on.update_status(), first)
    assert fake.writes[before:] == []
    assert not [c for c in calls if c in PEBBLE_WRITES]
    assert len(calls) <= 3, calls
    assert _owned(second)._latest_revision == _owned(first)._latest_revision
    assert second.unit_status == first.unit_status
    for relation in second.relations:
        assert (
            relation.local_app_data
            == _relation_for(first, relation.remote_app_name).local_app_data
        )


@pytest.mark.parametrize(
    ("fault", "status"),
    [("down", "waiting"), ("500", "waiting"), ("garbage", "waiting"), ("401", "blocked")],
)
def test_workload_faults_end_in_a_status(ctx, fake_network, fault, status):
    state, fake = wired_state("prowlarr", fake_network)
    first = _converged(ctx, state)
    fake.fault = fault
    out = ctx.run(ctx.on.update_status(), first)
    assert out.unit_status.name == status
    assert "prowlarr" in out.unit_status.message
    assert _owned(out).latest_content == _owned(first).latest_content


def test_masked_application_keys_are_never_sent_back_as_new_values(ctx, fake_network):
    state, fake = wired_state("prowlarr", fake_network)
    first = _converged(ctx, state)
    radarr = _relation_for(first, "radarr")
    state2, moved = builders.republished(first, radarr, url='"http://radarr.media.svc:7878"')
    ctx.run(ctx.on.relation_changed(moved), state2)
    assert fake.field("applications", "radarr (juju)", "baseUrl") == "http://radarr.media.svc:7878"
    assert fake.field("applications", "radarr (juju)", "apiKey") != MASKED


# ---------------------------------------------------------------------------------------------
# What the real Prowlarr does (each behaviour is in the Servarr fake, citing upstream)
# ---------------------------------------------------------------------------------------------


def _peer_address(state, app):
    from urllib.parse import urlsplit

    parts = urlsplit(json.loads(_relation_for(state, app).remote_app_data["url"]))
    return f"{parts.hostname}:{parts.port}"


def test_an_app_that_does_not_answer_yet_is_registered_at_a_later_hook(ctx, fake_network):
    """Prowlarr tests an application before saving it, even with forceSave."""
    state, fake = wired_state("prowlarr", fake_network)
    address = _peer_address(state, "radarr")
    radarr = fake_network.apps.pop(address)

    out = ctx.run(ctx.on.update_status(), state)

    assert out.unit_status == ops.WaitingStatus(
        "prowlarr refused application radarr (juju): Unable to complete application test, "
        "cannot connect to Radarr; retrying"
    )
    assert set(fake.named("applications")) == {"sonarr (juju)"}
    fake_network.add(address, radarr)
    out = ctx.run(ctx.on.update_status(), out)
    assert out.unit_status.name == "active"
    assert set(fake.named("applications")) == {"radarr (juju)", "sonarr (juju)"}


def _with_indexer(fake_network):
    """The wired state, with one indexer in Prowlarr and Prowlarr reachable by its URL."""
    state, fake = wired_state("prowlarr", fake_network)
    fake.add_indexer("Nyaa")
    fake_network.add(PROWLARR_URL.removeprefix("http://"), fake)  # Radarr tests the indexer
    return state, fake


def test_adding_an_application_syncs_prowlarrs_indexers_into_it(ctx, fake_network):
    state, fake = _with_indexer(fake_network)
    ctx.run(ctx.on.update_status(), state)
    radarr = fake_network.apps[_peer_address(state, "radarr")]
    (indexer,) = radarr.store["indexer"].values()
    values = {f["name"]: f["value"] for f in indexer["fields"]}
    assert indexer["name"] == "Nyaa (Prowlarr)"
    assert values["baseUrl"] == f"{PROWLARR_URL}/1/"
    assert values["apiKey"] == fake.api_key


def test_a_plain_sync_skips_masked_keys_and_a_forced_one_updates_them(ctx, fake_network):
    """Why the rotation forces the sync (Prowlarr Radarr.cs UpdateIndexer, RadarrIndexer.Equals)."""
    state, fake = _with_indexer(fake_network)
    first = ctx.run(ctx.on.update_status(), state)
    radarr = fake_network.apps[_peer_address(state, "radarr")]
    old = fake.api_key
    config = next(iter(first.containers)).mounts["config"].source / "config.xml"
    config.write_text(config.read_text().replace(old, "f" * 32))

    fake.sync(None)
    assert radarr.field("indexer", "Nyaa (Prowlarr)", "apiKey") == old, "masked: looks equal"
    fake.sync(None, force=True)
    assert radarr.field("indexer", "Nyaa (Prowlarr)", "apiKey") == "f" * 32


def test_a_proxy_password_changed_in_prowlarrs_ui_is_put_back(ctx, fake_network):
    """Prowlarr shows proxyPassword as stored, so the charm sees the change."""
    state, fake = wired_state("prowlarr", fake_network)
    first = _converged(ctx, state)
    wanted = fake.host["proxyPassword"]
    fake.host["proxyPassword"] = "typed-in-the-ui"
    ctx.run(ctx.on.config_changed(), first)
    assert fake.host["proxyPassword"] == wanted


def test_a_host_config_put_never_changes_the_key(fake_network):
    from charmarr_servarr.api import ServarrClient

    state, fake = servarr_state(APP, fake_network)
    key = fake.api_key
    client = ServarrClient("http://localhost:9696", APP, key, name="prowlarr")
    client.put_host_config({**client.host_config(), "apiKey": "e" * 32})
    assert fake.api_key == key and client.host_config()["apiKey"] == key
    assert state is not None


def test_a_rotation_while_an_app_is_down_syncs_it_when_it_answers(ctx, fake_network, monkeypatch):
    _fast_rotation(monkeypatch)
    state, fake = _with_indexer(fake_network)
    first = _converged(ctx, state)
    address = _peer_address(state, "radarr")
    radarr = fake_network.apps.pop(address)

    rotated = ctx.run(ctx.on.action("rotate-credentials"), first)
    new = fake.api_key
    assert radarr.field("indexer", "Nyaa (Prowlarr)", "apiKey") != new
    out = ctx.run(ctx.on.update_status(), rotated)
    assert out.unit_status == ops.WaitingStatus(
        "waiting for radarr to answer, to sync Prowlarr's indexers into it"
    )

    fake_network.add(address, radarr)
    before = len(fake.commands)
    out = ctx.run(ctx.on.update_status(), out)
    assert fake.command_bodies[before:] == [{"name": "ApplicationIndexerSync", "forceSync": True}]
    assert radarr.field("indexer", "Nyaa (Prowlarr)", "apiKey") == new
    assert out.unit_status.name == "active"
    again = len(fake.commands)
    ctx.run(ctx.on.update_status(), out)
    assert len(fake.commands) == again, "once per key and application"
