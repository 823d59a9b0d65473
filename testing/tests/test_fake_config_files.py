"""The download-client fakes start from their config files as the daemons do.

Each fake reads the file with its own parser, mirroring the app (SABnzbd: ConfigObj;
qBittorrent: QSettings' INI format), never with a charm's. The texts below are in the
shape the apps write them.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from charmarr_common.http import Request
from charmarr_testing.fake_qbittorrent import FakeQBittorrent, parse_conf
from charmarr_testing.fake_sabnzbd import FakeSabnzbd, parse_ini

SABNZBD_INI = """\
__version__ = 19
__encoding__ = utf-8
[misc]
api_key = \"\"\"4f2c'9a"e1\"\"\"
host_whitelist = "nas.example", sabnzbd,  # edited by hand
socks5_proxy_url = socks5://proxy:secret@gluetun:1080
download_dir = /data/incomplete
[servers]
[[news.example.com]]
name = news.example.com
enable = 1
[categories]
[[*]]
name = *
order = 0
[[movies]]
name = movies
dir = /data/downloads/movies
"""


def _get(fake: FakeSabnzbd, host: str, **query: str) -> int:
    url = "http://localhost:8080/api?" + "&".join(f"{k}={v}" for k, v in query.items())
    return fake(Request("GET", url, {"Host": host}, None)).status


def test_sabnzbd_reads_its_ini_as_configobj_does():
    config = parse_ini(SABNZBD_INI)

    assert config["misc"]["api_key"] == "4f2c'9a\"e1"  # type: ignore[index]
    assert config["misc"]["host_whitelist"] == ["nas.example", "sabnzbd"]  # type: ignore[index]
    assert config["servers"]["news.example.com"]["enable"] == "1"  # type: ignore[index]
    assert list(config["categories"]) == ["*", "movies"]  # type: ignore[arg-type]


def test_sabnzbd_boots_with_the_key_and_whitelist_in_its_ini(tmp_path: Path):
    ini = tmp_path / "sabnzbd.ini"
    ini.write_text(SABNZBD_INI)
    fake = FakeSabnzbd("old-key", ini_path=ini)

    fake.boot()

    assert fake.api_key == "4f2c'9a\"e1"
    assert fake.misc["socks5_proxy_url"] == "socks5://proxy:secret@gluetun:1080"
    assert _get(fake, "sabnzbd:8080", mode="queue", apikey=fake.api_key) == 200
    assert _get(fake, "nas.example", mode="queue", apikey=fake.api_key) == 200
    assert _get(fake, "elsewhere.example", mode="queue", apikey=fake.api_key) == 403


@pytest.mark.parametrize(
    "broken",
    ['api_key = "abc', "api_key = a, , b", "[[[too.deep]]]", 'api_key = "abc" def', "no value"],
)
def test_sabnzbd_refuses_an_ini_configobj_refuses(broken: str):
    with pytest.raises(ValueError, match=r"sabnzbd\.ini"):
        FakeSabnzbd().boot(f"[misc]\n{broken}\n")


def _pbkdf2(password: str) -> str:
    # the shape of qBittorrent src/base/utils/password.cpp PBKDF2::generate
    salt = b"0123456789abcdef"
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 100_000, 64)
    return f"{base64.b64encode(salt).decode()}:{base64.b64encode(key).decode()}"


def test_qbittorrent_reads_its_conf_as_qsettings_does():
    conf = parse_conf(
        "[BitTorrent]\n"
        "Session\\DefaultSavePath=/data/downloads\n"
        'Session\\Interfaces="eth0, tun0", wg0\n'
        "\n[Network]\nProxy\\Type=@@SOCKS5\nCookies=@Invalid()\n"
        "\n[Preferences]\n"
        "WebUI\\Username=caf\\xe9\n"
        'WebUI\\AuthSubnetWhitelist="10.0.0.0/8;192.168.0.0/16"\n'
    )

    assert conf["BitTorrent/Session/DefaultSavePath"] == "/data/downloads"
    assert conf["BitTorrent/Session/Interfaces"] == ["eth0, tun0", "wg0"]
    assert conf["Network/Proxy/Type"] == "@SOCKS5"
    assert conf["Network/Cookies"] is None
    assert conf["Preferences/WebUI/Username"] == "café"
    assert conf["Preferences/WebUI/AuthSubnetWhitelist"] == "10.0.0.0/8;192.168.0.0/16"


def test_qbittorrent_boots_with_the_credentials_in_its_conf():
    fake = FakeQBittorrent(username="admin", password="adminadmin")

    fake.boot(
        "[Preferences]\n"
        'WebUI\\Username="media, user"\n'
        f'WebUI\\Password_PBKDF2="@ByteArray({_pbkdf2("correct horse")})"\n'
    )

    assert fake.accepts("media, user", "correct horse")
    assert not fake.accepts("media, user", "adminadmin")
    assert not fake.accepts("admin", "correct horse")
