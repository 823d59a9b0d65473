"""Shared suite, run by ``charms/radarr/tests`` and ``charms/sonarr/tests`` (each binds the
``media_manager`` fixture to its table): Radarr and Sonarr cope with what the real apps do (each behaviour is in the Servarr fake,
citing the upstream file it mirrors): connection tests on POST and their 400 bodies, Plex
without a library, settings changed in the web UI (Port, BindAddress, UrlBase), and
Prowlarr's indexers checked once per Prowlarr key.
"""

from __future__ import annotations

import re
import sys
from urllib.parse import urlsplit

import pytest
from charms_under_test import context
from servarr_wired import media_manager_world

from charmarr_common.http import Request
from charmarr_servarr.api import RADARR, MediaManager
from charmarr_testing.fake_servarr import FakeServarr, config_xml, pebble_calls

APP: MediaManager = RADARR  # replaced per test by the `app` fixture


@pytest.fixture(autouse=True)
def app(media_manager: MediaManager, monkeypatch) -> MediaManager:
    """The charm under test's table (the module's APP follows it)."""
    monkeypatch.setattr(sys.modules[__name__], "APP", media_manager)
    return media_manager


@pytest.fixture
def ctx():
    return context(APP.name)


def _peer(network, state, app):
    relation = next(r for r in state.relations if r.remote_app_name == app)
    url = relation.remote_app_data["url"].strip('"')
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}", network.apps[f"{parts.hostname}:{parts.port}"]


def _secret_values(state) -> list[str]:
    return [v for s in state.secrets for v in s.latest_content.values() if len(v) >= 8]


def test_a_download_client_that_does_not_answer_waits_then_is_added(ctx, fake_network):
    state, fake = media_manager_world(APP, fake_network)
    address, qbt = _peer(fake_network, state, "qbittorrent")
    fake_network.remove(address)  # qBittorrent is still starting

    out = ctx.run(ctx.on.update_status(), state)

    assert out.unit_status.name == "waiting"
    assert out.unit_status.message == (
        f"{APP.name} refused download client qbittorrent (juju): "
        "Unable to connect to qBittorrent; retrying"
    )
    assert "qbittorrent (juju)" not in fake.named("downloadclient")
    assert "sabnzbd (juju)" in fake.named("downloadclient"), "the others are still added"
    assert not any(v in out.unit_status.message for v in _secret_values(state))

    fake_network.add(address, qbt)
    out = ctx.run(ctx.on.update_status(), out)  # not converged: a full reconcile again
    assert out.unit_status.name == "active"
    assert "qbittorrent (juju)" in fake.named("downloadclient")


def test_a_category_sabnzbd_does_not_have_yet_waits_with_sabnzbds_reason(ctx, fake_network):
    state, fake = media_manager_world(APP, fake_network)
    _, sab = _peer(fake_network, state, "sabnzbd")
    category = sab.categories.pop(f"{APP.name}-k8s")  # SABnzbd's charm has not made it yet

    out = ctx.run(ctx.on.update_status(), state)

    assert out.unit_status.message == (
        f"{APP.name} refused download client sabnzbd (juju): Category does not exist; retrying"
    )
    assert out.unit_status.name == "waiting"
    sab.categories[f"{APP.name}-k8s"] = category
    out = ctx.run(ctx.on.update_status(), out)
    assert out.unit_status.name == "active"
    assert "sabnzbd (juju)" in fake.named("downloadclient")


def test_a_refusal_never_shows_a_secret_even_when_the_app_echoes_it(ctx, fake_network):
    """The apps put the attempted value in each failure (a credential, for a key field)."""
    state, fake = media_manager_world(APP, fake_network)
    _, sab = _peer(fake_network, state, "sabnzbd")
    key = sab.api_key
    original = fake.test

    def echoing(resource, entry):
        failures = original(resource, entry)
        if entry.get("implementation") == "Sabnzbd":
            message = f"API Key {key} Incorrect"
            failures = [{"propertyName": "APIKey", "errorMessage": message, "attemptedValue": key}]
        return failures

    fake.test = echoing
    out = ctx.run(ctx.on.update_status(), state)
    assert "API Key *** Incorrect" in out.unit_status.message
    assert key not in out.unit_status.message


def test_plex_without_a_library_of_this_kind_blocks_until_one_exists(ctx, fake_network):
    state, fake = media_manager_world(APP, fake_network)
    _, plex = _peer(fake_network, state, "plex")
    kind = "movie" if APP is RADARR else "show"
    plex.libraries = [(k, t) for k, t in plex.libraries if k != kind]

    out = ctx.run(ctx.on.update_status(), state)

    assert out.unit_status.name == "blocked"
    assert out.unit_status.message == (
        f"{APP.name} refused the Plex connection plex (juju): At least one {APP.library} "
        f"library is required; create a {APP.library} library in Plex; it is added at the "
        "next update-status"
    )
    assert "plex (juju)" not in fake.named("notification")
    plex.add_library(kind, "Mine")
    out = ctx.run(ctx.on.update_status(), out)
    assert out.unit_status.name == "active"
    assert "plex (juju)" in fake.named("notification")


