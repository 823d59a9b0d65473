"""Radarr and Sonarr, one suite: workload, API key, rotation, indexer / download-client /
media-server wiring, media volume.

Both charms are ``charmarr_servarr.arr.MediaManagerCharm`` bound to a table of constants
(``RADARR`` / ``SONARR``), so ``charms/radarr/tests`` and ``charms/sonarr/tests`` each run
this suite against their own charm by binding the ``media_manager`` fixture.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys

import ops
import pytest
from charms_under_test import context
from ops import testing
from servarr_wired import media_manager_world, servarr_state

from charmarr_servarr.api import PROWLARR, RADARR, MediaManager
from charmarr_servarr.arr import CONFIG_XML, pebble_layer
from charmarr_testing import builders
from charmarr_testing.fake_servarr import PEBBLE_WRITES, FakeServarr, config_xml, pebble_calls

APP: MediaManager = RADARR  # replaced per test by the `app` fixture
NAME = ""  # the application name ops.testing gives the charm: "<app>-k8s"
LABEL = ""


@pytest.fixture(autouse=True)
def app(media_manager: MediaManager, monkeypatch) -> MediaManager:
    """The charm under test's table (the module's APP, NAME and LABEL follow it)."""
    module = sys.modules[__name__]
    monkeypatch.setattr(module, "APP", media_manager)
    monkeypatch.setattr(module, "NAME", f"{media_manager.name}-k8s")
    monkeypatch.setattr(module, "LABEL", f"{media_manager.name}-api-key")
    return media_manager


@pytest.fixture
def ctx():
    return context(APP.name)


def _fast_rotation(monkeypatch):
    from charmarr_servarr.arr import ArrCharm

    monkeypatch.setattr(ArrCharm, "rotation_poll", 0.0)
    monkeypatch.setattr(ArrCharm, "rotation_attempts", 5)


def _owned(state) -> testing.Secret:
    return next(s for s in state.secrets if s.label == LABEL)


def _config_dir(state):
    container = next(iter(state.containers))
    return container.mounts["config"].source


def _config_text(state) -> str:
    return (_config_dir(state) / "config.xml").read_text()


def _relation(state, endpoint):
    return next(r for r in state.relations if r.endpoint == endpoint)


def _without(state, *endpoints_or_apps):
    keep = [
        r
        for r in state.relations
        if r.endpoint not in endpoints_or_apps and r.remote_app_name not in endpoints_or_apps
    ]
    return dataclasses.replace(state, relations=keep)


def _converged(ctx, state):
    out = ctx.run(ctx.on.config_changed(), state)
    return ctx.run(ctx.on.update_status(), out)


def _world(network, **kw):
    return media_manager_world(APP, network, **kw)


# ---------------------------------------------------------------------------------------------
# Workload and API key
# ---------------------------------------------------------------------------------------------


def test_first_start_writes_generated_key_to_config_xml_before_the_service_starts(
    ctx, fake_network
):
    state, fake = servarr_state(APP, fake_network, deployed=False)
    with pebble_calls() as calls:
        out = ctx.run(ctx.on.pebble_ready(next(iter(state.containers))), state)
    key = _owned(out).latest_content["api-key"]
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    assert f"<ApiKey>{key}</ApiKey>" in _config_text(out)
    assert calls.index("push") < calls.index("replan"), "config.xml must exist before start"
    assert fake.accepted(key), "the app must answer with the generated key"
    assert out.unit_status == ops.ActiveStatus("ready")
    assert {p.port for p in out.opened_ports} == {APP.port}
    assert [e.command for e in ctx.exec_history[APP.name]] == [["chown", "1000:1000", "/config"]]


def test_the_images_tmpdir_exists_for_the_app_user_before_it_starts(ctx, fake_network):
    """linuxserver's init-<app>-config creates TMPDIR; under Pebble the charm does."""
    state, _ = servarr_state(APP, fake_network, deployed=False)
    with pebble_calls() as calls:
        out = ctx.run(ctx.on.pebble_ready(next(iter(state.containers))), state)
    container = next(iter(out.containers))
    temp = container.get_filesystem(ctx) / f"run/{APP.name}-temp"
    assert temp.is_dir()
    assert calls.index("make_dir") < calls.index("replan")
    plan = container.plan.services[APP.name]
    assert plan.environment["TMPDIR"] == f"/run/{APP.name}-temp"
    with pebble_calls() as calls:
        ctx.run(ctx.on.update_status(), out)
    assert "make_dir" not in calls, "only before a (re)plan"


