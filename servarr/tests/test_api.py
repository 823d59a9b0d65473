"""The Servarr client, payload builders and entry sync; config.xml handling; the Servarr fake.

Every request the client sends here goes through :class:`FakeServarr` and is validated
against the apps' own OpenAPI documents.
"""

from __future__ import annotations

import re

import pytest

from charmarr_common.errors import CharmarrError
from charmarr_common.http import Request, WorkloadHttpError, WorkloadUnreachableError
from charmarr_servarr import api as servarr
from charmarr_servarr.arr import (
    ConfigXmlError,
    pebble_layer,
    pinned_settings,
    read_api_key,
    render_config_xml,
)
from charmarr_testing.fake_plex import FakePlexServer
from charmarr_testing.fake_qbittorrent import FakeQBittorrent
from charmarr_testing.fake_sabnzbd import FakeSabnzbd
from charmarr_testing.fake_servarr import FakeServarr, config_xml
from charmarr_testing.openapi import reference_dir, validate_request, validate_requests

KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def radarr(fake_network):
    fake = FakeServarr(servarr.RADARR, KEY)
    fake_network.add("localhost:7878", fake)
    yield fake
    if reference_dir().is_dir():
        validate_requests(fake.requests, "radarr")


@pytest.fixture
def prowlarr(fake_network):
    fake = FakeServarr(servarr.PROWLARR, KEY)
    fake_network.add("localhost:9696", fake)
    yield fake
    if reference_dir().is_dir():
        validate_requests(fake.requests, "prowlarr")


@pytest.fixture
def peers(fake_network):
    """The apps the entries below point at, answering as set up by their charms."""
    qbt = FakeQBittorrent("admin", "pw-123456789")
    fake_network.add("qbittorrent.media.svc.cluster.local:8080", qbt)
    sab = FakeSabnzbd("s" * 32)
    sab.add_user_category("sonarr", "/data/downloads/sonarr")

    def sab_under_base(request):  # SABnzbd's url_base /sab
        return sab(Request(request.method, request.url.replace("/sab/", "/", 1), request.headers))

    fake_network.add("sab.example:9090", sab_under_base)
    plex = FakePlexServer(None, token="t" * 20)
    plex.add_library("movie", "Movies")
    fake_network.add("plex:32400", plex)
    fake_network.add("radarr:7878", FakeServarr(servarr.RADARR, "r" * 32))
    return {"qbittorrent": qbt, "sabnzbd": sab, "plex": plex}


def _client(app=servarr.RADARR, key=KEY):
    return servarr.ServarrClient(f"http://localhost:{app.port}", app, key, name=app.name)


# ---------------------------------------------------------------------------------------------
# config.xml
# ---------------------------------------------------------------------------------------------


PINNED = pinned_settings(servarr.RADARR, KEY)


def test_new_config_xml_holds_the_key_and_where_the_app_listens():
    text = render_config_xml(None, PINNED)
    assert read_api_key(text) == KEY
    assert text.startswith("<Config>")
    for pinned in ("<Port>7878</Port>", "<BindAddress>*</BindAddress>", "<UrlBase />"):
        assert pinned in text


def test_key_is_replaced_and_every_other_setting_kept():
    current = (
        '<?xml version="1.0" encoding="utf-8"?>\n<Config>\n  <!-- mine -->\n'
        "  <Port>7878</Port>\n  <ApiKey>old</ApiKey>\n  <LogLevel>debug</LogLevel>\n</Config>\n"
    )
    text = render_config_xml(current, PINNED)
    assert read_api_key(text) == KEY
    for kept in ("<Port>7878</Port>", "<LogLevel>debug</LogLevel>", "<!-- mine -->"):
        assert kept in text
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    assert "old" not in text


def test_missing_key_element_is_added():
    text = render_config_xml("<Config>\n  <LogLevel>info</LogLevel>\n</Config>\n", PINNED)
    assert read_api_key(text) == KEY
    assert "<LogLevel>info</LogLevel>" in text


