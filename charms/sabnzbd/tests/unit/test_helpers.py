"""sabnzbd.ini editing, the SABnzbd API client against the fake, and charmcraft.yaml."""

from __future__ import annotations

import pytest
from charms_under_test import load_charm

from charmarr_common.http import Response, use_transport
from charmarr_testing.fake_sabnzbd import FakeSabnzbd

load_charm("sabnzbd")

from _sabnzbd import (  # noqa: E402
    category_dir,
    host_whitelist,
    ini,
    is_managed_category,
    render_ini,
    socks5_url,
)
from _sabnzbd.api import ApiKeyRefusedError, SabnzbdApiError, SabnzbdClient  # noqa: E402

KEY = "0123456789abcdef0123456789abcdef"
NAMES = host_whitelist("sabnzbd", "media", 0)


# -- sabnzbd.ini -----------------------------------------------------------------------------


def test_render_from_nothing_has_key_names_dirs_and_no_proxy():
    text = render_ini(None, api_key=KEY, whitelist=NAMES, proxy_url="")
    values = ini.misc_values(text)
    assert values["api_key"] == KEY
    assert ini.misc_list(text, "host_whitelist") == NAMES
    assert values["download_dir"] == "/data/downloads/incomplete"
    assert values["complete_dir"] == "/data/downloads/complete"
    assert values.get("socks5_proxy_url", "") == ""


def test_render_is_stable_when_nothing_changed():
    text = render_ini(None, api_key=KEY, whitelist=NAMES, proxy_url="")
    assert render_ini(text, api_key=KEY, whitelist=NAMES, proxy_url="") is text


def test_render_keeps_extra_whitelist_names_and_user_dirs():
    text = "[misc]\nhost_whitelist = my.nas, sabnzbd\ndownload_dir = /mnt/inc\n"
    out = render_ini(text, api_key=KEY, whitelist=NAMES, proxy_url=None)
    assert ini.misc_list(out, "host_whitelist")[:2] == ["my.nas", "sabnzbd"]
    assert set(NAMES) <= set(ini.misc_list(out, "host_whitelist"))
    assert ini.misc_values(out)["download_dir"] == "/mnt/inc"
    assert "socks5_proxy_url" not in ini.misc_values(out)  # None leaves it alone


def test_only_misc_keys_change_and_nested_sections_stay():
    text = (
        "__version__ = 19\n[misc]\napi_key = old\n[servers]\n[[news]]\napi_key = not-misc\n"
        "[categories]\n[[*]]\nname = *\n"
    )
    out = render_ini(text, api_key=KEY, whitelist=NAMES, proxy_url="")
    assert "api_key = not-misc" in out
    assert out.count(f"api_key = {KEY}") == 1
    assert out.startswith("__version__ = 19\n[misc]\napi_key = " + KEY)
    assert out.rstrip().endswith("[[*]]\nname = *")


def test_quoted_values_and_missing_misc_section():
    text = "__version__ = 19\n[servers]\n[[a]]\nhost = a\n"
    out = ini.with_misc(text, {"socks5_proxy_url": "", "cache_limit": "1, 2"})
    assert ini.misc_values(out) == {"socks5_proxy_url": "", "cache_limit": "1, 2"}
    assert "[[a]]\nhost = a" in out
    assert ini.misc_list('[misc]\nh = "a, b", c\n', "h") == ["a, b", "c"]


def test_category_marker_and_socks5_url():
    assert category_dir("radarr") == "/data/downloads/radarr"
    assert is_managed_category("radarr", "/data/downloads/radarr/")
    assert not is_managed_category("radarr", "/mnt/radarr")
    assert not is_managed_category("*", "/data/downloads/*")
    assert socks5_url("gw", 1080, "u", "p-w.d") == "socks5://u:p-w.d@gw:1080"
    assert socks5_url("gw", 1080, "u", "p@ss") is None


# -- the API client --------------------------------------------------------------------------


@pytest.fixture
def sab(fake_network):
    app = FakeSabnzbd(KEY)
    fake_network.add("localhost:8080", app)
    return app


def client(key=KEY):
    return SabnzbdClient("http://localhost:8080", key)


def test_client_key_checks_and_version(sab):
    assert client(None).version() == "4.5.1"
    client().check_key()
    with pytest.raises(ApiKeyRefusedError):
        client("f" * 32).check_key()
    sab.refusal = "body"
    with pytest.raises(ApiKeyRefusedError):
        client("f" * 32).check_key()
    with pytest.raises(ApiKeyRefusedError):
        client("").check_key()


def test_client_rotation_invalidates_the_old_key(sab):
    new = client().rotate_api_key()
    assert new != KEY
    client(new).check_key()
    with pytest.raises(ApiKeyRefusedError):
        client().check_key()


def test_client_categories_and_misc(sab):
    c = client()
    c.set_category("radarr", "/data/downloads/radarr")
    assert c.categories()["radarr"] == "/data/downloads/radarr"
    c.delete_category("radarr")
    assert "radarr" not in c.categories()
    c.set_misc("socks5_proxy_url", "socks5://a:b@h:1")
    assert c.misc("socks5_proxy_url") == "socks5://a:b@h:1"
    c.pause()
    assert sab.paused
    c.resume()
    assert not sab.paused


@pytest.mark.parametrize(
    ("response", "error", "text"),
    [
        (
            Response(200, b'{"status": false, "error": "API Key Incorrect"}'),
            ApiKeyRefusedError,
            "refused the API key",
        ),
        (
            Response(200, b'{"status": false, "error": "Config locked"}'),
            SabnzbdApiError,
            "Config locked",
        ),
        (Response(200, b"<html>"), SabnzbdApiError, "non-JSON"),
        (Response(200, b"[1, 2]"), SabnzbdApiError, "unexpected JSON"),
        (
            Response(403, b"Access denied - Hostname verification failed: https://x"),
            SabnzbdApiError,
            "host_whitelist",
        ),
        (Response(403, b""), ApiKeyRefusedError, "refused the API key"),
        (Response(403, b"Access denied"), SabnzbdApiError, "HTTP 403"),
        (Response(502, b"bad gateway"), SabnzbdApiError, "HTTP 502"),
    ],
)
def test_client_error_answers(response, error, text):
    with use_transport(lambda request, timeout: response), pytest.raises(error, match=text) as e:
        client().categories()
    assert KEY not in str(e.value)


def test_client_rejects_answers_without_data():
    answers = {
        "version": Response(200, b"{}"),
        "config": Response(200, b'{"apikey": ""}'),
        "get_config": Response(200, b'{"config": {}}'),
    }

    def transport(request, timeout):
        return answers[request.query["mode"]]

    with use_transport(transport):
        with pytest.raises(SabnzbdApiError):
            client().version()
        with pytest.raises(SabnzbdApiError):
            client().rotate_api_key()
        with pytest.raises(SabnzbdApiError):
            client().misc("socks5_proxy_url")
        assert client().categories() == {}


# -- charmcraft.yaml against the contract -----------------------------------------------------


def test_fake_boots_from_the_rendered_ini(sab):
    text = render_ini(None, api_key="ab" * 16, whitelist=NAMES, proxy_url="socks5://u:p@h:1")
    sab.boot(text)

    assert sab.api_key == "ab" * 16
    assert sab.misc["socks5_proxy_url"] == "socks5://u:p@h:1"
    SabnzbdClient("http://localhost:8080", "ab" * 16, host="sabnzbd.media.svc:8080").check_key()
    with pytest.raises(SabnzbdApiError, match="host_whitelist"):
        SabnzbdClient("http://localhost:8080", "ab" * 16, host="evil.example").check_key()