def test_pebble_layer_runs_the_app_directly_as_1000_with_ping_readiness(ctx, fake_network):
    state, _ = servarr_state(APP, fake_network, deployed=False)
    out = ctx.run(ctx.on.pebble_ready(next(iter(state.containers))), state)
    plan = next(iter(out.containers)).plan
    service = plan.services[APP.name]
    assert service.command == f"/app/{APP.name}/bin/{APP.title} -nobrowser -data=/config"
    assert (service.user_id, service.group_id) == (1000, 1000)
    assert service.environment == {
        "HOME": "/config",
        "TMPDIR": f"/run/{APP.name}-temp",
        "XDG_CONFIG_HOME": "/config/xdg",
        "COMPlus_EnableDiagnostics": "0",
    }, "what the image's s6 init would give the app, and no key"
    assert service.working_dir == f"/app/{APP.name}/bin"
    check = plan.checks[f"{APP.name}-ready"]
    assert check.level == ops.pebble.CheckLevel.READY
    assert check.http == {"url": f"http://localhost:{APP.port}/ping"}


def test_existing_config_keeps_every_other_setting_and_restarts_for_the_new_key(ctx, fake_network):
    state, fake = servarr_state(APP, fake_network)
    key = _owned(state).latest_content["api-key"]
    path = _config_dir(state) / "config.xml"
    path.write_text(config_xml("f" * 32, APP.port).replace("Forms", "External"))
    with pebble_calls() as calls:
        out = ctx.run(ctx.on.update_status(), state)
    text = _config_text(out)
    assert f"<ApiKey>{key}</ApiKey>" in text
    assert "<AuthenticationMethod>External</AuthenticationMethod>" in text
    assert "<Branch>master</Branch>" in text and f"<Port>{APP.port}</Port>" in text
    assert "restart" in calls
    assert fake.accepted(key)
    assert out.unit_status.name == "active"


def test_garbage_config_xml_is_left_alone_and_blocks(ctx, fake_network):
    state, _ = servarr_state(APP, fake_network)
    path = _config_dir(state) / "config.xml"
    path.write_text("<Config><ApiKey>oops")
    out = ctx.run(ctx.on.update_status(), state)
    assert out.unit_status.name == "blocked"
    assert "config.xml is not valid XML" in out.unit_status.message
    assert path.read_text() == "<Config><ApiKey>oops"


def test_no_pebble_yet_is_waiting(ctx, fake_network):
    state, _ = servarr_state(APP, fake_network)
    container = dataclasses.replace(next(iter(state.containers)), can_connect=False)
    out = ctx.run(ctx.on.update_status(), dataclasses.replace(state, containers={container}))
    assert out.unit_status == ops.WaitingStatus(f"waiting for Pebble in {APP.name}")


def test_a_fresh_non_leader_stands_by_without_a_key(ctx, fake_network):
    state, _ = servarr_state(APP, fake_network, deployed=False, leader=False)
    with pebble_calls() as calls:
        out = ctx.run(ctx.on.start(), state)
    assert out.unit_status == ops.BlockedStatus(
        f"{NAME} runs on one unit only; this one stands by, stopped: "
        f"juju scale-application {NAME} 1"
    )
    # Only the standby's checks: no config.xml, no service, no start.
    assert [c for c in calls if c in PEBBLE_WRITES] == ["add_layer"]
    assert APP.name not in next(iter(out.containers)).plan.services
    assert not [s for s in out.secrets if s.label == LABEL]


