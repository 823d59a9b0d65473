"""The charm's own SABnzbd code (``src/_sabnzbd``) against a real SABnzbd on loopback.

CI runs these against sabnzbdplus 4.5 (Debian bookworm-backports', installed by
``tools/workload-daemons.sh``), the release line of the image (4.5.1); they were first
written against Debian bookworm's 3.7.1, which is no longer checked. What the code relies
on and how it copes:

- a refused API key: 3.7 and 4.5 answer HTTP 403 with ``API Key Incorrect`` (an empty
  403 when ``api_warnings`` is off); the same client also treats HTTP 200 with an
  ``error:`` body or ``{"status": false, "error": ...}`` as a refusal, the form reported
  for other releases and proxies (covered by the unit tests);
- categories: before any category exists ``get_config`` answers ``{"config": {}}``; the
  first full read after that (``get_config`` of the section, ``get_cats``) adds the
  built-in ``*`` and the suggestions movies, tv, audio and software with no folder,
  replacing a same-named category made before it. The charm makes that happen before it
  creates anything and adopts a suggestion with no folder that a requirer asks for;
- both keep ``api_key``, ``host_whitelist`` and ``socks5_proxy_url`` under ``[misc]``,
  need a restart for a new ``socks5_proxy_url``, and rewrite ``sabnzbd.ini`` from memory
  on every settings change, which is why the charm stops SABnzbd before it edits the file;
- SABnzbd exits at once ("Can't write to logfile") when its config folder is not
  writable by its user, which is why the charm takes ownership of ``/config`` first;
- the image runs ``/app/sabnzbd/SABnzbd.py`` with its ``/lsiopy`` Python, Debian
  ``/usr/bin/sabnzbdplus``; both take ``--config-file``, ``--server`` and
  ``--browser 0`` and stay in the foreground.

Each test starts its own daemon on 127.0.0.1 with a temp config dir, bounds every wait,
and kills the daemon at the end.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from charms_under_test import context, load_charm

from charmarr_common.http import WorkloadUnreachableError, use_transport
from charmarr_common.rotation import generate_token
from charmarr_testing.fake_sabnzbd import FakeSabnzbd
from charmarr_testing.fakes import FakeNetwork
from charmarr_testing.pod import PodReplay, root_owned_volume
from charmarr_testing.pytest_plugin import daemon_at_image_line

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


IMAGE_LINE = (4, 5)
"""The image's release line (lscr.io/linuxserver/sabnzbd:4.5.1)."""


@pytest.fixture(scope="module")
def binary() -> str:
    return daemon_at_image_line("CHARMARR_SABNZBD", "sabnzbdplus", IMAGE_LINE)


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
    client.call("get_cats")  # the web UI lists them (SABnzbd adds its suggestions then)
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


def test_categories_named_like_sabnzbds_suggestions_serve_their_apps(daemon: Daemon, api_key):
    """Apps named radarr, sonarr, tv and movies each get a category with their folder."""
    client = daemon.client(api_key)
    wanted = {n: category_dir(n) for n in ("radarr", "sonarr", "tv", "movies")}

    first = converge_categories(client, wanted)
    client.call("get_config")  # Radarr and Sonarr read the whole config (SabnzbdProxy.cs)
    again = converge_categories(client, wanted)

    assert first.foreign == again.foreign == []
    assert again.served == ["movies", "radarr", "sonarr", "tv"]
    assert again.created == again.deleted == []  # converged: nothing left to do
    existing = client.categories()
    for name, folder in wanted.items():
        assert existing[name] == folder
    # SABnzbd's other suggestions are not the charm's: left as they are, never deleted.
    assert existing["audio"] == existing["software"] == ""
    assert sorted(converge_categories(client, {}).deleted) == ["movies", "radarr", "sonarr", "tv"]
    assert set(client.categories()) == {"*", "audio", "software"}


# -- the charm's first start, replayed on this machine ------------------------------------


@pytest.fixture
def root_owned_config() -> Iterator[Path]:
    """A fresh storage volume: an empty folder owned by root, mode 0755."""
    with root_owned_volume("charmarr-sabnzbd-") as volume:
        yield volume


