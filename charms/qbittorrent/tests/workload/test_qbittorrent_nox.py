"""The charm's own qBittorrent code (``src/_qbittorrent``) against a real qbittorrent-nox.

CI runs these against qbittorrent-nox 5.1 (Debian trixie's, run by
``tools/workload-daemons.sh``), the release line of the image (5.1.2); they also run
against Debian bookworm's 4.5.2. What differs between 4.5 and 5.x and how the code copes:

- ``proxy_type``: 4.5 takes and reports an integer (4 = SOCKS5 with authentication);
  4.6+ takes a string (``"SOCKS5"``) plus ``proxy_auth_enabled``. The code asks
  ``app/version`` and sends the matching form;
- the legal notice: 5.x refuses to start headless unless it was accepted; the charm's
  conf sets ``[LegalNotice] Accepted=true``, which 4.5 reads too, so no
  ``--confirm-legal-notice`` (an option 4.5 does not know) is passed;
- the session cookie is ``SID`` in 4.x and 5.1 (``QBT_SID_<port>`` only from 5.2); the
  client keeps whatever cookie the login sets;
- both keep the WebUI hash as ``WebUI\\Password_PBKDF2`` under ``[Preferences]`` in
  ``<profile>/qBittorrent/config/qBittorrent.conf`` and rewrite that file from memory;
- both default to manual torrent management with the profile's ``downloads`` folder as
  the default save path, which is why the charm owns ``auto_tmm_enabled`` and
  ``save_path``.

Each test starts its own daemon on 127.0.0.1 (WebUI and BitTorrent ports) with a temp
profile, bounds every wait and kills the daemon at the end. Each test costs at most one
failed login per daemon, far from the ban after five.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from charms_under_test import context, load_charm

from charmarr_common.errors import CharmarrError
from charmarr_common.http import use_transport
from charmarr_common.rotation import generate_token
from charmarr_interfaces.vpn_gateway import Gateway
from charmarr_testing.fake_qbittorrent import FakeQBittorrent
from charmarr_testing.fakes import FakeNetwork
from charmarr_testing.pod import PodReplay, root_owned_volume
from charmarr_testing.pytest_plugin import daemon_at_image_line
from charmarr_testing.torrents import add_like_arr, make_torrent, save_path_of

load_charm("qbittorrent")

from _qbittorrent import config as conf  # noqa: E402
from _qbittorrent import desired  # noqa: E402
from _qbittorrent.api import (  # noqa: E402
    QBittorrentClient,
    change_password,
    confirm_password,
    wait_until_answering,
)

pytestmark = pytest.mark.workload

START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0
USERNAME = "admin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _loopback_only(port: int, torrent_port: int) -> str:
    """Settings of the test itself (not the charm's): keep every socket on loopback."""
    return (
        "[BitTorrent]\n"
        "Session\\Interface=lo\n"
        "Session\\InterfaceName=lo\n"
        "Session\\InterfaceAddress=127.0.0.1\n"
        f"Session\\Port={torrent_port}\n"
        "Session\\DHTEnabled=false\n"
        "Session\\LSDEnabled=false\n\n"
        "[Network]\n"
        "PortForwardingEnabled=false\n\n"
        "[Preferences]\n"
        "WebUI\\Address=127.0.0.1\n"
        f"WebUI\\Port={port}\n"
    )


class Daemon:
    """One qbittorrent-nox process on loopback with its own profile directory."""

    def __init__(self, binary: str, profile: Path):
        self.binary = binary
        self.profile = profile
        self.conf_path = profile / "qBittorrent" / "config" / "qBittorrent.conf"
        self.port = _free_port()
        self.torrent_port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = profile / "stdout.log"

    def write_conf(self, password: str) -> None:
        """The conf as the charm renders it before the first start."""
        self.conf_path.parent.mkdir(parents=True, exist_ok=True)
        base = _loopback_only(self.port, self.torrent_port)
        self.conf_path.write_text(conf.render(base, USERNAME, password))

    def start(self) -> None:
        env = {**os.environ, "HOME": str(self.profile)}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [self.binary, f"--profile={self.profile}", f"--webui-port={self.port}"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        if not wait_until_answering(self.url, START_TIMEOUT):
            self.stop()
            pytest.fail(f"qbittorrent-nox did not answer in {START_TIMEOUT}s: {self.log_tail()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""

    def client(self, password: str) -> QBittorrentClient:
        client = QBittorrentClient(self.url)
        client.login(USERNAME, password)
        return client


IMAGE_LINE = (5, 1)
"""The image's release line (lscr.io/linuxserver/qbittorrent:5.1.2)."""


@pytest.fixture(scope="module")
def binary() -> str:
    return daemon_at_image_line("CHARMARR_QBITTORRENT_NOX", "qbittorrent-nox", IMAGE_LINE)


@pytest.fixture
def daemon(binary: str, tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(binary, tmp_path / "profile")
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture
def running(daemon: Daemon) -> tuple[Daemon, str]:
    password = generate_token(16)
    daemon.write_conf(password)
    daemon.start()
    return daemon, password


def test_rendered_conf_is_accepted_and_its_credentials_authenticate(running):
    daemon, password = running
    client = daemon.client(password)
    version = client.version()
    assert version[:2] >= (4, 5)
    assert set(client.http.cookies) == {"SID"}  # 4.5 and 5.1 alike (QBT_SID_<port> from 5.2)
    # Wrong credentials are refused (one failed login; the ban needs five).
    assert QBittorrentClient(daemon.url).try_login(USERNAME, "not-the-password") is False
    assert QBittorrentClient(daemon.url).try_login("someone", password) is False
    # The app kept our hash (and the settings we did not own) in its own conf.
    text = daemon.conf_path.read_text()
    assert conf.credentials_match(text, USERNAME, password)
    assert "WebUI\\Address=127.0.0.1" in text


def test_rotation_through_the_api_survives_a_restart(running):
    daemon, old = running
    new = generate_token(16)
    change_password(daemon.url, USERNAME, old, new)
    confirm_password(daemon.url, USERNAME, old, new)  # new works, old refused
    # As the charm does right after confirming: its own hash of the new password.
    daemon.conf_path.write_text(conf.render(daemon.conf_path.read_text(), USERNAME, new))

    daemon.restart()

    assert conf.credentials_match(daemon.conf_path.read_text(), USERNAME, new)
    assert QBittorrentClient(daemon.url).try_login(USERNAME, new) is True
    assert QBittorrentClient(daemon.url).try_login(USERNAME, old) is False


def test_the_apps_own_conf_write_authenticates_after_a_restart(running):
    """Without the charm's write: what qBittorrent saved itself is valid after a restart."""
    daemon, old = running
    new = generate_token(16)
    change_password(daemon.url, USERNAME, old, new)
    daemon.restart()  # the app saves its settings on exit
    assert conf.credentials_match(daemon.conf_path.read_text(), USERNAME, new)
    assert QBittorrentClient(daemon.url).try_login(USERNAME, new) is True


def test_rotation_offline_rewrites_the_conf_and_confirms_after_restart(running):
    daemon, old = running
    new = generate_token(16)
    daemon.stop()
    daemon.conf_path.write_text(conf.render(daemon.conf_path.read_text(), USERNAME, new))
    daemon.start()
    confirm_password(daemon.url, USERNAME, old, new)


def test_confirm_fails_when_the_password_did_not_change(running):
    daemon, old = running
    with pytest.raises(CharmarrError, match="did not accept the new password"):
        confirm_password(daemon.url, USERNAME, old, generate_token(16))
    assert daemon.client(old).version()  # still usable: one failed login, no ban


def test_categories_are_created_and_removed_user_ones_kept(running):
    daemon, password = running
    client = daemon.client(password)
    client.create_category("mine", "/srv/mine")  # a user's category
    client.create_category("radarr", "/srv/films")  # a user's, same name as a requirer

    plan = desired.plan_categories({"radarr", "sonarr", "tv-shows"}, client.categories())
    assert plan.user_owned == ["radarr"]
    for name, path in plan.create.items():
        client.create_category(name, path)
    assert client.categories() == {
        "mine": "/srv/mine",
        "radarr": "/srv/films",
        "sonarr": "/data/downloads/sonarr",
        "tv-shows": "/data/downloads/tv-shows",
    }
    assert desired.plan_categories({"radarr", "sonarr", "tv-shows"}, client.categories()).empty

    plan = desired.plan_categories(set(), client.categories())  # the last relation went
    assert plan.delete == ["sonarr", "tv-shows"]
    client.remove_categories(plan.delete)
    assert client.categories() == {"mine": "/srv/mine", "radarr": "/srv/films"}


def test_proxy_settings_read_back_as_set_and_are_removed_again(running):
    daemon, password = running
    client = daemon.client(password)
    version = client.version()
    gateway = Gateway(
        app="gluetun",
        http_proxy_url="http://gluetun.media.svc.cluster.local:8888",
        socks5_proxy_url="socks5://gluetun.media.svc.cluster.local:1080",
        username="charmarr",
        password=generate_token(12),
        connected=True,
        public_ip="203.0.113.7",
    )
    changes = desired.proxy_changes(client.preferences(), version, gateway)
    assert changes
    client.set_preferences(changes)

    prefs = client.preferences()
    assert desired.proxy_changes(prefs, version, gateway) == {}  # read back exactly as set
    assert prefs["proxy_ip"] == "gluetun.media.svc.cluster.local"
    assert prefs["proxy_port"] == 1080
    assert prefs["proxy_username"] == "charmarr"
    assert prefs["proxy_password"] == gateway.password
    assert prefs["proxy_type"] == (4 if version < (4, 6, 0) else "SOCKS5")
    assert (prefs["dht"], prefs["lsd"], prefs["upnp"]) == (False, False, False)
    assert desired.is_charm_proxy(prefs)

    removal = desired.proxy_changes(prefs, version, None)
    client.set_preferences(removal)
    prefs = client.preferences()
    assert desired.proxy_changes(prefs, version, None) == {}
    assert prefs["proxy_type"] in (0, "None")
    assert prefs["proxy_username"] == "" and prefs["proxy_password"] == ""
    assert (prefs["dht"], prefs["lsd"], prefs["upnp"]) == (True, True, True)


def _wait_for(check: Callable[[], str | None], timeout: float = 15.0) -> str | None:
    """Bounded wait: ``torrents/add`` answers before the torrent is listed."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.1) + 1):
        found = check()
        if found is not None or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
    return None


def _add_like_radarr(client: QBittorrentClient, category: str) -> str | None:
    """A small torrent made here (loopback tracker, nothing listens), added as Radarr adds it.

    Returns where qBittorrent will save it.
    """
    return save_path_of(client.http, _add(client, category)) or None


def _add(client: QBittorrentClient, category: str) -> str:
    """Add as Radarr does and wait until qBittorrent lists it; returns its info-hash."""
    torrent, info_hash = make_torrent(
        f"film-{generate_token(6)}.mkv",
        os.urandom(40_000),
        announce=f"http://127.0.0.1:{_free_port()}/announce",
    )
    add_like_arr(client.http, torrent, category)
    _wait_for(lambda: save_path_of(client.http, info_hash))
    return info_hash


def _charm_reconciles(client: QBittorrentClient, root: str, categories: set[str]) -> None:
    """What the charm's reconcile does to preferences and categories (no VPN gateway)."""
    changes = desired.preference_changes(client.preferences(), client.version(), None, root=root)
    if changes:
        client.set_preferences(changes)
    plan = desired.plan_categories(categories, client.categories(), root)
    for name, path in plan.create.items():
        client.create_category(name, path)


def test_a_torrent_added_like_radarr_lands_in_its_category_folder(running, tmp_path: Path):
    daemon, password = running
    client = daemon.client(password)
    root = str(tmp_path / "data" / "downloads")  # /data/downloads in the pod

    _charm_reconciles(client, root, {"radarr", "sonarr"})

    film, show = _add(client, "radarr"), _add(client, "sonarr")
    assert save_path_of(client.http, film) == f"{root}/radarr"
    assert save_path_of(client.http, show) == f"{root}/sonarr"
    prefs = client.preferences()
    assert prefs["auto_tmm_enabled"] is True
    assert desired.preference_changes(prefs, client.version(), None, root=root) == {}
    # Stopped with SIGTERM (as Pebble stops it) once it has saved the new torrents (a
    # torrent added a moment before the stop can be lost), qBittorrent keeps its settings
    # and the torrents: all there after the restart.
    backup = daemon.profile / "qBittorrent" / "data" / "BT_backup"
    saved = [backup / f"{h}.fastresume" for h in (film, show)]
    assert _wait_for(lambda: "saved" if all(p.exists() for p in saved) else None) == "saved"
    version = client.version()
    daemon.restart()
    client = daemon.client(password)
    assert desired.preference_changes(client.preferences(), version, None, root=root) == {}
    # The WebUI answers before every torrent is loaded again: wait for each (bounded).
    assert _wait_for(lambda: save_path_of(client.http, film)) == f"{root}/radarr"
    assert _wait_for(lambda: save_path_of(client.http, show)) == f"{root}/sonarr"


def _save_paths(client: QBittorrentClient, root: str) -> tuple[str, str]:
    """Where a Radarr add lands before and after the charm's reconcile, named, not spelled.

    ``"default"`` is qBittorrent's default save path, ``"category"`` the category's folder.
    """
    default = client.preferences()["save_path"].rstrip("/")
    client.create_category("radarr", f"{root}/radarr")  # the category exists beforehand
    before = _add_like_radarr(client, "radarr")
    _charm_reconciles(client, root, {"radarr"})
    after = _add_like_radarr(client, "radarr")
    names = {default: "default", f"{root}/radarr": "category"}
    return names.get(before or "", before or ""), names.get(after or "", after or "")


def test_fake_and_real_qbittorrent_place_a_radarr_add_alike(running, tmp_path: Path):
    """Parity: the fake's automatic torrent management answers as the real daemon does."""
    daemon, password = running
    real = _save_paths(daemon.client(password), str(tmp_path / "real"))

    fake_app = FakeQBittorrent(password=password, version=f"v{'.'.join(map(str, IMAGE_LINE))}.2")
    network = FakeNetwork(cluster=False)
    network.add("qbittorrent.test:8080", fake_app)
    with use_transport(network):
        client = QBittorrentClient("http://qbittorrent.test:8080")
        client.login(USERNAME, password)
        fake = _save_paths(client, "/data/downloads")

    assert real == fake == ("default", "category")


def test_qbittorrent_starts_on_a_root_owned_config_after_the_charms_first_hook(
    binary: str, monkeypatch: pytest.MonkeyPatch
):
    """The charm's first hook, replayed on a fresh root-owned volume; then the layer runs it."""
    with root_owned_volume("charmarr-qbittorrent-") as volume:
        pod = PodReplay(volume, monkeypatch)
        out = pod.first_hook(context("qbittorrent"), "qbittorrent", **{"require-vpn": False})
        password = next(
            s for s in out.secrets if s.label == "qbittorrent-credentials"
        ).latest_content["password"]

        # The test's own settings on top of the charm's conf: every socket on loopback.
        daemon = Daemon(binary, volume)
        conf_path = Path(pod.local(conf.CONF_PATH))
        stat = conf_path.stat()
        loopback = _loopback_only(daemon.port, daemon.torrent_port)
        conf_path.write_text(conf.set_values(conf_path.read_text(), _sections(loopback)))
        os.chown(conf_path, stat.st_uid, stat.st_gid)

        service = out.get_container("qbittorrent").plan.services["qbittorrent"]
        argv = service.command.split()
        assert argv[0] == "/usr/bin/qbittorrent-nox"
        args = [pod.local(a.replace("=/config", f"={volume}")) for a in argv[1:]]
        args = [f"--webui-port={daemon.port}" if a.startswith("--webui-port") else a for a in args]
        log = volume.parent / "stdout.log"
        process = pod.start(binary, args, service, log)
        try:
            if not wait_until_answering(daemon.url, START_TIMEOUT):
                pytest.fail(f"qbittorrent-nox did not answer: {log.read_text(errors='replace')}")
            assert daemon.client(password).version() >= (4, 5, 0)  # the charm's credentials
        finally:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        # It wrote its state as its user: its data folder, and its conf on exit.
        assert (volume / "qBittorrent" / "data").stat().st_uid == service.user_id
        assert conf.credentials_match(conf_path.read_text(), USERNAME, password)


def _sections(text: str) -> dict[str, dict[str, str]]:
    """``{section: {key: value}}`` of a small INI text (the test's loopback settings)."""
    sections: dict[str, dict[str, str]] = {}
    current = "General"
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
        elif "=" in line:
            key, _, value = line.partition("=")
            sections.setdefault(current, {})[key] = value
    return sections