def test_a_standby_elected_leader_runs_on_the_latest_key(ctx, fake_network):
    """A standby follows the leader's rotations by reading the secret, and applies the
    latest key to its own workload once it is elected, not before."""
    state, fake = servarr_state(APP, fake_network, leader=False)
    old = _owned(state).latest_content["api-key"]
    before = _config_text(state)
    rotated = testing.Secret(
        {"api-key": old},
        latest_content={"api-key": "a" * 32},
        id=_owned(state).id,
        owner="app",
        label=LABEL,
        rotate=ops.SecretRotate.MONTHLY,
    )
    state = dataclasses.replace(state, secrets=[rotated])
    with pebble_calls() as calls:
        out = ctx.run(ctx.on.update_status(), state)
    assert _config_text(out) == before and "restart" not in calls

    out = ctx.run(ctx.on.leader_elected(), dataclasses.replace(out, leader=True))

    assert "<ApiKey>" + "a" * 32 + "</ApiKey>" in _config_text(out)
    assert fake.accepted("a" * 32)
    assert out.get_container(APP.name).service_statuses[APP.name] == (
        ops.pebble.ServiceStatus.ACTIVE
    )


# ---------------------------------------------------------------------------------------------
# Idempotency
# ---------------------------------------------------------------------------------------------


def test_second_update_status_changes_nothing(ctx, fake_network):
    state, fake = _world(fake_network)
    first = _converged(ctx, state)
    assert first.unit_status.name == "active"
    config_before = _config_text(first)
    revision = _owned(first)._latest_revision
    requests_before = len(fake.writes)
    with pebble_calls() as calls:
        second = ctx.run(ctx.on.update_status(), first)
    assert second.unit_status == first.unit_status
    assert fake.writes[requests_before:] == [], "no workload write on a no-op hook"
    assert not [c for c in calls if c in PEBBLE_WRITES], calls
    assert len(calls) <= 3, calls
    assert _owned(second)._latest_revision == revision
    assert _owned(second).latest_content == _owned(first).latest_content
    assert _config_text(second) == config_before
    for relation in second.relations:
        before = _relation(first, relation.endpoint)
        if before.id == relation.id:
            assert relation.local_app_data == before.local_app_data


# ---------------------------------------------------------------------------------------------
# rotation-interval and rotation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "policy"),
    [("never", ops.SecretRotate.NEVER), ("weekly", ops.SecretRotate.WEEKLY)],
)
def test_rotation_interval_sets_the_secret_policy(ctx, fake_network, value, policy):
    state, _ = servarr_state(APP, fake_network, config={"rotation-interval": value})
    out = ctx.run(ctx.on.config_changed(), state)
    assert _owned(out).rotate == policy
    assert out.unit_status.name == "active"


def test_invalid_rotation_interval_blocks_naming_the_values(ctx, fake_network):
    state, _ = servarr_state(APP, fake_network, config={"rotation-interval": "fortnightly"})
    out = ctx.run(ctx.on.config_changed(), state)
    assert out.unit_status.name == "blocked"
    assert "rotation-interval" in out.unit_status.message
    for value in ("never", "hourly", "daily", "weekly", "monthly", "quarterly", "yearly"):
        assert value in out.unit_status.message


def test_rotate_action_confirms_the_new_key_before_publishing(ctx, fake_network, monkeypatch):
    _fast_rotation(monkeypatch)
    state, fake = servarr_state(APP, fake_network)
    old = _owned(state).latest_content["api-key"]
    seen_at_publish: list[bool] = []
    original = ops.Secret.set_content

    def spy(self, content):
        seen_at_publish.append(fake.accepted(content["api-key"]))
        return original(self, content)

    monkeypatch.setattr(ops.Secret, "set_content", spy)
    with pebble_calls() as calls:
        out = ctx.run(ctx.on.action("rotate-credentials"), state)
    new = _owned(out).latest_content["api-key"]
    assert new != old and re.fullmatch(r"[0-9a-f]{32}", new)
    assert seen_at_publish == [True], "the app accepted the new key before the revision"
    assert "restart" in calls
    assert f"<ApiKey>{new}</ApiKey>" in _config_text(out)
    assert ctx.action_results == {"secret-id": _owned(out).id, "revision": 2}
    assert out.unit_status.name == "active"