def test_sabnzbd_starts_on_a_root_owned_config_after_the_charms_first_hook(
    binary: str, root_owned_config: Path, monkeypatch: pytest.MonkeyPatch
):
    pod = PodReplay(root_owned_config, monkeypatch)
    out = pod.first_hook(context("sabnzbd"), "sabnzbd", **{"require-vpn": False})

    # Start SABnzbd as the layer says: its user, its environment, its arguments (here on
    # loopback and with Debian's sabnzbdplus for the image's /app/sabnzbd/SABnzbd.py).
    service = out.get_container("sabnzbd").plan.services["sabnzbd"]
    argv = service.command.split()
    script = argv.index("/app/sabnzbd/SABnzbd.py")
    args = [pod.local(a) for a in argv[script + 1 :]]
    port = _free_port()
    args[args.index("--server") + 1] = f"127.0.0.1:{port}"
    log = root_owned_config.parent / "stdout.log"
    # The image's PATH leads to /lsiopy; here Debian's sabnzbdplus brings its own Python.
    process = pod.start(binary, args, service, log, PATH=os.environ["PATH"])
    try:
        client = SabnzbdClient(f"http://127.0.0.1:{port}", timeout=2.0)
        for _ in range(int(START_TIMEOUT / 0.2)):
            if process.poll() is not None:
                pytest.fail(f"SABnzbd exited: {log.read_text(errors='replace')[-600:]}")
            try:
                assert client.version()
                break
            except WorkloadUnreachableError:
                time.sleep(0.2)
        else:
            pytest.fail(f"SABnzbd did not answer in {START_TIMEOUT}s")
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
    assert (root_owned_config / "logs").stat().st_uid == service.user_id


def _categories_after_the_charm_and_radarr(client: SabnzbdClient) -> dict[str, str]:
    """The charm converges, Radarr reads the whole config, the charm converges again."""
    wanted = {n: category_dir(n) for n in ("radarr", "sonarr", "tv", "movies")}
    converge_categories(client, wanted)
    client.call("get_config")
    converge_categories(client, wanted)
    return client.categories()


def test_fake_and_real_sabnzbd_keep_the_same_categories(daemon: Daemon, api_key):
    """Parity: the fake's categories (suggestions included) answer as the real daemon's."""
    real = _categories_after_the_charm_and_radarr(daemon.client(api_key))

    network = FakeNetwork(cluster=False)
    network.add("sabnzbd.test:8080", FakeSabnzbd(api_key))
    with use_transport(network):
        fake = _categories_after_the_charm_and_radarr(
            SabnzbdClient("http://sabnzbd.test:8080", api_key)
        )

    assert real == fake
    assert fake == {
        "*": "",
        "movies": "/data/downloads/movies",
        "tv": "/data/downloads/tv",
        "audio": "",
        "software": "",
        "radarr": "/data/downloads/radarr",
        "sonarr": "/data/downloads/sonarr",
    }


def test_behind_the_ingress_it_answers_under_url_base_and_at_the_root(binary, tmp_path, api_key):
    """url_base as the charm renders it for traefik's path; traefik's Host admitted."""
    d = Daemon(binary, tmp_path)
    names = [*host_whitelist(APP, MODEL, 0), "ingress.charmarr.test"]
    d.ini_path.write_text(
        render_ini(None, api_key=api_key, whitelist=names, proxy_url="", url_base="/media-sabnzbd")
    )
    d.start()
    try:
        # The in-cluster root keeps working (Radarr's probe, the charm's own calls)...
        assert d.client(None).version()
        # ...and the ingress's path, with the browser's Host header traefik passes on.
        under = SabnzbdClient(
            f"{d.url}/media-sabnzbd", api_key, host="ingress.charmarr.test", timeout=5.0
        )
        under.check_key()
        assert under.version()
        assert ini.misc_values(d.ini_path.read_text())["url_base"] == "/media-sabnzbd"
    finally:
        d.stop()
