"""qbittorrent-k8s unit tests (ops.testing, the WebUI faked at the transport).

Each test drives the charm the way Juju would and checks what an operator or a related
app would notice: the conf qBittorrent will read, the service state, the WebUI
requests, the relation data, the secret revisions and the status.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import ops
import pytest
from charms_under_test import load_charm, wired_state
from ops import pebble, testing

from charmarr_testing import builders
from charmarr_testing.fake_qbittorrent import FakeQBittorrent
from charmarr_testing.fakes import FakeNetwork
from charmarr_testing.faults import before_hook_tool, pebble_outage
from charmarr_testing.juju_semantics import leadership
from charmarr_testing.pytest_plugin import record_hook_tools
from charmarr_testing.torrents import add_like_arr, make_torrent, save_path_of

CHARM = load_charm("qbittorrent")  # puts charms/qbittorrent/src on sys.path

from _qbittorrent import config as conf  # noqa: E402
from _qbittorrent.api import QBittorrentClient  # noqa: E402

MEDIA = {"media-volume": "charmarr-media"}


def conf_file(state: testing.State) -> Path:
    """The conf on the state's ``config`` mount (on the host)."""
    mount = state.get_container("qbittorrent").mounts["config"]
    return Path(mount.source) / "qBittorrent" / "config" / "qBittorrent.conf"


def credentials(state: testing.State) -> dict[str, str]:
    secret = next(s for s in state.secrets if s.label == "qbittorrent-credentials")
    return dict(secret.latest_content)


def credentials_secret(state: testing.State) -> testing.Secret:
    return next(s for s in state.secrets if s.label == "qbittorrent-credentials")


def wired(network: FakeNetwork, *, leader: bool = True) -> tuple[testing.State, FakeQBittorrent]:
    """The converged state of charms/qbittorrent/tests/qbittorrent_wired.py (Radarr and Sonarr related)."""
    state, fake = wired_state("qbittorrent", network, leader=leader)
    return state, fake


def with_relations(state: testing.State, keep: str | None = None, *extra) -> testing.State:
    """Keep only the relations on endpoint ``keep`` (None: none), add ``extra``."""
    relations = [r for r in state.relations if keep is not None and r.endpoint == keep]
    return dataclasses.replace(state, relations=[*relations, *extra])


def without_endpoint(state: testing.State, endpoint: str) -> testing.State:
    return dataclasses.replace(
        state, relations=[r for r in state.relations if r.endpoint != endpoint]
    )


def fresh_state(tmp_path: Path, *, leader: bool = True, **kwargs) -> testing.State:
    """A unit before its first start: no secret, empty config storage, no layer."""
    (tmp_path / "config").mkdir(exist_ok=True)
    container = testing.Container(
        "qbittorrent",
        can_connect=True,
        mounts={"config": testing.Mount(location="/config", source=tmp_path / "config")},
        execs={testing.Exec(["chown"])},
    )
    config = {**MEDIA, **kwargs.pop("config", {})}
    return testing.State(
        leader=leader,
        model=testing.Model(name="media"),
        containers=[container],
        storages=[testing.Storage("config")],
        config=config,
        **kwargs,
    )


def boot_on_start(pebble_calls, fake: FakeQBittorrent, state_dir: Path) -> None:
    """When the charm (re)starts the service, the fake starts from the conf on disk."""

    def hook(_container) -> None:
        path = state_dir / "qBittorrent" / "config" / "qBittorrent.conf"
        fake.fault = None
        fake.boot(path.read_text())

    pebble_calls.on_start.append(hook)


def layer_of(state: testing.State) -> pebble.Layer:
    return state.get_container("qbittorrent").plan.services["qbittorrent"]


def services(state: testing.State) -> dict[str, pebble.ServiceStatus]:
    return dict(state.get_container("qbittorrent").service_statuses)


def planned_service(state: testing.State) -> dict:
    return state.get_container("qbittorrent").plan.services["qbittorrent"].to_dict()


def prefs_of(fake: FakeQBittorrent) -> dict:
    return fake.preferences


def gluetun_remote(state: testing.State) -> testing.Relation:
    return next(r for r in state.relations if r.endpoint == "vpn-gateway")


def decoded(bag) -> dict:
    return {k: json.loads(v) for k, v in bag.items()}