def test_rotation_that_the_workload_never_accepts_publishes_nothing(
    ctx, fake_network, monkeypatch
):
    _fast_rotation(monkeypatch)
    state, fake = servarr_state(APP, fake_network)
    old = _owned(state).latest_content["api-key"]
    fake.frozen = True
    fake.api_key = old
    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("rotate-credentials"), state)
    assert "did not accept the new API key" in failure.value.message
    out = failure.value.state
    assert _owned(out).latest_content["api-key"] == old
    assert _owned(out)._latest_revision == 1
    assert f"<ApiKey>{old}</ApiKey>" in _config_text(out), "the old key is restored"


def test_rotate_action_on_a_non_leader_fails(ctx, fake_network):
    state, _ = servarr_state(APP, fake_network, leader=False)
    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("rotate-credentials"), state)
    assert "run this on the leader" in failure.value.message


def test_scheduled_rotation_publishes_a_new_revision(ctx, fake_network, monkeypatch):
    _fast_rotation(monkeypatch)
    state, fake = servarr_state(APP, fake_network)
    out = ctx.run(ctx.on.secret_rotate(_owned(state)), state)
    new = _owned(out).latest_content["api-key"]
    assert new != _owned(state).latest_content["api-key"]
    assert fake.accepted(new)


def test_rotation_of_an_unhealthy_workload_is_postponed(ctx, fake_network, monkeypatch):
    _fast_rotation(monkeypatch)
    state, fake = servarr_state(APP, fake_network)
    fake.fault = "500"
    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("rotate-credentials"), state)
    assert "rotation postponed" in failure.value.message
    assert _owned(failure.value.state)._latest_revision == 1


def test_secret_remove_prunes_the_revision(ctx, fake_network):
    state, _ = servarr_state(APP, fake_network)
    object.__setattr__(_owned(state), "_latest_revision", 2)
    object.__setattr__(_owned(state), "_tracked_revision", 2)
    ctx.run(ctx.on.secret_remove(_owned(state), revision=1), state)
    assert ctx.removed_secret_revisions == [1]


# ---------------------------------------------------------------------------------------------
# media-indexer
# ---------------------------------------------------------------------------------------------


def test_publishes_url_kind_and_granted_key_secret_to_prowlarr(ctx, fake_network):
    state, _ = _world(fake_network)
    out = ctx.run(ctx.on.update_status(), state)
    relation = _relation(out, "media-indexer")
    data = {k: json.loads(v) for k, v in relation.local_app_data.items()}
    assert data["url"] == f"http://{NAME}.media.svc.cluster.local:{APP.port}"
    assert data["kind"] == APP.kind
    assert data["api_key_secret_id"] == _owned(out).id
    assert relation.id in _owned(out).remote_grants
    assert out.unit_status.message.startswith("registered with prowlarr")


def test_waits_until_prowlarr_lists_it(ctx, fake_network):
    state, _ = _world(fake_network)
    prowlarr: FakeServarr = fake_network.apps[
        "prowlarr-0.prowlarr-endpoints.media.svc.cluster.local:9696"
    ]
    prowlarr.store["applications"].clear()
    out = ctx.run(ctx.on.update_status(), state)
    assert out.unit_status == ops.WaitingStatus(f"waiting for prowlarr to register {NAME}")


def test_prowlarr_rotation_is_picked_up_on_secret_changed(ctx, fake_network):
    state, _ = _world(fake_network)
    prowlarr: FakeServarr = fake_network.apps[
        "prowlarr-0.prowlarr-endpoints.media.svc.cluster.local:9696"
    ]
    indexer = _relation(state, "media-indexer")
    secret_id = json.loads(indexer.remote_app_data["api_key_secret_id"])
    old = next(s for s in state.secrets if s.id == secret_id)
    rotated = dataclasses.replace(old)
    object.__setattr__(rotated, "latest_content", {"api-key": "b" * 32})
    prowlarr.api_key = "b" * 32
    state = dataclasses.replace(
        state, secrets=[s for s in state.secrets if s is not old] + [rotated]
    )
    stale = ctx.run(ctx.on.update_status(), state)
    assert stale.unit_status == ops.WaitingStatus(
        "prowlarr rejected the key it shared; waiting for its new key"
    )
    out = ctx.run(ctx.on.secret_changed(rotated), state)
    assert out.unit_status.message.startswith("registered with prowlarr")
    assert prowlarr.accepted("b" * 32)


