"""download-client categories and the vpn-gateway (SOCKS5 proxy, require-vpn fail-closed)."""

from __future__ import annotations

import dataclasses

import pytest
import sabnzbd_wired as wired
from _sabnzbd.api import SabnzbdClient
from ops import pebble, testing

from charmarr_testing import builders

BOTH = ("radarr", "sonarr")

GLUETUN_SOCKS = "gluetun-0.gluetun-endpoints.media.svc.cluster.local:1080"

MEDIA = {"media-volume": "charmarr-media"}


def ini_of(state_in) -> str:
    return (state_in.get_container("sabnzbd").mounts["config"].source / "sabnzbd.ini").read_text()


def without(state_in, endpoint, **changes):
    return dataclasses.replace(
        state_in, relations=[r for r in state_in.relations if r.endpoint != endpoint], **changes
    )


def running(out) -> bool:
    return out.get_container("sabnzbd").service_statuses["sabnzbd"] == pebble.ServiceStatus.ACTIVE


# -- categories ----------------------------------------------------------------------------------


def test_each_requirer_gets_its_category_under_data_downloads(ctx, fake_network):
    state_in, fake = wired.wired_state(fake_network, consumers=BOTH)
    movies = builders.download_client_from_arr(
        kind="radarr", remote_app="radarr4k", category="movies-4k", relation_id=21
    )
    state_in = dataclasses.replace(state_in, relations=[*state_in.relations, movies.relation])

    out = ctx.run(ctx.on.relation_changed(movies.relation), state_in)

    assert fake.categories["radarr"]["dir"] == "/data/downloads/radarr"
    assert fake.categories["sonarr"]["dir"] == "/data/downloads/sonarr"
    assert fake.categories["movies-4k"]["dir"] == "/data/downloads/movies-4k"
    assert out.unit_status == testing.ActiveStatus(
        "categories: movies-4k, radarr, sonarr; via VPN 203.0.113.7, kill switch on"
    )


def test_apps_named_tv_and_movies_adopt_sabnzbds_suggestions(ctx, fake_network):
    state_in, fake = wired.wired_state(fake_network, consumers=())
    tv = builders.download_client_from_arr(kind="sonarr", remote_app="tv", relation_id=21)
    movies = builders.download_client_from_arr(kind="radarr", remote_app="movies", relation_id=22)
    state_in = dataclasses.replace(
        state_in, relations=[*state_in.relations, tv.relation, movies.relation]
    )

    out = ctx.run(ctx.on.config_changed(), state_in)
    # Sonarr and Radarr read SABnzbd's whole config: SABnzbd adds its suggestions then.
    SabnzbdClient("http://localhost:8080", wired.API_KEY).call("get_config")
    out = ctx.run(ctx.on.config_changed(), out)

    assert fake.categories["tv"]["dir"] == "/data/downloads/tv"
    assert fake.categories["movies"]["dir"] == "/data/downloads/movies"
    assert fake.categories["audio"]["dir"] == ""  # SABnzbd's other suggestions stay its own
    assert out.unit_status == testing.ActiveStatus(
        "categories: movies, tv; via VPN 203.0.113.7, kill switch on"
    )


def test_category_of_a_removed_relation_is_deleted(ctx, fake_network):
    state_in, fake = wired.wired_state(fake_network, consumers=BOTH)
    first = ctx.run(ctx.on.update_status(), state_in)
    radarr = first.get_relation(11)

    out = ctx.run(ctx.on.relation_broken(radarr), first)

    assert "radarr" not in fake.categories
    assert "sonarr" in fake.categories
    assert out.unit_status.name == "active"


def test_categories_go_after_the_last_relation_and_user_ones_stay(ctx, fake_network):
    state_in, fake = wired.wired_state(fake_network, consumers=BOTH)
    fake.add_user_category("tv", "/mnt/tv")
    fake.add_user_category("anime", "/data/downloads/anime-by-hand")
    first = ctx.run(ctx.on.update_status(), state_in)
    last = without(first, "download-client")

    # Any full reconcile (not a converged update-status) sees that the relations are gone.
    out = ctx.run(ctx.on.config_changed(), last)

    # SABnzbd's own suggestions (no folder) were never the charm's: they stay too.
    assert set(fake.categories) == {"*", "tv", "anime", "movies", "audio", "software"}
    assert fake.categories["tv"]["dir"] == "/mnt/tv"
    deleted = [r.query["keyword"] for r in fake.requests if r.query.get("mode") == "del_config"]
    assert sorted(deleted) == ["radarr", "sonarr"]
    assert out.unit_status.name == "active"


def test_same_named_user_category_is_left_alone_and_reported(ctx, fake_network):
    state_in, fake = wired.wired_state(fake_network, consumers=BOTH)
    fake.add_user_category("radarr", "/mnt/my-movies")

    out = ctx.run(ctx.on.update_status(), state_in)

    assert fake.categories["radarr"]["dir"] == "/mnt/my-movies"
    touched = [r.query.get("keyword") for r in fake.api_writes]
    assert "radarr" not in touched
    assert out.unit_status.name == "blocked"
    assert "category radarr exists in SABnzbd with another folder" in out.unit_status.message