# ---------------------------------------------------------------------------------------
# Workload: the conf before the first start, the layer, idempotency
# ---------------------------------------------------------------------------------------


def test_first_start_writes_hashed_credentials_before_starting(
    ctx, fake_network, tmp_path, pebble_calls
):
    fake = FakeQBittorrent()
    fake.fault = "down"  # not started yet
    fake_network.add("localhost:8080", fake)
    boot_on_start(pebble_calls, fake, tmp_path / "config")

    state = fresh_state(tmp_path, config={"require-vpn": False})
    out = ctx.run(ctx.on.pebble_ready(state.get_container("qbittorrent")), state)

    creds = credentials(out)
    assert creds["username"] == "admin"
    assert len(creds["password"]) == 32
    text = conf_file(out).read_text()
    assert conf.credentials_match(text, "admin", creds["password"])
    assert creds["password"] not in text  # only the hash is on disk
    assert "[LegalNotice]\nAccepted=true" in text
    # The conf is written before the service is first started.
    names = pebble_calls.names()
    assert names.index("push") < names.index("replan")
    service = planned_service(out)
    assert service["command"] == "/usr/bin/qbittorrent-nox --profile=/config --webui-port=8080"
    assert (service["user-id"], service["group-id"]) == (1000, 1000)
    assert service["environment"]["XDG_CONFIG_HOME"] == "/config"  # as the image sets it
    # Time to save resume data on stop (Pebble's default would kill it after 5 s).
    assert service["kill-delay"] == "30s"
    # The fresh, root-owned volume became qBittorrent's user's before the first start.
    assert [e.command for e in ctx.exec_history["qbittorrent"]] == [
        ["chown", "1000:1000", "/config"]
    ]
    assert services(out)["qbittorrent"] == pebble.ServiceStatus.ACTIVE
    check = out.get_container("qbittorrent").plan.checks["qbittorrent-ready"].to_dict()
    assert check["level"] == "ready" and check["http"]["url"] == "http://localhost:8080/"
    # The daemon reading that conf accepts the generated credentials: the charm logged in.
    assert fake.boots == 1 and fake.failed_logins_total == 0
    assert any(r.path == "/api/v2/app/version" for r in fake.requests)
    assert testing.TCPPort(8080) in out.opened_ports


def test_first_start_without_vpn_writes_the_conf_but_never_starts(ctx, fake_network, tmp_path):
    fake = FakeQBittorrent()
    fake_network.add("localhost:8080", fake)
    state = fresh_state(tmp_path)
    out = ctx.run(ctx.on.pebble_ready(state.get_container("qbittorrent")), state)
    assert conf.credentials_match(
        conf_file(out).read_text(), "admin", credentials(out)["password"]
    )
    assert planned_service(out)["startup"] == "disabled"
    assert services(out).get("qbittorrent") != pebble.ServiceStatus.ACTIVE
    assert out.unit_status.name == "blocked"
    assert fake.requests == []


def test_second_update_status_changes_nothing(ctx, fake_network, pebble_calls):
    state, fake = wired(fake_network)
    first = ctx.run(ctx.on.update_status(), state)
    assert first.unit_status == testing.ActiveStatus(
        "via VPN 203.0.113.7, kill switch on; categories: radarr, sonarr"
    )
    before = conf_file(first).read_bytes()
    pebble_calls.clear()
    fake.requests.clear()
    with record_hook_tools() as tools:
        second = ctx.run(ctx.on.update_status(), first)

    assert pebble_calls.writes == []  # no push, no layer, no replan, no restart
    assert len(pebble_calls.reads) <= 3
    assert conf_file(second).read_bytes() == before  # not even re-salted
    assert fake.api_writes == []
    assert fake.failed_logins_total == 0
    assert "secret-set" not in tools.calls and "secret-add" not in tools.calls
    assert "secret-grant" not in tools.calls and "relation-set" not in tools.calls
    assert tools.calls.count("secret-get") <= 3  # own credentials, gluetun's two
    assert credentials_secret(second).latest_content == credentials_secret(state).latest_content
    assert second.unit_status == first.unit_status