def test_invalid_prowlarr_data_blocks(ctx, fake_network):
    state, _ = _world(fake_network)
    indexer = _relation(state, "media-indexer")
    bad = dataclasses.replace(
        indexer, remote_app_data={**indexer.remote_app_data, "url": '"ftp://nope"'}
    )
    broken = dataclasses.replace(
        state, relations=[*_without(state, "media-indexer").relations, bad]
    )
    out = ctx.run(ctx.on.relation_changed(bad), broken)
    assert out.unit_status.name == "blocked"
    assert out.unit_status.message.startswith("invalid data from prowlarr on media-indexer: url")


# ---------------------------------------------------------------------------------------------
# download-client
# ---------------------------------------------------------------------------------------------


def test_download_clients_are_created_from_each_provider(ctx, fake_network):
    state, fake = _world(fake_network)
    out = ctx.run(ctx.on.update_status(), state)
    clients = fake.named("downloadclient")
    assert set(clients) == {"qbittorrent (juju)", "sabnzbd (juju)"}
    qbit = _relation_for(state, "qbittorrent")
    qbit_secret = _granted(state, qbit, "credentials_secret_id")
    assert clients["qbittorrent (juju)"]["implementation"] == "QBittorrent"
    assert clients["qbittorrent (juju)"]["protocol"] == "torrent"
    fields = {f["name"]: f["value"] for f in clients["qbittorrent (juju)"]["fields"]}
    assert fields["host"] == "qbittorrent-0.qbittorrent-endpoints.media.svc.cluster.local"
    assert fields["port"] == 8080
    assert fields[APP.category_field] == NAME
    assert fields["username"] == qbit_secret["username"]
    assert fields["password"] == qbit_secret["password"]
    sab = _relation_for(state, "sabnzbd")
    assert clients["sabnzbd (juju)"]["implementation"] == "Sabnzbd"
    assert (
        fake.field("downloadclient", "sabnzbd (juju)", "apiKey")
        == _granted(state, sab, "credentials_secret_id")["api-key"]
    )
    for relation in out.relations:
        if relation.endpoint == "download-client":
            bag = {k: json.loads(v) for k, v in relation.local_app_data.items()}
            assert bag == {"kind": APP.kind, "category": NAME, "version": 1}
    assert "2 download clients" in out.unit_status.message


def _relation_for(state, app):
    return next(r for r in state.relations if r.remote_app_name == app)


def _granted(state, relation, field):
    secret_id = json.loads(relation.remote_app_data[field])
    return next(s for s in state.secrets if s.id == secret_id).latest_content


def test_provider_secret_change_puts_the_new_password(ctx, fake_network):
    state, fake = _world(fake_network)
    first = _converged(ctx, state)
    qbit = _relation_for(first, "qbittorrent")
    secret_id = json.loads(qbit.remote_app_data["credentials_secret_id"])
    old = next(s for s in first.secrets if s.id == secret_id)
    rotated = dataclasses.replace(old)
    object.__setattr__(
        rotated, "latest_content", {"username": "admin", "password": "new-password-123"}
    )
    state2 = dataclasses.replace(
        first, secrets=[s for s in first.secrets if s is not old] + [rotated]
    )
    before = len(fake.writes)
    out = ctx.run(ctx.on.secret_changed(rotated), state2)
    writes = fake.writes[before:]
    assert [(w.method, w.path) for w in writes] == [
        (
            "PUT",
            f"/api/v3/downloadclient/{fake.named('downloadclient')['qbittorrent (juju)']['id']}",
        )
    ]
    assert fake.field("downloadclient", "qbittorrent (juju)", "password") == "new-password-123"
    assert out.unit_status.name == "active"
    # The masked GET does not trigger another PUT afterwards.
    again = len(fake.writes)
    ctx.run(ctx.on.update_status(), out)
    assert fake.writes[again:] == []