def test_same_settings_return_the_text_unchanged():
    current = config_xml(KEY, 7878).replace("  ", "\t")
    assert render_config_xml(current, PINNED) is current


@pytest.mark.parametrize(
    ("drift", "fixed"),
    [
        ("<Port>7879</Port>", "<Port>7878</Port>"),
        ("<BindAddress>127.0.0.1</BindAddress>", "<BindAddress>*</BindAddress>"),
        ("<UrlBase>/radarr</UrlBase>", "<UrlBase />"),
    ],
)
def test_a_setting_changed_in_the_web_ui_is_put_back(drift, fixed):
    current = config_xml(KEY, 7878)
    tag = drift[1 : drift.index(">")]
    drifted = re.sub(rf"<{tag}>[^<]*</{tag}>", drift, current)
    text = render_config_xml(drifted, PINNED)
    assert fixed in text and drift not in text
    assert "<Branch>master</Branch>" in text


@pytest.mark.parametrize("garbage", ["<Config><ApiKey>x", "<Settings/>", "not xml at all"])
def test_garbage_config_xml_is_refused(garbage):
    with pytest.raises(ConfigXmlError) as error:
        render_config_xml(garbage, PINNED)
    assert "config.xml" in error.value.message


def test_layer_sets_what_the_s6_init_would_and_a_ping_check():
    layer = pebble_layer(servarr.SONARR)
    service = layer["services"]["sonarr"]
    # mirrors linuxserver/docker-sonarr Dockerfile ENV and init-sonarr-config/run
    assert service["environment"]["TMPDIR"] == "/run/sonarr-temp"
    assert service["environment"]["XDG_CONFIG_HOME"] == "/config/xdg"
    assert service["working-dir"] == "/app/sonarr/bin"
    assert service["command"] == "/app/sonarr/bin/Sonarr -nobrowser -data=/config"
    assert layer["checks"]["sonarr-ready"]["http"] == {"url": "http://localhost:8989/ping"}


# ---------------------------------------------------------------------------------------------
# Client and fake
# ---------------------------------------------------------------------------------------------


def test_ping_is_anonymous_and_status_needs_the_key(radarr):
    _client(key="wrong").ping()
    with pytest.raises(WorkloadHttpError) as error:
        _client(key="wrong").status()
    assert error.value.http_status == 401
    assert _client().status()["appName"] == "Radarr"
    assert radarr.auth_log == [("wrong", False), (KEY, True)]


def test_nothing_answering_is_unreachable(fake_network):
    with pytest.raises(WorkloadUnreachableError):
        _client().ping()


def test_fake_follows_the_config_xml_it_is_pointed_at(tmp_path):
    path = tmp_path / "config.xml"
    fake = FakeServarr(servarr.RADARR, KEY, config_path=path)
    assert fake.api_key == KEY
    path.write_text(config_xml("e" * 32, 7878))
    assert fake.api_key == "e" * 32
    fake.frozen = True
    assert fake.api_key == KEY


# ---------------------------------------------------------------------------------------------
# Payloads (validated against the documents through the fixtures)
# ---------------------------------------------------------------------------------------------


def _qbit(app=servarr.RADARR, password="pw-123456789", credentials=None):
    return servarr.download_client(
        app,
        name="qbittorrent (juju)",
        kind="qbittorrent",
        url="http://qbittorrent.media.svc.cluster.local:8080",
        category="radarr",
        credentials=credentials or {"username": "admin", "password": password},
    )