def test_invalid_requirer_data_is_reported_with_relation_and_field(ctx, fake_network):
    state_in, _ = wired.wired_state(fake_network, consumers=BOTH)
    bad = testing.Relation(
        "download-client",
        remote_app_name="lidarr",
        remote_app_data={"kind": '"lidarr"', "category": '"music"', "version": "1"},
        id=30,
    )
    state_in = dataclasses.replace(state_in, relations=[*state_in.relations, bad])

    out = ctx.run(ctx.on.relation_changed(bad), state_in)

    assert out.unit_status.name == "blocked"
    assert "invalid data from lidarr on download-client: kind" in out.unit_status.message


def test_a_relation_with_unreadable_data_keeps_every_managed_category(ctx, fake_network):
    state_in, fake = wired.wired_state(fake_network, consumers=BOTH)
    first = ctx.run(ctx.on.update_status(), state_in)
    radarr = first.get_relation(11)
    garbled = dataclasses.replace(radarr, remote_app_data={"kind": "not json", "version": "1"})
    state = dataclasses.replace(
        first, relations=[garbled if r.id == 11 else r for r in first.relations]
    )

    out = ctx.run(ctx.on.relation_changed(garbled), state)

    # Radarr's category is unknown this hook, not unwanted: its downloads keep their folder.
    assert fake.categories["radarr"]["dir"] == "/data/downloads/radarr"
    assert out.unit_status.name == "blocked"
    assert "invalid data from radarr on download-client: kind" in out.unit_status.message


def test_no_relations_no_categories_and_active(ctx, fake_network):
    state_in, fake = wired.wired_state(fake_network, consumers=BOTH)
    state_in = dataclasses.replace(state_in, relations=[], config={**MEDIA, "require-vpn": False})
    wired_ini = state_in.get_container("sabnzbd").mounts["config"].source / "sabnzbd.ini"
    wired_ini.write_text(wired.ini_text(wired.API_KEY))

    out = ctx.run(ctx.on.update_status(), state_in)

    assert out.unit_status == testing.ActiveStatus("")
    assert fake.api_writes == []


# -- vpn-gateway ---------------------------------------------------------------------------------


def test_ready_gateway_sets_the_socks5_proxy_and_shows_the_ip(ctx, fake_network, config_dir):
    gluetun = builders.vpn_gateway_from_gluetun(
        proxy_credentials={"username": "charmarr", "password": "s3cr3tpassw0rd"}
    )
    state_in = testing.State(
        leader=True,
        model=testing.Model(name="media"),
        config={**MEDIA, "require-vpn": True},
        relations=[gluetun.relation],
        secrets=[wired.owned_secret(), *gluetun.secrets],
        containers=[wired.container(config_dir, running=False)],
    )
    (config_dir / "sabnzbd.ini").write_text(wired.ini_text(wired.API_KEY))
    from charmarr_testing.fake_sabnzbd import FakeSabnzbd

    fake_network.add("localhost:8080", FakeSabnzbd(wired.API_KEY))

    out = ctx.run(ctx.on.relation_changed(gluetun.relation), state_in)

    text = (config_dir / "sabnzbd.ini").read_text()
    assert f"socks5_proxy_url = socks5://charmarr:s3cr3tpassw0rd@{GLUETUN_SOCKS}" in text
    assert running(out)  # allowed now, started with the proxy in place
    out = ctx.run(ctx.on.update_status(), out)
    assert out.unit_status == testing.ActiveStatus("via VPN 203.0.113.7, kill switch on")


def test_removing_the_gateway_removes_the_proxy(ctx, fake_network, pebble_calls):
    state_in, _ = wired.wired_state(fake_network, consumers=BOTH)
    state_in = dataclasses.replace(state_in, config={**MEDIA, "require-vpn": False})
    assert "socks5_proxy_url = socks5://" in ini_of(state_in)
    gateway = state_in.get_relation(13)

    out = ctx.run(ctx.on.relation_broken(gateway), state_in)

    assert 'socks5_proxy_url = ""' in ini_of(state_in)
    assert pebble_calls.index("stop") < pebble_calls.index("push") < pebble_calls.index("start")
    assert running(out)


def test_proxy_password_change_is_applied_on_secret_changed(ctx, fake_network):
    state_in, _ = wired.wired_state(fake_network, consumers=BOTH)
    proxy = next(s for s in state_in.secrets if "password" in s.latest_content)
    changed = dataclasses.replace(
        proxy, latest_content={"username": "charmarr", "password": "n3wpassw0rdvalue"}
    )
    state_in = dataclasses.replace(
        state_in, secrets=[changed if s.id == proxy.id else s for s in state_in.secrets]
    )

    ctx.run(ctx.on.secret_changed(changed), state_in)

    assert f"socks5://charmarr:n3wpassw0rdvalue@{GLUETUN_SOCKS}" in ini_of(state_in)