def test_changed_provider_url_updates_the_entry_and_keeps_user_tweaks(ctx, fake_network):
    state, fake = _world(fake_network)
    first = _converged(ctx, state)
    entry = fake.named("downloadclient")["qbittorrent (juju)"]
    entry["priority"] = 7  # the user changed the priority in the app's UI
    qbit = _relation_for(first, "qbittorrent")
    state2, moved = builders.republished(first, qbit, url='"http://qbit.media.svc:8081/qb"')
    ctx.run(ctx.on.relation_changed(moved), state2)
    entry = fake.named("downloadclient")["qbittorrent (juju)"]
    fields = {f["name"]: f["value"] for f in entry["fields"]}
    assert (fields["host"], fields["port"], fields["urlBase"]) == ("qbit.media.svc", 8081, "/qb")
    assert entry["priority"] == 1 or entry["priority"] == 7
    assert fields["password"] != "********", "the stored password is kept, not the mask"


def test_removed_relations_remove_managed_entries_only(ctx, fake_network):
    state, fake = _world(fake_network)
    user = fake.add(
        "downloadclient",
        {"name": "my nzbget", "implementation": "Nzbget", "fields": [], "protocol": "usenet"},
    )
    first = _converged(ctx, state)
    qbit = _relation_for(first, "qbittorrent")
    out = ctx.run(ctx.on.relation_broken(qbit), first)
    assert set(fake.named("downloadclient")) == {"sabnzbd (juju)", "my nzbget"}
    last = _without(out, "qbittorrent", "sabnzbd")
    out = ctx.run(ctx.on.config_changed(), last)
    assert set(fake.named("downloadclient")) == {"my nzbget"}
    assert fake.named("downloadclient")["my nzbget"] == user
    assert out.unit_status.name == "active"


def test_invalid_download_client_data_blocks_and_keeps_its_entry(ctx, fake_network):
    state, fake = _world(fake_network)
    first = _converged(ctx, state)
    qbit = _relation_for(first, "qbittorrent")
    state2, bad = builders.republished(first, qbit, kind='"uTorrent"')
    out = ctx.run(ctx.on.relation_changed(bad), state2)
    assert out.unit_status.name == "blocked"
    assert "invalid data from qbittorrent on download-client: kind" in out.unit_status.message
    assert "qbittorrent (juju)" in fake.named("downloadclient")


def test_ungranted_download_client_secret_waits_and_keeps_its_entry(ctx, fake_network, ungranted):
    """qBittorrent publishes a new secret ID before granting it (a new ID is always read)."""
    state, fake = _world(fake_network)
    first = _converged(ctx, state)
    qbit = _relation_for(first, "qbittorrent")
    new = testing.Secret({"username": "admin", "password": "another-password-1"})
    ungranted(new.id)
    state2, moved = builders.republished(first, qbit, credentials_secret_id=json.dumps(new.id))
    state2 = dataclasses.replace(state2, secrets=[*state2.secrets, new])
    out = ctx.run(ctx.on.relation_changed(moved), state2)
    assert out.unit_status == ops.WaitingStatus(
        "waiting for qbittorrent (download-client) to grant its secret"
    )
    assert "qbittorrent (juju)" in fake.named("downloadclient")


def _qbittorrent_rotated(state, password: str):
    """``state`` after qBittorrent published a new revision of its credentials (with the
    secret, for the ``secret-changed`` Juju then fires)."""
    qbit = _relation_for(state, "qbittorrent")
    secret_id = json.loads(qbit.remote_app_data["credentials_secret_id"])
    secret = next(s for s in state.secrets if s.id == secret_id)
    rotated = dataclasses.replace(
        secret, latest_content={"username": "admin", "password": password}
    )
    others = [s for s in state.secrets if s.id != secret_id]
    return dataclasses.replace(state, secrets=[*others, rotated]), rotated


