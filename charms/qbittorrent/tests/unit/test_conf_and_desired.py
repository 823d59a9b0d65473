"""The conf editing, the PBKDF2 hash and the wanted proxy/category state, as pure functions."""

from __future__ import annotations

import base64
import hashlib
import re

from charms_under_test import load_charm

from charmarr_interfaces.vpn_gateway import Gateway

load_charm("qbittorrent")

from _qbittorrent import config as conf  # noqa: E402
from _qbittorrent import desired  # noqa: E402
from _qbittorrent.api import parse_version  # noqa: E402

GATEWAY = Gateway(
    app="gluetun",
    http_proxy_url="http://gw.media.svc.cluster.local:8888",
    socks5_proxy_url="socks5://gw.media.svc.cluster.local:1080",
    username="charmarr",
    password="proxy-password-1",
    connected=True,
    public_ip="203.0.113.7",
)


def test_hash_has_qbittorrents_format_and_parameters():
    value = conf.hash_password("hunter22hunter22", salt=b"\x01" * 16)
    match = re.fullmatch(r'"@ByteArray\(([^:]+):([^)]+)\)"', value)
    assert match
    salt, key = base64.b64decode(match[1]), base64.b64decode(match[2])
    assert len(salt) == 16 and len(key) == 64
    assert key == hashlib.pbkdf2_hmac("sha512", b"hunter22hunter22", salt, 100_000, 64)


def test_verify_accepts_the_password_and_nothing_else():
    value = conf.hash_password("right-password")
    assert conf.verify_password(value, "right-password")
    assert conf.verify_password(value.strip('"'), "right-password")  # unquoted form too
    assert not conf.verify_password(value, "wrong-password")
    assert not conf.verify_password(None, "right-password")
    assert not conf.verify_password("@ByteArray(garbage)", "right-password")
    assert not conf.verify_password('"@ByteArray(!!!:???)"', "right-password")


def test_fresh_salt_each_time_so_matching_is_by_verification():
    assert conf.hash_password("same") != conf.hash_password("same")
    text = conf.render(None, "admin", "same-password")
    assert conf.credentials_match(text, "admin", "same-password")
    assert not conf.credentials_match(text, "root", "same-password")
    assert not conf.credentials_match(text, "admin", "other-password")
    assert not conf.credentials_match(None, "admin", "same-password")


def test_render_keeps_every_other_line_and_replaces_in_place():
    current = (
        "[BitTorrent]\nSession\\Port=53872\n\n"
        "[Meta]\nMigrationVersion=4\n\n"
        '[Preferences]\nDownloads\\SavePath=/data/x\nWebUI\\Password_PBKDF2="@ByteArray(old:old)"\n'
        "WebUI\\Port=8080\nWebUI\\Username=olduser\n"
    )
    text = conf.render(current, "admin", "new-password")
    lines = text.splitlines()
    for line in (
        "Session\\Port=53872",
        "MigrationVersion=4",
        "Downloads\\SavePath=/data/x",
        "WebUI\\Port=8080",
    ):
        assert line in lines
    assert "WebUI\\Username=admin" in lines and "WebUI\\Username=olduser" not in lines
    assert sum(1 for line in lines if line.startswith("WebUI\\Password_PBKDF2=")) == 1
    # replaced where it was, inside [Preferences]
    assert lines.index("[Preferences]") < lines.index("WebUI\\Username=admin")
    assert conf.read_value(text, "LegalNotice", "Accepted") == "true"
    assert conf.credentials_match(text, "admin", "new-password")


def test_render_of_an_empty_file_creates_the_sections():
    text = conf.render("", "admin", "pw-123456")
    assert text.startswith(
        "[LegalNotice]\nAccepted=true\n\n[Preferences]\nWebUI\\Username=admin\n"
    )


def test_parse_version():
    assert parse_version("v4.5.2") == (4, 5, 2)
    assert parse_version("v5.1.2\n") == (5, 1, 2)
    assert parse_version("4.6") == (4, 6, 0)
    assert parse_version("<html>") is None


def test_proxy_forms_differ_between_45_and_46():
    old = desired.proxied_preferences((4, 5, 2), GATEWAY)
    new = desired.proxied_preferences((4, 6, 0), GATEWAY)
    assert old["proxy_type"] == 4 and "proxy_auth_enabled" not in old
    assert new["proxy_type"] == "SOCKS5" and new["proxy_auth_enabled"] is True
    for prefs in (old, new):
        assert prefs["proxy_ip"] == "gw.media.svc.cluster.local" and prefs["proxy_port"] == 1080
        assert (prefs["dht"], prefs["lsd"], prefs["upnp"]) == (False, False, False)


def test_proxy_changes_only_what_differs():
    version = (4, 5, 2)
    current = dict(desired.proxied_preferences(version, GATEWAY))
    assert desired.proxy_changes(current, version, GATEWAY) == {}
    current["proxy_password"] = "stale"
    assert desired.proxy_changes(current, version, GATEWAY) == {
        "proxy_password": "proxy-password-1"
    }


def test_proxy_removal_only_of_the_charms_own_signature():
    version = (5, 0, 0)
    ours = desired.proxied_preferences(version, GATEWAY)
    removal = desired.proxy_changes(ours, version, None)
    assert removal["proxy_type"] == "None" and removal["proxy_password"] == ""
    assert (removal["dht"], removal["lsd"], removal["upnp"]) == (True, True, True)
    users = {
        "proxy_type": "SOCKS5",
        "proxy_auth_enabled": True,
        "dht": True,
        "lsd": False,
        "upnp": False,
    }
    assert desired.proxy_changes(users, version, None) == {}
    assert desired.proxy_changes({"proxy_type": 0, "dht": True}, (4, 5, 2), None) == {}


def test_category_plan_marks_by_save_path():
    existing = {
        "radarr": "/data/downloads/radarr",  # managed, still wanted
        "gone": "/data/downloads/gone/",  # managed orphan (trailing slash tolerated)
        "mine": "/srv/mine",  # the user's
        "sonarr": "/srv/tv",  # the user's, same name as a wanted one
    }
    plan = desired.plan_categories({"radarr", "sonarr", "new"}, existing)
    assert plan.create == {"new": "/data/downloads/new"}
    assert plan.delete == ["gone"]
    assert plan.user_owned == ["sonarr"]
    assert desired.plan_categories({"radarr"}, {"radarr": "/data/downloads/radarr"}).empty