def test_require_vpn_without_gateway_stops_sabnzbd(ctx, fake_network, pebble_calls):
    state_in, fake = wired.wired_state(fake_network, consumers=BOTH)
    state_in = without(state_in, "vpn-gateway")
    fake.requests.clear()

    out = ctx.run(ctx.on.update_status(), state_in)

    assert not running(out)
    assert out.unit_status == testing.BlockedStatus(
        f"no VPN and require-vpn is true: juju integrate {wired.APP} gluetun, "
        f"or juju config {wired.APP} require-vpn=false"
    )
    assert fake.requests == []  # nothing asked of a daemon that must not run


def test_require_vpn_with_disconnected_gateway_stops_sabnzbd(ctx, fake_network):
    state_in, _ = wired.wired_state(fake_network, consumers=BOTH)
    down = builders.vpn_gateway_from_gluetun(connected=False, relation_id=13)
    state_in = dataclasses.replace(
        without(state_in, "vpn-gateway"),
        relations=[*without(state_in, "vpn-gateway").relations, down.relation],
        secrets=[wired.owned_secret(), *down.secrets],
    )

    out = ctx.run(ctx.on.relation_changed(down.relation), state_in)

    assert not running(out)
    assert out.unit_status == testing.WaitingStatus("VPN gluetun disconnected; downloads stopped")


def test_stopped_sabnzbd_starts_again_once_allowed(ctx, fake_network):
    state_in, _ = wired.wired_state(fake_network, consumers=BOTH)
    stopped = ctx.run(ctx.on.update_status(), without(state_in, "vpn-gateway"))
    assert not running(stopped)

    out = ctx.run(
        ctx.on.config_changed(),
        dataclasses.replace(stopped, config={**MEDIA, "require-vpn": False}),
    )

    assert running(out)
    assert 'socks5_proxy_url = ""' in ini_of(state_in)


def test_stopped_for_vpn_stays_stopped_on_the_next_hook(ctx, fake_network, pebble_calls):
    state_in, _ = wired.wired_state(fake_network, consumers=BOTH)
    stopped = ctx.run(ctx.on.update_status(), without(state_in, "vpn-gateway"))
    pebble_calls.clear()

    out = ctx.run(ctx.on.update_status(), stopped)

    assert not running(out)
    assert not {"start", "push", "stop", "replan", "add_layer"} & set(pebble_calls)


def test_require_vpn_false_without_gateway_downloads_directly(ctx, fake_network):
    state_in, _ = wired.wired_state(fake_network, consumers=BOTH)
    state_in = without(state_in, "vpn-gateway", config={**MEDIA, "require-vpn": False})

    restarted = ctx.run(ctx.on.update_status(), state_in)  # proxy removed: restart
    out = ctx.run(ctx.on.update_status(), restarted)

    assert running(out)
    assert out.unit_status == testing.ActiveStatus("categories: radarr, sonarr")


@pytest.mark.parametrize("require_vpn", [True, False])
def test_gateway_secret_not_granted(ctx, fake_network, ungranted, require_vpn):
    state_in, _ = wired.wired_state(fake_network, consumers=BOTH)
    state_in = dataclasses.replace(state_in, config={**MEDIA, "require-vpn": require_vpn})
    gateway = state_in.get_relation(13)
    proxy_id = gateway.remote_app_data["proxy_credentials_secret_id"].strip('"')
    ungranted(proxy_id)

    out = ctx.run(ctx.on.update_status(), state_in)

    assert out.unit_status == testing.WaitingStatus(
        "waiting for gluetun (vpn-gateway) to grant its secret"
    )
    assert running(out) is (not require_vpn)


@pytest.mark.parametrize("require_vpn", [True, False])
def test_proxy_credentials_sabnzbd_cannot_use(ctx, fake_network, config_dir, require_vpn):
    gluetun = builders.vpn_gateway_from_gluetun(
        proxy_credentials={"username": "charmarr", "password": "p@ss/w0rd:x"}
    )
    state_in = testing.State(
        leader=True,
        model=testing.Model(name="media"),
        config={**MEDIA, "require-vpn": require_vpn},
        relations=[gluetun.relation],
        secrets=[wired.owned_secret(), *gluetun.secrets],
        containers=[wired.container(config_dir)],
    )
    (config_dir / "sabnzbd.ini").write_text(wired.ini_text(wired.API_KEY))
    from charmarr_testing.fake_sabnzbd import FakeSabnzbd

    fake_network.add("localhost:8080", FakeSabnzbd(wired.API_KEY))

    out = ctx.run(ctx.on.relation_changed(gluetun.relation), state_in)

    assert out.unit_status == testing.BlockedStatus(
        "proxy credentials from gluetun are not URL-safe; SABnzbd cannot use them"
    )
    assert running(out) is (not require_vpn)
    assert "p@ss" not in (config_dir / "sabnzbd.ini").read_text()
