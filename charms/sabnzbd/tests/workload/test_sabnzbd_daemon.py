"""The charm's own SABnzbd code (``src/_sabnzbd``) against a real SABnzbd on loopback.

Debian ships SABnzbd 3.7 (``sabnzbdplus``); the charm's image carries 4.x. What differs
and how the code copes:

- a refused API key: 3.7 answers HTTP 403 with ``API Key Incorrect`` (an empty 403 when
  ``api_warnings`` is off); the same client also treats HTTP 200 with an ``error:`` body
  or ``{"status": false, "error": ...}`` as a refusal, the form reported for other
  releases (covered by the unit tests, since 3.7 cannot produce it);
- categories: 3.7 answers ``{"config": {}}`` before any category is saved, with no list
  at all; the client reads a missing list as empty, and the charm never touches the
  built-in ``*`` category wherever a release lists it;
- both keep ``api_key``, ``host_whitelist`` and ``socks5_proxy_url`` under ``[misc]``,
  need a restart for a new ``socks5_proxy_url``, and rewrite ``sabnzbd.ini`` from memory
  on every settings change, which is why the charm stops SABnzbd before it edits the file;
- the image runs ``/app/sabnzbd/SABnzbd.py``, Debian ``/usr/bin/sabnzbdplus``; both take
  ``--config-file``, ``--server`` and ``--browser 0`` and stay in the foreground.

Each test starts its own daemon on 127.0.0.1 with a temp config dir, bounds every wait,
and kills the daemon at the end.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from charmarr_interfaces.http import WorkloadUnreachableError
from charmarr_interfaces.secrets import generate_token
from charmarr_interfaces.testing.charms import load_charm
from charmarr_interfaces.testing.pytest_plugin import require_binary

load_charm("sabnzbd")

from _sabnzbd import (  # noqa: E402
    category_dir,
    confirm_key,
    converge_categories,
    host_whitelist,
    ini,
    is_managed_category,
    render_ini,
    rotate_through_api,
)
from _sabnzbd.api import ApiKeyRefusedError, SabnzbdApiError, SabnzbdClient  # noqa: E402

pytestmark = pytest.mark.workload

APP, MODEL = "sabnzbd", "media"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """One sabnzbdplus process on loopback, in the foreground (no daemonizing)."""

    def __init__(self, binary: str, config_dir: Path):
        self.binary = binary
        self.ini_path = config_dir / "sabnzbd.ini"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = config_dir / "stdout.log"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    "--config-file",
                    str(self.ini_path),
                    "--server",
                    f"127.0.0.1:{self.port}",
                    "--browser",
                    "0",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        client = SabnzbdClient(self.url, timeout=2.0)
        deadline = time.monotonic() + START_TIMEOUT
        for _ in range(int(START_TIMEOUT / 0.2)):
            if self.process.poll() is not None:
                pytest.fail(f"sabnzbdplus exited: {self.log.read_text()[-2000:]}")
            try:
                client.version()
                return
            except WorkloadUnreachableError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        self.stop()
        pytest.fail(f"sabnzbdplus did not answer in {START_TIMEOUT}s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self, key: str | None, host: str | None = None) -> SabnzbdClient:
        return SabnzbdClient(self.url, key, host=host, timeout=5.0)


@pytest.fixture
def binary() -> str:
    return require_binary("sabnzbdplus", "apt-get install sabnzbdplus (Debian contrib)")


@pytest.fixture
def api_key() -> str:
    return generate_token()


@pytest.fixture
def daemon(binary: str, tmp_path: Path, api_key: str) -> Iterator[Daemon]:
    """SABnzbd started on the ini the charm renders before the first start."""
    d = Daemon(binary, tmp_path)
    d.ini_path.write_text(
        render_ini(None, api_key=api_key, whitelist=host_whitelist(APP, MODEL, 0), proxy_url="")
    )
    d.start()
    try:
        yield d
    finally:
        d.stop()


def test_rendered_ini_is_accepted_and_only_the_generated_key_works(daemon: Daemon, api_key):
    assert daemon.client(None).version()
    daemon.client(api_key).check_key()
    with pytest.raises(ApiKeyRefusedError):
        daemon.client(generate_token()).check_key()
    with pytest.raises(ApiKeyRefusedError):
        daemon.client("").check_key()
    # SABnzbd kept the charm's settings when it saved the file itself
    assert daemon.client(api_key).misc("download_dir") == "/data/downloads/incomplete"
    assert daemon.client(api_key).misc("complete_dir") == "/data/downloads/complete"
    values = ini.misc_values(daemon.ini_path.read_text())
    assert values["api_key"] == api_key


def test_the_file_sabnzbd_saves_needs_no_rewrite(daemon: Daemon, api_key):
    """Steady state: what SABnzbd writes back renders unchanged, so no restart loop."""
    daemon.client(api_key).set_category("tv", "/mnt/tv")  # makes SABnzbd save the file
    saved = daemon.ini_path.read_text()
    assert "[[tv]]" in saved and "__version__" in saved  # SABnzbd's own rewrite

    again = render_ini(
        saved, api_key=api_key, whitelist=host_whitelist(APP, MODEL, 0), proxy_url=""
    )
    assert again is saved


def test_set_apikey_rotation_survives_a_restart(daemon: Daemon, api_key):
    new = rotate_through_api(daemon.url, api_key)  # the charm's rotation, confirm included

    assert new != api_key
    daemon.client(new).check_key()
    with pytest.raises(ApiKeyRefusedError):
        daemon.client(api_key).check_key()

    daemon.restart()
    assert ini.misc_values(daemon.ini_path.read_text())["api_key"] == new
    confirm_key(daemon.url, new, api_key)


def test_offline_rotation_by_rewriting_the_ini(daemon: Daemon, api_key):
    """The charm's fallback: stop, rewrite sabnzbd.ini with a new key, start, confirm."""
    daemon.stop()
    new = generate_token()
    current = daemon.ini_path.read_text()
    daemon.ini_path.write_text(
        render_ini(current, api_key=new, whitelist=host_whitelist(APP, MODEL, 0), proxy_url=None)
    )
    daemon.start()

    daemon.client(new).check_key()
    with pytest.raises(ApiKeyRefusedError):
        daemon.client(api_key).check_key()