def test_conf_keeps_every_other_setting_and_is_rewritten_with_the_service_stopped(
    ctx, fake_network, pebble_calls
):
    state, fake = wired(fake_network)
    path = conf_file(state)
    path.write_text(
        "[BitTorrent]\nSession\\Port=53872\n\n[Preferences]\nDownloads\\SavePath=/data/x\n"
        "WebUI\\Username=admin\n"
        f"WebUI\\Password_PBKDF2={conf.hash_password('someone-elses-password')}\n"
    )
    boot_on_start(pebble_calls, fake, path.parents[2])

    out = ctx.run(ctx.on.update_status(), state)

    text = conf_file(out).read_text()
    assert conf.credentials_match(text, "admin", credentials(out)["password"])
    assert "Session\\Port=53872" in text and "Downloads\\SavePath=/data/x" in text
    names = pebble_calls.names()
    assert names.index("stop") < names.index("push") < names.index("start")
    assert fake.boots == 1
    assert out.unit_status.name == "active"


def test_container_not_reachable_waits(ctx, fake_network):
    state, _ = wired(fake_network)
    container = dataclasses.replace(state.get_container("qbittorrent"), can_connect=False)
    out = ctx.run(ctx.on.update_status(), dataclasses.replace(state, containers=[container]))
    assert out.unit_status == testing.WaitingStatus("waiting for the qbittorrent container")


def test_a_fresh_non_leader_writes_no_conf(ctx, fake_network, tmp_path):
    fake_network.add("localhost:8080", FakeQBittorrent())
    with record_hook_tools() as tools:
        out = ctx.run(
            ctx.on.update_status(),
            fresh_state(tmp_path, leader=False, config={"require-vpn": False}),
        )
    assert out.unit_status.name == "blocked"
    assert "juju scale-application qbittorrent-k8s 1" in out.unit_status.message
    assert tools.management == []
    assert not conf_file(out).exists()


def test_non_leader_stands_by_and_publishes_nothing(ctx, fake_network):
    state, fake = wired(fake_network, leader=False)
    categories = dict(fake.categories)
    out = ctx.run(ctx.on.update_status(), state)
    assert out.unit_status == testing.BlockedStatus(
        "qbittorrent-k8s runs on one unit only; this one stands by, stopped: "
        "juju scale-application qbittorrent-k8s 1"
    )
    assert services(out)["qbittorrent"] != pebble.ServiceStatus.ACTIVE
    assert fake.categories == categories
    for relation in out.relations:
        if relation.endpoint == "download-client":
            assert dict(relation.local_app_data) == {}


# ---------------------------------------------------------------------------------------
# download-client: publishing and categories
# ---------------------------------------------------------------------------------------


def test_publishes_url_kind_and_secret_id_and_grants_the_secret(ctx, fake_network):
    state, fake = wired(fake_network)
    radarr = builders.download_client_from_arr(kind="radarr", relation_id=42)
    state = with_relations(state, "vpn-gateway", radarr.relation)
    out = ctx.run(ctx.on.relation_changed(radarr.relation), state)

    relation = out.get_relation(42)
    secret = credentials_secret(out)
    assert decoded(relation.local_app_data) == {
        "url": "http://qbittorrent-k8s.media.svc.cluster.local:8080",
        "kind": "qbittorrent",
        "credentials_secret_id": secret.id,
        "version": 1,
    }
    assert 42 in secret.remote_grants
    assert fake.categories == {"radarr": "/data/downloads/radarr"}
    assert out.unit_status == testing.ActiveStatus(
        "via VPN 203.0.113.7, kill switch on; categories: radarr"
    )


def test_category_created_as_the_requirer_asks(ctx, fake_network):
    state, fake = wired(fake_network)
    fake.categories.clear()
    sonarr = builders.download_client_from_arr(kind="sonarr", category="tv-shows")
    state = with_relations(state, "vpn-gateway", sonarr.relation)
    ctx.run(ctx.on.relation_changed(sonarr.relation), state)
    assert fake.categories == {"tv-shows": "/data/downloads/tv-shows"}


def test_managed_categories_go_with_their_relation_and_after_the_last(ctx, fake_network):
    state, fake = wired(fake_network)
    fake.categories["my-own"] = "/data/mine"
    radarr = next(r for r in state.relations if r.remote_app_name == "radarr")

    # relation-broken: the relation is still listed by ops, and treated as gone.
    out = ctx.run(ctx.on.relation_broken(radarr), state)
    assert fake.categories == {"sonarr": "/data/downloads/sonarr", "my-own": "/data/mine"}

    sonarr = next(r for r in out.relations if r.remote_app_name == "sonarr")
    out = dataclasses.replace(
        out, relations=[r for r in out.relations if r.remote_app_name != "radarr"]
    )
    out = ctx.run(ctx.on.relation_broken(sonarr), out)
    assert fake.categories == {"my-own": "/data/mine"}  # the user's category stays
    assert out.unit_status.name == "active"