def test_download_client_payloads_are_valid_for_radarr_and_sonarr(radarr, fake_network, peers):
    sonarr = FakeServarr(servarr.SONARR, KEY)
    fake_network.add("localhost:8989", sonarr)
    _client().create(servarr.DOWNLOAD_CLIENTS, _qbit().payload)
    sab = servarr.download_client(
        servarr.SONARR,
        name="sabnzbd (juju)",
        kind="sabnzbd",
        url="https://sab.example:9090/sab/",
        category="sonarr",
        credentials={"api-key": "s" * 32},
    )
    _client(servarr.SONARR).create(servarr.DOWNLOAD_CLIENTS, sab.payload)
    values = servarr.field_values(sonarr.named("downloadclient")["sabnzbd (juju)"])
    assert values == {
        "host": "sab.example",
        "port": 9090,
        "useSsl": True,
        "urlBase": "/sab",
        "apiKey": "s" * 32,
        "tvCategory": "sonarr",
    }
    assert radarr.field("downloadclient", "qbittorrent (juju)", "movieCategory") == "radarr"
    assert validate_requests(sonarr.requests, "sonarr") == 1  # skips without ../shared


def test_plex_notification_and_root_folder_payloads_are_valid(radarr, peers):
    plex = servarr.plex_notification(
        servarr.RADARR,
        name="plex (juju)",
        url="http://plex:32400",
        credentials={"token": "t" * 20},
    )
    _client().create(servarr.NOTIFICATIONS, plex.payload)
    _client().create(servarr.ROOT_FOLDERS, {"path": "/data/movies"}, force=False)
    assert set(radarr.named("rootfolder")) == {"/data/movies"}
    assert radarr.field("notification", "plex (juju)", "authToken") == "t" * 20


def test_prowlarr_application_host_config_and_command_are_valid(prowlarr, peers):
    app = servarr.prowlarr_application(
        servarr.RADARR,
        name="radarr (juju)",
        prowlarr_url="http://prowlarr:9696",
        base_url="http://radarr:7878",
        credentials={"api-key": "r" * 32},
    )
    client = _client(servarr.PROWLARR)
    client.create(servarr.APPLICATIONS, app.payload)
    proxy = servarr.Proxy("gluetun", 8888, "u", "proxy-password")
    update = servarr.proxy_update(client.host_config(), proxy, None)
    assert update is not None
    client.put_host_config(update)
    client.command("ApplicationIndexerSync")
    assert prowlarr.host["proxyPassword"] == "proxy-password"
    assert prowlarr.api_key == KEY, "a host-config round trip keeps the API key"
    assert prowlarr.commands == ["ApplicationIndexerSync"]


def test_the_validator_rejects_what_the_documents_do_not_allow():
    if not reference_dir().is_dir():
        pytest.skip("../shared/reference/openapi is absent")
    bad = Request(
        "POST",
        "http://localhost:9696/api/v1/applications",
        {"X-Api-Key": KEY, "Content-Type": "application/json"},
        b'{"name": "x", "enable": true, "syncLevel": "sometimes"}',
    )
    with pytest.raises(AssertionError, match="does not match the prowlarr API"):
        validate_request(bad, "prowlarr")
    keyless = Request("GET", "http://localhost:7878/api/v3/downloadclient", {}, None)
    with pytest.raises(AssertionError):
        validate_request(keyless, "radarr")


# ---------------------------------------------------------------------------------------------
# sync_entries
# ---------------------------------------------------------------------------------------------


