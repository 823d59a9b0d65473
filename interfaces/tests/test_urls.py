"""URLs from related apps: what the databag models accept, the transport can use."""

from __future__ import annotations

from urllib.parse import urlsplit

import pydantic
import pytest
from hypothesis import given, settings

from charmarr_interfaces.media_server.models import MediaServerProviderData
from charmarr_interfaces.urls import SOCKS5_SCHEMES, url_problem
from charmarr_interfaces.vpn_gateway.models import VpnGatewayProviderData
from charmarr_testing.hostile import KNOWN_CASES, hostile_urls

SECRET = "secret:cektar2jffvo4pjxkoxa"


@pytest.mark.parametrize(
    "url",
    [
        "http://radarr.media.svc.cluster.local:7878",
        "https://10.1.2.3",
        "http://[::1]:8080/base",
        "http://h:65535/",
        "http://h:",
    ],
)
def test_usable_urls_pass(url):
    assert url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        *[(case, None) for case in KNOWN_CASES],
        ("http://h:0", "port is not a number in 1-65535"),
        ("http://h:+1", "port is not a number in 1-65535"),
        ("http://h:\u0668\u0660", "port is not a number in 1-65535"),
        ("http://[zz]:1", "broken IPv6 literal"),
        ("http://u:p@h:1", "user info is not allowed in the URL"),
        ("http://h\n:1", "contains whitespace or control characters"),
        ("http://" + "a" * 254, "host longer than 253 characters"),
        ("http://h/?apikey=x", "a query or fragment is not allowed in the URL"),
        ("ftp://h", "not a http/https URL"),
        ("http://-h", "host is not a DNS name or IP address"),
        (7878, "not a string"),
    ],
)
def test_unusable_urls_say_why(url, reason):
    problem = url_problem(url)
    assert problem is not None
    assert reason is None or problem == reason


@settings(max_examples=300, deadline=None)
@given(url=hostile_urls())
def test_an_http_url_the_model_accepts_is_one_the_transport_can_use(url):
    try:
        data = MediaServerProviderData(url=url, token_secret_id=SECRET)
    except pydantic.ValidationError:
        assert url_problem(url) is not None
        return
    parts = urlsplit(data.url)
    assert parts.hostname
    assert parts.port is None or 1 <= parts.port <= 65535
    assert not any(ord(c) < 0x21 or ord(c) == 0x7F for c in data.url)


@settings(max_examples=200, deadline=None)
@given(url=hostile_urls("socks5"))
def test_socks5_proxy_url_is_checked_too(url):
    fields = {
        "http_proxy_url": "http://gluetun.media.svc.cluster.local:8888",
        "control_url": "http://gluetun.media.svc.cluster.local:8000",
        "proxy_credentials_secret_id": SECRET,
        "control_secret_id": SECRET,
    }
    try:
        data = VpnGatewayProviderData(socks5_proxy_url=url, **fields)
    except pydantic.ValidationError:
        return
    assert url_problem(data.socks5_proxy_url, SOCKS5_SCHEMES) is None
    assert urlsplit(data.socks5_proxy_url).path == ""


@pytest.mark.parametrize("ip", ["203.0.113.7\nX", "not-an-ip", "1.2.3.4; rm"])
def test_public_ip_must_be_an_address(ip):
    fields = {
        "http_proxy_url": "http://g:8888",
        "socks5_proxy_url": "socks5://g:1080",
        "control_url": "http://g:8000",
        "proxy_credentials_secret_id": SECRET,
        "control_secret_id": SECRET,
    }
    with pytest.raises(pydantic.ValidationError, match="not an IP address"):
        VpnGatewayProviderData(public_ip=ip, **fields)
    assert VpnGatewayProviderData(public_ip="2001:db8::1", **fields).public_ip