def test_radarrs_category_only_add_lands_in_its_category_folder(ctx, fake_network):
    state, fake = wired(fake_network)
    # qBittorrent's own defaults: manual management, the profile's downloads folder.
    fake.preferences |= {"auto_tmm_enabled": False, "save_path": "/config/qBittorrent/downloads"}

    out = ctx.run(ctx.on.config_changed(), state)

    assert out.unit_status.name == "active"
    assert fake.preferences["auto_tmm_enabled"] is True
    assert fake.preferences["save_path"] == "/data/downloads"
    client = QBittorrentClient("http://localhost:8080")
    client.login("admin", credentials(out)["password"])
    torrent, info_hash = make_torrent("film.mkv", b"x" * 50_000)
    add_like_arr(client.http, torrent, "radarr")
    assert save_path_of(client.http, info_hash) == "/data/downloads/radarr"
    # Converged: the next full reconcile sends no preference.
    writes = len(fake.api_writes)
    ctx.run(ctx.on.config_changed(), out)
    assert [r.path for r in fake.api_writes[writes:]] == []


def test_same_named_user_category_is_left_alone_and_reported(ctx, fake_network):
    state, fake = wired(fake_network)
    fake.categories["radarr"] = "/srv/films"
    out = ctx.run(ctx.on.update_status(), state)
    assert fake.categories["radarr"] == "/srv/films"
    assert fake.api_writes == []
    assert out.unit_status == ops.BlockedStatus(
        "category radarr exists in qBittorrent with another folder and is left as the "
        "user's: delete or rename it in qBittorrent"
    )
    # Leaving the user's category does not make it managed: removing the relation keeps it.
    out = ctx.run(ctx.on.config_changed(), without_endpoint(out, "download-client"))
    assert fake.categories == {"radarr": "/srv/films"}


def test_a_relation_with_unreadable_data_keeps_its_category(ctx, fake_network):
    state, fake = wired(fake_network)
    radarr = next(r for r in state.relations if r.remote_app_name == "radarr")
    garbled = dataclasses.replace(radarr, remote_app_data={"category": "{not json"})
    others = [r for r in state.relations if r.remote_app_name != "radarr"]
    out = ctx.run(
        ctx.on.relation_changed(garbled), dataclasses.replace(state, relations=[*others, garbled])
    )
    assert fake.categories["radarr"] == "/data/downloads/radarr"
    assert out.unit_status == testing.BlockedStatus(
        "invalid data from radarr on download-client: category: not valid JSON"
    )


def test_requirer_that_has_not_asked_yet_is_waited_for(ctx, fake_network):
    state, _ = wired(fake_network)
    silent = testing.Relation("download-client", remote_app_name="radarr2")
    out = ctx.run(
        ctx.on.relation_joined(silent, remote_unit=0), with_relations(state, "vpn-gateway", silent)
    )
    assert out.unit_status == testing.WaitingStatus("waiting for radarr2 to ask for a category")


def test_invalid_requirer_data_is_reported(ctx, fake_network):
    state, fake = wired(fake_network)
    bad = testing.Relation(
        "download-client",
        remote_app_name="radarr3",
        remote_app_data={"kind": '"radarr"', "category": '"Bad Name!"'},
    )
    out = ctx.run(ctx.on.relation_changed(bad), with_relations(state, "vpn-gateway", bad))
    assert out.unit_status.name == "blocked"
    assert out.unit_status.message.startswith(
        "invalid data from radarr3 on download-client: category"
    )
    assert "Bad Name!" not in fake.categories


# ---------------------------------------------------------------------------------------
# Rotation
# ---------------------------------------------------------------------------------------


