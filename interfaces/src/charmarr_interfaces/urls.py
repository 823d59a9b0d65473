"""What makes a URL usable by the transport, checked in one place (standard library only).

Related apps publish URLs that this charm then connects to or hands to its workload. A URL
that merely looks like one (``http://h:99999``, ``http://h:abc``, ``http://[h``) makes
``urlsplit(...).port`` raise, so the databag models and the HTTP client both ask
:func:`url_problem` and turn any "no" into a status instead of a hook error.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

MAX_URL = 2048
"""Longest URL accepted (far beyond any service URL Juju gives an app)."""
MAX_HOST = 253
"""Longest DNS name (RFC 1035); IDNA refuses longer ones anyway."""

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
_PORT = re.compile(r"^[0-9]{1,5}$")

HTTP_SCHEMES = ("http", "https")
SOCKS5_SCHEMES = ("socks5", "socks5h")


def url_problem(value: object, schemes: tuple[str, ...] = HTTP_SCHEMES) -> str | None:
    """Why ``value`` is not a URL the transport can use, or None if it is.

    Accepted: one of ``schemes``, a DNS name or IP literal, an optional decimal port in
    1-65535, an optional path; no user info, query, fragment, whitespace or control
    characters.
    """
    if not isinstance(value, str):
        return "not a string"
    if len(value) > MAX_URL:
        return f"longer than {MAX_URL} characters"
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        return "contains whitespace or control characters"
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in schemes:
        return f"not a {'/'.join(schemes)} URL"
    netloc = rest.split("/", 1)[0]
    if "@" in netloc:
        return "user info is not allowed in the URL"
    if "?" in rest or "#" in rest:
        return "a query or fragment is not allowed in the URL"
    if netloc.startswith("["):
        literal, bracket, after = netloc[1:].partition("]")
        if not bracket:
            return "broken IPv6 literal"
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            return "broken IPv6 literal"
        port = after[1:] if after.startswith(":") else None
        if after and port is None:
            return "garbage after the IPv6 literal"
    else:
        host, colon, port_text = netloc.partition(":")
        port = port_text if colon else None
        problem = _host_problem(host)
        if problem:
            return problem
    if port is not None and port != "":
        if not _PORT.match(port) or not 1 <= int(port) <= 65535:
            return "port is not a number in 1-65535"
    try:
        urlsplit(value).port  # noqa: B018 - the very call that must not raise later
    except ValueError:
        return "not a URL"
    return None


def _host_problem(host: str) -> str | None:
    if not host:
        return "no host"
    if len(host) > MAX_HOST:
        return f"host longer than {MAX_HOST} characters"
    if not all(_LABEL.match(label) for label in host.rstrip(".").split(".")):
        return "host is not a DNS name or IP address"
    return None


def is_ip_address(value: object) -> bool:
    """Whether ``value`` is an IPv4 or IPv6 address (an empty string counts as none)."""
    if value == "":
        return True
    try:
        ipaddress.ip_address(value)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True