@pytest.mark.parametrize(
    ("tag", "drifted"),
    [("Port", "9999"), ("BindAddress", "127.0.0.1"), ("UrlBase", "/media")],
)
def test_a_setting_changed_in_the_web_ui_is_put_back_and_the_app_restarted(
    ctx, fake_network, tag, drifted
):
    state, _ = media_manager_world(APP, fake_network)
    out = ctx.run(ctx.on.update_status(), state)
    assert out.unit_status.name == "active"
    path = next(iter(out.containers)).mounts["config"].source / "config.xml"
    path.write_text(
        re.sub(rf"<{tag}>[^<]*</{tag}>", f"<{tag}>{drifted}</{tag}>", path.read_text())
    )

    with pebble_calls() as calls:
        out = ctx.run(ctx.on.config_changed(), out)

    pinned = {"Port": str(APP.port), "BindAddress": "*", "UrlBase": ""}[tag]
    text = path.read_text()
    assert f"<{tag}>{drifted}</{tag}>" not in text
    assert f"<{tag}>{pinned}</{tag}>" in text or f"<{tag} />" in text
    assert "restart" in calls, "the app reads config.xml at start"
    assert out.unit_status.name == "active", out.unit_status


def test_the_leader_takes_its_key_from_config_xml_only_while_its_memo_vouches_for_it(
    ctx, fake_network
):
    """No ``secret-get`` for the app's own key while config.xml holds the key the leader last
    read; a key regenerated in the web UI is put back from the secret, with a restart."""
    from charmarr_testing.pytest_plugin import record_hook_tools

    state, _ = media_manager_world(APP, fake_network)
    out = ctx.run(ctx.on.update_status(), state)
    assert out.unit_status.name == "active"
    with record_hook_tools() as tools:
        out = ctx.run(ctx.on.config_changed(), out)
    assert tools.by_tool().get("secret-get", 0) == 0
    key = next(s for s in out.secrets if s.label == f"{APP.name}-api-key").tracked_content
    path = next(iter(out.containers)).mounts["config"].source / "config.xml"
    assert f"<ApiKey>{key['api-key']}</ApiKey>" in path.read_text()
    path.write_text(
        re.sub(r"<ApiKey>[^<]*</ApiKey>", f"<ApiKey>{'f' * 32}</ApiKey>", path.read_text())
    )

    with record_hook_tools() as tools, pebble_calls() as calls:
        out = ctx.run(ctx.on.config_changed(), out)

    assert tools.by_tool().get("secret-get", 0) == 1
    assert f"<ApiKey>{key['api-key']}</ApiKey>" in path.read_text()
    assert "restart" in calls, "the app reads config.xml at start"
    assert out.unit_status.name == "active", out.unit_status


def test_the_fake_redirects_outside_the_url_base_and_listens_where_config_xml_says(tmp_path):
    path = tmp_path / "config.xml"
    base = config_xml("k" * 32, APP.port)
    path.write_text(base.replace("<UrlBase></UrlBase>", "<UrlBase>/media</UrlBase>"))
    fake = FakeServarr(APP, "k" * 32, config_path=path)
    url = f"http://localhost:{APP.port}"
    answer = fake(Request("GET", f"{url}/ping"))
    assert (answer.status, answer.headers["location"]) == (307, "/media/ping")
    assert fake(Request("GET", f"{url}/media/ping")).json() == {"status": "OK"}
    path.write_text(base.replace(f"<Port>{APP.port}</Port>", "<Port>1234</Port>"))
    with pytest.raises(ConnectionRefusedError):
        fake(Request("GET", f"{url}/ping"))
    path.write_text(
        base.replace("<BindAddress>*</BindAddress>", "<BindAddress>10.1.1.1</BindAddress>")
    )
    with pytest.raises(ConnectionRefusedError):
        fake(Request("GET", f"http://radarr.media.svc.cluster.local:{APP.port}/ping"))


def test_indexers_prowlarr_synced_are_tested_once_per_prowlarr_key(ctx, fake_network):
    state, fake = media_manager_world(APP, fake_network)
    _, prowlarr = _peer(fake_network, state, "prowlarr")
    prowlarr_url = (
        next(r for r in state.relations if r.remote_app_name == "prowlarr")
        .remote_app_data["url"]
        .strip('"')
    )
    fake.add(
        "indexer",
        {
            "name": "Nyaa (Prowlarr)",
            "implementation": "Torznab",
            "configContract": "TorznabSettings",
            "protocol": "torrent",
            "enableRss": True,
            "enableAutomaticSearch": True,
            "enableInteractiveSearch": True,
            "priority": 25,
            "fields": [
                {"name": "baseUrl", "value": f"{prowlarr_url}/1/"},
                {"name": "apiPath", "value": "/api"},
                {"name": "apiKey", "value": "an-old-prowlarr-key-0000"},
            ],
        },
    )
    prowlarr.add_indexer("Nyaa")

    out = ctx.run(ctx.on.update_status(), state)

    assert out.unit_status.name == "waiting"
    assert out.unit_status.message == (
        f"1 prowlarr indexer in {APP.name} hold an old prowlarr key; waiting for prowlarr "
        "to sync its current key"
    )
    stored = next(iter(fake.store["indexer"].values()))
    stored["fields"][2]["value"] = prowlarr.api_key  # Prowlarr's forced sync
    out = ctx.run(ctx.on.update_status(), out)
    assert out.unit_status.name == "active"
    tests = [r for r in fake.requests if r.path.endswith("/indexer/test")]
    ctx.run(ctx.on.config_changed(), out)
    assert [r for r in fake.requests if r.path.endswith("/indexer/test")] == tests, "once per key"