def test_rotate_action_changes_the_password_through_the_api_then_publishes(
    ctx, fake_network, pebble_calls
):
    state, fake = wired(fake_network)
    old = credentials(state)["password"]
    out = ctx.run(ctx.on.action("rotate-credentials"), state)

    new = credentials(out)["password"]
    secret = credentials_secret(out)
    assert new != old
    assert ctx.action_results == {"secret-id": secret.id, "revision": 2}
    assert fake.accepts("admin", new) and not fake.accepts("admin", old)
    assert fake.password_changes == 1
    assert fake.failed_logins_total == 1  # only the check that the old one is refused
    assert fake.failed_logins == 0  # and the next login already cleared it
    assert "stop" not in pebble_calls.names() and "restart" not in pebble_calls.names()
    assert conf.credentials_match(conf_file(out).read_text(), "admin", new)
    assert out.unit_status.name == "active"


def test_rotation_applies_to_the_workload_before_the_revision_exists(
    ctx, fake_network, monkeypatch
):
    state, fake = wired(fake_network)
    order: list[str] = []
    original_handle = fake._set_preferences
    original_set_content = ops.Secret.set_content

    def set_prefs(params):
        if "web_ui_password" in params.get("json", ""):
            order.append("workload")
        return original_handle(params)

    def set_content(self, content):
        order.append("publish")
        return original_set_content(self, content)

    monkeypatch.setattr(fake, "_set_preferences", set_prefs)
    monkeypatch.setattr(ops.Secret, "set_content", set_content)
    ctx.run(ctx.on.action("rotate-credentials"), state)
    assert order == ["workload", "publish"]


def test_rotation_refused_by_qbittorrent_publishes_nothing_and_fails(ctx, fake_network):
    state, fake = wired(fake_network)
    fake.refuse_password_change = True
    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("rotate-credentials"), state)
    assert "rotation failed, old credential kept" in failure.value.message
    out = failure.value.state
    assert credentials_secret(out).latest_content == credentials_secret(state).latest_content
    assert fake.failed_logins_total == 1  # the new password was tried once; no more
    assert out.unit_status.name == "active"  # the old password still works


def test_rotation_when_qbittorrent_refuses_the_current_password(ctx, fake_network):
    state, fake = wired(fake_network)
    fake.password = "changed-in-the-webui"
    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("rotate-credentials"), state)
    assert "refused the current password" in failure.value.message
    assert credentials_secret(failure.value.state).latest_content == (
        credentials_secret(state).latest_content
    )
    assert fake.password_changes == 0


def test_rotation_needs_the_leader(ctx, fake_network):
    state, fake = wired(fake_network, leader=False)
    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("rotate-credentials"), state)
    assert failure.value.message.startswith("run this on the leader")
    assert fake.password_changes == 0


def test_secret_rotate_event_rotates(ctx, fake_network):
    state, fake = wired(fake_network)
    out = ctx.run(ctx.on.secret_rotate(credentials_secret(state)), state)
    new = credentials(out)["password"]
    assert new != credentials(state)["password"] and fake.accepts("admin", new)


def test_rotation_with_the_app_down_rewrites_the_conf_restarts_and_confirms(
    ctx, fake_network, pebble_calls
):
    state, fake = wired(fake_network)
    old = credentials(state)["password"]
    fake.fault = "down"
    boot_on_start(pebble_calls, fake, conf_file(state).parents[2])

    out = ctx.run(ctx.on.action("rotate-credentials"), state)

    new = credentials(out)["password"]
    assert ctx.action_results["revision"] == 2
    assert fake.boots == 1 and fake.accepts("admin", new) and not fake.accepts("admin", old)
    names = pebble_calls.names()
    assert names.index("stop") < names.index("push") < names.index("start")
    assert out.unit_status.name == "active"


def test_rotation_while_stopped_for_lack_of_vpn_keeps_it_stopped(ctx, fake_network, pebble_calls):
    state, _fake = wired(fake_network)
    state = without_endpoint(state, "vpn-gateway")
    stopped = ctx.run(ctx.on.update_status(), state)
    assert services(stopped)["qbittorrent"] != pebble.ServiceStatus.ACTIVE
    pebble_calls.clear()

    out = ctx.run(ctx.on.action("rotate-credentials"), stopped)

    new = credentials(out)["password"]
    assert ctx.action_results["revision"] == 2
    assert conf.credentials_match(conf_file(out).read_text(), "admin", new)
    assert "start" not in pebble_calls.names() and "replan" not in pebble_calls.names()
    assert services(out)["qbittorrent"] != pebble.ServiceStatus.ACTIVE