def test_a_granted_secret_id_is_read_only_when_its_entry_is_written(ctx, fake_network):
    """A converged full reconcile reads no consumed secret (each is proven applied); a
    ``secret-changed`` reads it with refresh, and a new revision reaches the entry."""
    from charmarr_testing.pytest_plugin import record_hook_tools

    state, fake = _world(fake_network)
    first = _converged(ctx, state)
    with record_hook_tools() as tools:
        out = ctx.run(ctx.on.config_changed(), first)
    assert out.unit_status.name == "active"
    assert tools.by_tool().get("secret-get", 0) == 0
    state2, rotated = _qbittorrent_rotated(out, "rotated-password-2")
    put = len(fake.requests)
    after = ctx.run(ctx.on.secret_changed(rotated), state2)
    assert after.unit_status.name == "active"
    assert fake.field("downloadclient", "qbittorrent (juju)", "password") == "rotated-password-2"
    assert any(r.method == "PUT" for r in fake.requests[put:])


def test_a_revision_that_arrives_while_the_app_is_down_reaches_it_later(ctx, fake_network):
    """``secret-changed`` refreshes (Juju commits the new tracking) while the app cannot
    take the password: later hooks must not trust the proof of the old one."""
    state, fake = _world(fake_network)
    first = _converged(ctx, state)
    state2, rotated = _qbittorrent_rotated(first, "rotated-password-3")
    address = f"localhost:{APP.port}"
    app = fake_network.apps[address]
    fake_network.remove(address)  # the app restarting
    down = ctx.run(ctx.on.secret_changed(rotated), state2)
    assert down.unit_status.name == "waiting"

    fake_network.add(address, app)
    out = ctx.run(ctx.on.config_changed(), down)
    assert out.unit_status.name == "active", out.unit_status
    assert fake.field("downloadclient", "qbittorrent (juju)", "password") == "rotated-password-3"
    settled = ctx.run(ctx.on.config_changed(), out)
    assert settled.unit_status.name == "active"


def test_provider_without_data_yet_is_waited_for(ctx, fake_network):
    state, fake = servarr_state(
        APP, fake_network, relations=[builders.download_client_from_client()]
    )
    empty = dataclasses.replace(next(iter(state.relations)), remote_app_data={})
    out = ctx.run(ctx.on.relation_joined(empty), dataclasses.replace(state, relations=[empty]))
    assert out.unit_status == ops.WaitingStatus(
        "waiting for qbittorrent to publish on download-client"
    )
    assert fake.named("downloadclient") == {}


# ---------------------------------------------------------------------------------------------
# media-server
# ---------------------------------------------------------------------------------------------


def test_plex_notification_is_created_updated_and_removed(ctx, fake_network):
    state, fake = _world(fake_network)
    first = _converged(ctx, state)
    plex = _relation_for(first, "plex")
    token = _granted(first, plex, "token_secret_id")["token"]
    entry = fake.named("notification")["plex (juju)"]
    assert entry["implementation"] == "PlexServer"
    assert entry["onDownload"] and entry["onUpgrade"] and entry["onRename"]
    fields = {f["name"]: f["value"] for f in entry["fields"]}
    assert fields["authToken"] == token
    assert fields["updateLibrary"] is True
    assert (fields["host"], fields["port"]) == (
        "plex-0.plex-endpoints.media.svc.cluster.local",
        32400,
    )
    assert "1 media server" in first.unit_status.message

    secret_id = json.loads(plex.remote_app_data["token_secret_id"])
    old = next(s for s in first.secrets if s.id == secret_id)
    rotated = dataclasses.replace(old)
    object.__setattr__(rotated, "latest_content", {"token": "new-plex-token-xyz"})
    changed = dataclasses.replace(
        first, secrets=[s for s in first.secrets if s is not old] + [rotated]
    )
    out = ctx.run(ctx.on.secret_changed(rotated), changed)
    assert fake.field("notification", "plex (juju)", "authToken") == "new-plex-token-xyz"

    user = fake.add(
        "notification", {"name": "my webhook", "implementation": "Webhook", "fields": []}
    )
    out = ctx.run(ctx.on.relation_broken(plex), out)
    assert set(fake.named("notification")) == {"my webhook"}
    assert fake.named("notification")["my webhook"] == user
    assert out.unit_status.name == "active"