def test_sync_creates_updates_deletes_managed_entries_only(radarr, peers):
    user = radarr.add("downloadclient", {"name": "mine", "implementation": "Nzbget", "fields": []})
    orphan = radarr.add(
        "downloadclient", {"name": "old (juju)", "implementation": "Sabnzbd", "fields": []}
    )
    kept = radarr.add(
        "downloadclient", {"name": "flaky (juju)", "implementation": "Sabnzbd", "fields": []}
    )
    applied: dict[str, str] = {"downloadclient/old (juju)": "x"}
    wanted = {"qbittorrent (juju)": _qbit()}
    result = servarr.sync_entries(
        _client(), servarr.DOWNLOAD_CLIENTS, wanted, applied, keep={"flaky (juju)"}
    )
    assert result.created == ["qbittorrent (juju)"]
    assert result.deleted == ["old (juju)"]
    names = radarr.named("downloadclient")
    assert set(names) == {"mine", "flaky (juju)", "qbittorrent (juju)"}
    assert names["mine"] == user and names["flaky (juju)"] == kept
    assert orphan["id"] not in radarr.store["downloadclient"]
    assert set(applied) == {"downloadclient/qbittorrent (juju)"}
    assert KEY not in str(applied) and "pw-123456789" not in str(applied)

    before = len(radarr.writes)
    again = servarr.sync_entries(
        _client(), servarr.DOWNLOAD_CLIENTS, wanted, applied, keep={"flaky (juju)"}
    )
    assert not again.changed and radarr.writes[before:] == []
    last = servarr.sync_entries(_client(), servarr.DOWNLOAD_CLIENTS, {}, applied)
    assert set(last.deleted) == {"qbittorrent (juju)", "flaky (juju)"}
    assert set(radarr.named("downloadclient")) == {"mine"} and applied == {}


def test_a_new_credential_is_put_and_masked_values_stay(radarr, peers):
    applied: dict[str, str] = {}
    servarr.sync_entries(
        _client(), servarr.DOWNLOAD_CLIENTS, {"qbittorrent (juju)": _qbit()}, applied
    )
    entry = radarr.named("downloadclient")["qbittorrent (juju)"]
    entry["fields"].append({"name": "initialState", "value": 2})  # a user tweak
    result = servarr.sync_entries(
        _client(),
        servarr.DOWNLOAD_CLIENTS,
        {"qbittorrent (juju)": _qbit(password="rotated-987654")},
        applied,
    )
    assert result.updated == ["qbittorrent (juju)"]
    assert radarr.field("downloadclient", "qbittorrent (juju)", "password") == "rotated-987654"
    assert radarr.field("downloadclient", "qbittorrent (juju)", "initialState") == 2


def test_lost_fingerprints_cost_one_put_not_a_loop(radarr, peers):
    applied: dict[str, str] = {}
    wanted = {"qbittorrent (juju)": _qbit()}
    servarr.sync_entries(_client(), servarr.DOWNLOAD_CLIENTS, wanted, applied)
    applied.clear()
    assert servarr.sync_entries(_client(), servarr.DOWNLOAD_CLIENTS, wanted, applied).updated
    assert not servarr.sync_entries(_client(), servarr.DOWNLOAD_CLIENTS, wanted, applied).changed


def test_differs_never_compares_masked_values():
    desired = _qbit()
    shown = {**desired.payload, "id": 1}
    shown["fields"] = [
        {**f, "value": servarr.MASKED} if f["name"] == "password" else f
        for f in desired.payload["fields"]
    ]
    assert not servarr.differs(shown, desired, desired.fingerprint)
    assert servarr.differs(shown, desired, None)
    moved = {**shown, "fields": [*shown["fields"], {"name": "port", "value": 9}]}
    moved["fields"] = [
        f for f in moved["fields"] if not (f["name"] == "port" and f["value"] == 8080)
    ]
    assert servarr.differs(moved, desired, desired.fingerprint)


# ---------------------------------------------------------------------------------------------
# Proxy
# ---------------------------------------------------------------------------------------------


def test_proxy_update_rules():
    proxy = servarr.Proxy("gluetun", 8888, "u", "p" * 12)
    current = {"id": 1, "proxyEnabled": False, "apiKey": KEY}
    wanted = servarr.proxy_update(current, proxy, None)
    assert wanted is not None and wanted["proxyPassword"] == "p" * 12
    assert wanted["apiKey"] == KEY
    settled = {**wanted, "proxyPassword": servarr.MASKED}
    assert servarr.proxy_update(settled, proxy, proxy.fingerprint) is None
    assert servarr.proxy_update(settled, None, None) is None, "a user's proxy is left alone"
    removed = servarr.proxy_update(settled, None, proxy.fingerprint)
    assert removed is not None and removed["proxyEnabled"] is False
    assert "p" * 12 not in repr(proxy)
    # Prowlarr shows the proxy password as stored: one changed in its UI is put back.
    plain = {**wanted, "proxyPassword": "p" * 12}
    assert servarr.proxy_update(plain, proxy, proxy.fingerprint) is None
    edited = {**wanted, "proxyPassword": "typed-in-the-ui"}
    fixed = servarr.proxy_update(edited, proxy, proxy.fingerprint)
    assert fixed is not None and fixed["proxyPassword"] == "p" * 12