def test_secret_remove_prunes_the_old_revision(ctx, fake_network):
    state, _ = wired(fake_network)
    rotated = ctx.run(ctx.on.action("rotate-credentials"), state)
    ctx.run(ctx.on.secret_remove(credentials_secret(rotated), revision=1), rotated)
    assert ctx.removed_secret_revisions == [1]


@pytest.mark.parametrize(
    ("value", "policy"),
    [("never", None), ("daily", ops.SecretRotate.DAILY), ("yearly", ops.SecretRotate.YEARLY)],
)
def test_rotation_interval_sets_the_rotate_policy(ctx, fake_network, value, policy):
    state, _ = wired(fake_network)
    out = ctx.run(
        ctx.on.config_changed(),
        dataclasses.replace(state, config={**MEDIA, "rotation-interval": value}),
    )
    assert credentials_secret(out).rotate == (policy or ops.SecretRotate.NEVER)


def test_invalid_rotation_interval_blocks_naming_the_values(ctx, fake_network):
    state, _ = wired(fake_network)
    out = ctx.run(
        ctx.on.config_changed(),
        dataclasses.replace(state, config={**MEDIA, "rotation-interval": "fortnightly"}),
    )
    assert out.unit_status == testing.BlockedStatus(
        "invalid rotation-interval 'fortnightly': use one of never, hourly, daily, weekly, "
        "monthly, quarterly, yearly"
    )


# ---------------------------------------------------------------------------------------
# VPN: proxy preferences and fail-closed
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v4.5.2", "v5.1.2"])
def test_gateway_proxy_is_applied_in_the_form_the_release_speaks(ctx, fake_network, version):
    state, _ = wired(fake_network)
    fake = FakeQBittorrent(password=credentials(state)["password"], version=version)
    fake_network.add("localhost:8080", fake)
    gluetun = gluetun_remote(state)
    proxy_secret = next(
        s
        for s in state.secrets
        if s.id == json.loads(gluetun.remote_app_data["proxy_credentials_secret_id"])
    )

    out = ctx.run(ctx.on.relation_changed(gluetun), state)

    prefs = fake.preferences
    assert prefs["proxy_ip"] == "gluetun-0.gluetun-endpoints.media.svc.cluster.local"
    assert prefs["proxy_port"] == 1080
    assert prefs["proxy_username"] == proxy_secret.latest_content["username"]
    assert prefs["proxy_password"] == proxy_secret.latest_content["password"]
    assert prefs["proxy_peer_connections"] is True and prefs["proxy_hostname_lookup"] is True
    assert (prefs["dht"], prefs["lsd"], prefs["upnp"]) == (False, False, False)
    if version == "v4.5.2":
        assert prefs["proxy_type"] == 4  # SOCKS5 with authentication
    else:
        assert prefs["proxy_type"] == "SOCKS5" and prefs["proxy_auth_enabled"] is True
        assert prefs["proxy_bittorrent"] is True
    assert out.unit_status.message.startswith("via VPN 203.0.113.7")


def test_proxy_removed_when_the_gateway_goes_and_vpn_is_optional(ctx, fake_network):
    state, fake = wired(fake_network)
    state = dataclasses.replace(state, config={**MEDIA, "require-vpn": False})
    out = ctx.run(ctx.on.relation_broken(gluetun_remote(state)), state)
    prefs = fake.preferences
    assert prefs["proxy_type"] == 0
    assert prefs["proxy_username"] == "" and prefs["proxy_password"] == ""
    assert (prefs["dht"], prefs["lsd"], prefs["upnp"]) == (True, True, True)
    assert out.unit_status.message.startswith("no VPN (require-vpn=false)")
    assert services(out)["qbittorrent"] == pebble.ServiceStatus.ACTIVE


def test_a_proxy_the_user_set_up_is_not_removed(ctx, fake_network):
    state, fake = wired(fake_network)
    fake.preferences.update({"proxy_type": 2, "proxy_ip": "10.0.0.9", "dht": True})
    state = dataclasses.replace(
        without_endpoint(state, "vpn-gateway"), config={**MEDIA, "require-vpn": False}
    )
    ctx.run(ctx.on.update_status(), state)
    assert fake.preferences["proxy_type"] == 2 and fake.preferences["proxy_ip"] == "10.0.0.9"
    assert fake.api_writes == []