# ---------------------------------------------------------------------------------------------
# Root folder
# ---------------------------------------------------------------------------------------------


def test_root_folder_is_created_once_and_user_folders_are_kept(ctx, fake_network):
    state, fake = servarr_state(APP, fake_network)
    fake.add("rootfolder", {"path": "/mnt/old-library"})
    out = ctx.run(ctx.on.update_status(), state)
    assert set(fake.named("rootfolder")) == {"/mnt/old-library", APP.root_folder}
    before = len(fake.writes)
    ctx.run(ctx.on.update_status(), out)
    assert fake.writes[before:] == []


def test_refused_root_folder_blocks_with_a_hint(ctx, fake_network):
    state, fake = servarr_state(APP, fake_network)
    original = fake.handle

    def refuse(request):
        if request.method == "POST" and request.path.endswith("/rootfolder"):
            from charmarr_testing.fakes import json_response

            return json_response([{"propertyName": "Path", "errorMessage": "not writable"}], 400)
        return original(request)

    fake.handle = refuse
    out = ctx.run(ctx.on.update_status(), state)
    assert out.unit_status.name == "blocked"
    assert out.unit_status.message == (
        f"{APP.name} refused root folder {APP.root_folder}: not writable; "
        "is the media volume mounted at /data?"
    )


# ---------------------------------------------------------------------------------------------
# Workload faults
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status"),
    [("down", "waiting"), ("500", "waiting"), ("garbage", "waiting"), ("401", "blocked")],
)
def test_workload_faults_end_in_a_status_and_keep_the_key(
    ctx, fake_network, monkeypatch, fault, status
):
    _fast_rotation(monkeypatch)
    state, fake = _world(fake_network)
    first = _converged(ctx, state)
    fake.fault = fault
    out = ctx.run(ctx.on.update_status(), first)
    assert out.unit_status.name == status
    assert APP.name in out.unit_status.message
    assert _owned(out).latest_content == _owned(first).latest_content
    with pytest.raises(testing.ActionFailed):
        ctx.run(ctx.on.action("rotate-credentials"), first)


def test_wrong_key_in_the_workload_is_reported(ctx, fake_network):
    state, fake = servarr_state(APP, fake_network)
    fake.frozen = True
    fake.api_key = "c" * 32
    out = ctx.run(ctx.on.update_status(), state)
    assert out.unit_status.name == "blocked"
    assert "rejects the API key in /config/config.xml" in out.unit_status.message
    assert CONFIG_XML in out.unit_status.message


def test_layer_matches_the_shared_definition(ctx, fake_network):
    state, _ = servarr_state(APP, fake_network)
    out = ctx.run(ctx.on.update_status(), state)
    container = next(iter(out.containers))
    assert container.layers[APP.name].to_dict()["services"] == pebble_layer(APP)["services"]
    assert PROWLARR.port == 9696  # the indexer this app checks lives there


def test_non_leader_stands_by_and_wires_nothing(ctx, fake_network):
    state, fake = _world(fake_network, leader=False)
    writes = len(fake.writes)
    out = ctx.run(ctx.on.update_status(), state)
    assert fake.writes[writes:] == [], "download clients and Plex are the leader's to wire"
    assert all(not r.local_app_data for r in out.relations)
    assert _owned(out).remote_grants == {}
    assert out.unit_status.name == "blocked"
    assert f"juju scale-application {NAME} 1" in out.unit_status.message


def test_media_volume_is_mounted_at_data_and_a_missing_pvc_blocks(ctx, fake_network):
    state, _ = servarr_state(APP, fake_network)
    out = ctx.run(ctx.on.config_changed(), state)
    assert fake_network.kubernetes.container(NAME, APP.name)["volumeMounts"] == [
        {"name": "charmarr-media", "mountPath": "/data"}
    ]
    missing = dataclasses.replace(out, config={**out.config, "media-volume": "nope"})
    out = ctx.run(ctx.on.config_changed(), missing)
    assert out.unit_status == ops.BlockedStatus(
        f"PVC nope not found in namespace {out.model.name}: create it (ReadWriteMany) "
        f"or juju config {NAME} media-volume=<pvc>"
    )