def test_categories_are_created_and_removed_and_user_ones_stay(daemon: Daemon, api_key):
    client = daemon.client(api_key)
    client.set_category("tv", "/mnt/tv")  # categories the user made by hand
    client.set_category("sonarr", "/mnt/my-sonarr")

    # radarr, sonarr and a 4k radarr related
    wanted = {n: category_dir(n) for n in ("radarr", "sonarr", "movies-4k")}
    result = converge_categories(client, wanted)
    assert sorted(result.created) == ["movies-4k", "radarr"]
    assert result.foreign == ["sonarr"]
    existing = client.categories()
    assert existing["radarr"] == "/data/downloads/radarr"
    assert existing["movies-4k"] == "/data/downloads/movies-4k"
    assert existing["sonarr"] == "/mnt/my-sonarr"
    assert converge_categories(client, wanted).created == []  # idempotent

    # the 4k relation goes
    del wanted["movies-4k"]
    assert converge_categories(client, wanted).deleted == ["movies-4k"]

    # the last relations go
    result = converge_categories(client, {})
    assert result.deleted == ["radarr"]
    left = client.categories()
    assert "radarr" not in left and "movies-4k" not in left
    assert left["tv"] == "/mnt/tv"
    assert left["sonarr"] == "/mnt/my-sonarr"
    assert not is_managed_category("tv", left["tv"])


def test_socks5_proxy_url_reads_back_and_is_removed(daemon: Daemon, api_key):
    url = "socks5://charmarr:0123456789abcdef@gluetun.media.svc.cluster.local:1080"
    whitelist = host_whitelist(APP, MODEL, 0)

    daemon.stop()
    text = daemon.ini_path.read_text()
    daemon.ini_path.write_text(
        render_ini(text, api_key=api_key, whitelist=whitelist, proxy_url=url)
    )
    daemon.start()
    assert daemon.client(api_key).misc("socks5_proxy_url") == url

    daemon.stop()
    text = daemon.ini_path.read_text()
    assert ini.misc_values(text)["socks5_proxy_url"] == url  # SABnzbd kept it
    assert render_ini(text, api_key=api_key, whitelist=whitelist, proxy_url=url) is text
    daemon.ini_path.write_text(
        render_ini(text, api_key=api_key, whitelist=whitelist, proxy_url="")
    )
    daemon.start()
    assert daemon.client(api_key).misc("socks5_proxy_url") == ""


def test_socks5_proxy_url_through_the_api(daemon: Daemon, api_key):
    url = "socks5://charmarr:0123456789abcdef@127.0.0.1:1"
    client = daemon.client(api_key)

    client.set_misc("socks5_proxy_url", url)
    assert client.misc("socks5_proxy_url") == url
    client.set_misc("socks5_proxy_url", "")
    assert client.misc("socks5_proxy_url") == ""


def test_host_whitelist_admits_the_service_names_only(daemon: Daemon, api_key):
    for name in host_whitelist(APP, MODEL, 0):
        daemon.client(api_key, host=f"{name}:8080").check_key()
        assert daemon.client(None, host=name).version()
    with pytest.raises(SabnzbdApiError, match="host_whitelist"):
        daemon.client(api_key, host="rebind.attacker.example:8080").check_key()