def test_require_vpn_without_gateway_stops_qbittorrent(ctx, fake_network, pebble_calls):
    state, fake = wired(fake_network)
    out = ctx.run(ctx.on.relation_broken(gluetun_remote(state)), state)
    assert out.unit_status == testing.BlockedStatus(
        "no VPN and require-vpn is true: juju integrate qbittorrent-k8s gluetun, "
        "or juju config qbittorrent-k8s require-vpn=false"
    )
    assert services(out)["qbittorrent"] != pebble.ServiceStatus.ACTIVE
    assert planned_service(out)["startup"] == "disabled"  # not started on a pod restart
    assert "stop" in pebble_calls.names()
    fake.requests.clear()
    later = ctx.run(ctx.on.update_status(), without_endpoint(out, "vpn-gateway"))
    assert fake.requests == []  # nothing talks to a daemon that must stay off
    assert services(later)["qbittorrent"] != pebble.ServiceStatus.ACTIVE


def test_disconnected_gateway_stops_qbittorrent_and_waits(ctx, fake_network):
    state, _fake = wired(fake_network)
    gluetun = builders.vpn_gateway_from_gluetun(connected=False)
    state = dataclasses.replace(
        without_endpoint(state, "vpn-gateway"),
        relations=[*without_endpoint(state, "vpn-gateway").relations, gluetun.relation],
        secrets=[*state.secrets, *gluetun.secrets],
    )
    out = ctx.run(ctx.on.relation_changed(gluetun.relation), state)
    assert out.unit_status == testing.WaitingStatus("VPN gluetun disconnected; downloads stopped")
    assert services(out)["qbittorrent"] != pebble.ServiceStatus.ACTIVE


def test_qbittorrent_starts_again_when_the_gateway_returns(ctx, fake_network):
    state, _fake = wired(fake_network)
    stopped = ctx.run(ctx.on.update_status(), without_endpoint(state, "vpn-gateway"))
    assert services(stopped)["qbittorrent"] != pebble.ServiceStatus.ACTIVE
    back = dataclasses.replace(stopped, relations=state.relations)
    out = ctx.run(ctx.on.relation_changed(gluetun_remote(state)), back)
    assert services(out)["qbittorrent"] == pebble.ServiceStatus.ACTIVE
    assert planned_service(out)["startup"] == "enabled"
    assert out.unit_status.name == "active"


def test_gateway_password_rotation_reaches_qbittorrent(ctx, fake_network):
    state, fake = wired(fake_network)
    gluetun = gluetun_remote(state)
    proxy_id = json.loads(gluetun.remote_app_data["proxy_credentials_secret_id"])
    proxy = next(s for s in state.secrets if s.id == proxy_id)
    rotated = dataclasses.replace(
        proxy, latest_content={"username": "charmarr", "password": "a-brand-new-proxy-pw"}
    )
    state = dataclasses.replace(
        state, secrets=[s for s in state.secrets if s.id != proxy_id] + [rotated]
    )
    ctx.run(ctx.on.secret_changed(rotated), state)
    assert fake.preferences["proxy_password"] == "a-brand-new-proxy-pw"


def test_unusable_gateway_data_with_require_vpn_stops_and_says_why(ctx, fake_network, ungranted):
    state, _ = wired(fake_network)
    gluetun = gluetun_remote(state)
    ungranted(json.loads(gluetun.remote_app_data["proxy_credentials_secret_id"]))
    out = ctx.run(ctx.on.update_status(), state)
    assert out.unit_status == testing.WaitingStatus(
        "waiting for gluetun (vpn-gateway) to grant its secret"
    )
    assert services(out)["qbittorrent"] != pebble.ServiceStatus.ACTIVE


# ---------------------------------------------------------------------------------------
# Workload faults
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        (
            "down",
            testing.WaitingStatus("waiting for qbittorrent to answer (ConnectionRefusedError)"),
        ),
        (
            "401",
            testing.BlockedStatus(
                "qbittorrent refused the charm's credentials; "
                "juju run qbittorrent/leader rotate-credentials re-applies them"
            ),
        ),
        (
            "500",
            testing.WaitingStatus("qbittorrent answered POST /api/v2/auth/login with HTTP 500"),
        ),
        (
            "garbage",
            testing.BlockedStatus("qbittorrent answered the login with something unexpected"),
        ),
    ],
)
def test_workload_faults_end_in_a_status(ctx, fake_network, fault, status):
    state, fake = wired(fake_network)
    fake.fault = fault
    out = ctx.run(ctx.on.update_status(), state)
    assert out.unit_status == status
    assert credentials_secret(out).latest_content == credentials_secret(state).latest_content


