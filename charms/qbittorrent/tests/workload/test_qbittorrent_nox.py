"""The charm's own qBittorrent code (``src/_qbittorrent``) against a real qbittorrent-nox.

Debian ships qBittorrent 4.5 (``qbittorrent-nox``); the charm's image carries 5.x. What
differs and how the code copes:

- ``proxy_type``: 4.5 takes and reports an integer (4 = SOCKS5 with authentication);
  4.6+ takes a string (``"SOCKS5"``) plus ``proxy_auth_enabled``. The code asks
  ``app/version`` and sends the matching form; here the 4.5 form is proven to read back
  as set, the string form is covered by the unit tests' fake;
- the legal notice: 5.x refuses to start headless unless it was accepted; the charm's
  conf sets ``[LegalNotice] Accepted=true``, which 4.5 reads too, so no
  ``--confirm-legal-notice`` (an option 4.5 does not know) is passed;
- the session cookie is ``SID`` in 4.x and ``QBT_SID_<port>`` in 5.x; the client keeps
  whatever cookie the login sets;
- both keep the WebUI hash as ``WebUI\\Password_PBKDF2`` under ``[Preferences]`` in
  ``<profile>/qBittorrent/config/qBittorrent.conf`` and rewrite that file from memory.

Each test starts its own daemon on 127.0.0.1 (WebUI and BitTorrent ports) with a temp
profile, bounds every wait and kills the daemon at the end. Each test costs at most one
failed login per daemon, far from the ban after five.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from charmarr_interfaces.secrets import CharmarrError, generate_token
from charmarr_interfaces.testing.charms import load_charm
from charmarr_interfaces.testing.pytest_plugin import require_binary
from charmarr_interfaces.vpn_gateway import Gateway

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


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    binary = require_binary("qbittorrent-nox", "apt-get install qbittorrent-nox")
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