def test_split_url():
    assert servarr.split_url("http://h:81/base/") == ("h", 81, False, "/base")
    assert servarr.split_url("https://h") == ("h", 443, True, "")


# ---------------------------------------------------------------------------------------------
# Consumed secrets read only when an entry is written
# ---------------------------------------------------------------------------------------------


class _Secret:
    """A consumed secret as the charm reads it (``SecretSource.read``), counting reads."""

    def __init__(self, password: str):
        self.password = password
        self.reads = 0
        self.error: CharmarrError | None = None

    def read(self) -> dict[str, str]:
        self.reads += 1
        if self.error:
            raise self.error
        return {"username": "admin", "password": self.password}

    def source(self, *, fresh: bool = False) -> servarr.SecretSource:
        return servarr.SecretSource("secret:d4qbittorrentcreds0001", self.read, fresh)


def _sync(secret: _Secret, applied: dict[str, str], *, fresh: bool = False):
    wanted = {"qbittorrent (juju)": _qbit(credentials=secret.source(fresh=fresh))}
    return servarr.sync_entries(_client(), servarr.DOWNLOAD_CLIENTS, wanted, applied)


def test_a_proven_entry_reads_its_secret_only_on_secret_changed(radarr, peers):
    secret, applied = _Secret("pw-123456789"), {}
    assert _sync(secret, applied).created == ["qbittorrent (juju)"] and secret.reads == 1
    assert applied["downloadclient/qbittorrent (juju)"].endswith("@secret:d4qbittorrentcreds0001")

    assert not _sync(secret, applied).changed and secret.reads == 1  # a full reconcile
    assert not _sync(secret, applied, fresh=True).changed and secret.reads == 2  # same revision

    secret.password = "rotated-987654"  # a new revision, seen on secret-changed
    assert _sync(secret, applied, fresh=True).updated == ["qbittorrent (juju)"]
    assert radarr.field("downloadclient", "qbittorrent (juju)", "password") == "rotated-987654"


def test_a_plain_change_reads_the_secret_to_write_the_whole_entry(radarr, peers):
    secret, applied = _Secret("pw-123456789"), {}
    _sync(secret, applied)
    entry = radarr.named("downloadclient")["qbittorrent (juju)"]
    entry["fields"] = [
        {**f, "value": 9999} if f["name"] == "port" else f for f in entry["fields"]
    ]  # moved by hand in the UI
    assert _sync(secret, applied).updated == ["qbittorrent (juju)"] and secret.reads == 2
    assert radarr.field("downloadclient", "qbittorrent (juju)", "port") == 8080


def test_an_unreadable_secret_keeps_the_entry_and_drops_its_proof(radarr, peers):
    """A secret that cannot be read when it must be is reported on every hook until it can."""
    secret, applied = _Secret("pw-123456789"), {}
    _sync(secret, applied)
    secret.error = CharmarrError("secret from qbittorrent (download-client) not found")
    result = _sync(secret, applied, fresh=True)
    assert [e.message for e in result.unreadable] == [secret.error.message]
    assert "qbittorrent (juju)" in radarr.named("downloadclient") and applied == {}
    assert _sync(secret, applied).unreadable, "the next full reconcile reads it again"
    secret.error = None
    assert _sync(secret, applied).updated == ["qbittorrent (juju)"]