def test_refused_credentials_block_after_one_try(ctx, fake_network):
    state, fake = wired(fake_network)
    fake.password = "changed-behind-the-charms-back"
    out = ctx.run(ctx.on.update_status(), state)
    assert out.unit_status.name == "blocked"
    assert "refused the charm's credentials" in out.unit_status.message
    assert fake.failed_logins_total == 1


def test_banned_charm_waits(ctx, fake_network):
    state, fake = wired(fake_network)
    fake.banned = True
    out = ctx.run(ctx.on.update_status(), state)
    assert out.unit_status.name == "waiting"
    assert "banned" in out.unit_status.message


def test_bad_options_never_stop_the_vpn_rule(ctx, fake_network):
    state, _ = wired(fake_network)
    state = dataclasses.replace(
        without_endpoint(state, "vpn-gateway"), config={**MEDIA, "rotation-interval": "sometimes"}
    )
    out = ctx.run(ctx.on.config_changed(), state)
    assert out.unit_status.name == "blocked"
    assert services(out)["qbittorrent"] != pebble.ServiceStatus.ACTIVE


def test_without_credentials_yet_and_no_vpn_the_daemon_is_still_stopped(ctx, fake_network):
    state, _ = wired(fake_network, leader=False)
    state = dataclasses.replace(
        without_endpoint(state, "vpn-gateway"),
        secrets=[s for s in state.secrets if s.label != "qbittorrent-credentials"],
    )
    out = ctx.run(ctx.on.update_status(), state)
    assert services(out)["qbittorrent"] != pebble.ServiceStatus.ACTIVE
    assert out.unit_status.name == "blocked"  # the VPN problem outranks the wait


def test_media_volume_is_mounted_at_data_and_unset_blocks(ctx, fake_network):
    state, _ = wired(fake_network)
    out = ctx.run(ctx.on.config_changed(), state)
    cluster = fake_network.kubernetes
    mounts = cluster.container("qbittorrent-k8s", "qbittorrent")["volumeMounts"]
    assert mounts == [{"name": "charmarr-media", "mountPath": "/data"}]
    out = ctx.run(ctx.on.config_changed(), dataclasses.replace(out, config={}))
    assert out.unit_status == testing.BlockedStatus(
        "media-volume unset: create a ReadWriteMany PVC in namespace media, "
        "then juju config qbittorrent-k8s media-volume=<pvc>"
    )
    assert cluster.container("qbittorrent-k8s", "qbittorrent")["volumeMounts"] == []


def test_pebble_lost_right_after_the_live_password_change_still_publishes_it(
    ctx, fake_network, monkeypatch
):
    """The running app took the new password, then Pebble went: the password qBittorrent
    runs with is the one published (never a credential no secret holds)."""
    state, fake = wired(fake_network)
    old = credentials(state)["password"]
    original = fake._set_preferences
    with pebble_outage() as outage:

        def set_prefs(params):
            answer = original(params)
            if "web_ui_password" in params.get("json", ""):
                outage.start()
            return answer

        monkeypatch.setattr(fake, "_set_preferences", set_prefs)
        out = ctx.run(ctx.on.action("rotate-credentials"), state)
    new = credentials(out)["password"]
    assert new != old and fake.accepts("admin", new) and not fake.accepts("admin", old)
    assert ctx.action_results == {"secret-id": credentials_secret(out).id, "revision": 2}
    assert out.unit_status.name == "waiting"


def test_leadership_lost_after_the_live_password_change_puts_the_old_one_back(ctx, fake_network):
    """Juju refuses the new revision (leadership moved): the app is put back on the
    published password and the action says the old credential is kept."""
    state, fake = wired(fake_network)
    old = credentials(state)["password"]
    with leadership() as lead, before_hook_tool("secret-set", lead.lose):
        with pytest.raises(testing.ActionFailed) as failure:
            ctx.run(ctx.on.action("rotate-credentials"), state)
    assert "old credential kept" in failure.value.message
    out = failure.value.state
    assert credentials(out)["password"] == old
    assert credentials_secret(out)._latest_revision == 1
    assert fake.accepts("admin", old)
