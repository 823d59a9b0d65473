"""Hostile-but-plausible values for relation data: what a broken or malicious peer publishes.

Random JSON rarely looks like a URL, so it never reached the code that takes a URL
apart; these strategies build values that *almost* are: the right scheme with a port out
of range, a port that is not a number, a broken IPv6 literal, user info, control
characters, a very long host. :data:`KNOWN_CASES` are the three that crashed hooks (issue
16) and stay regression tests.
"""

from __future__ import annotations

from hypothesis import strategies as st

KNOWN_CASES = ("http://h:99999", "http://h:abc", "http://[h")
"""``urlsplit(...).port`` raises on each; they passed the old databag validators."""

_HOSTS = st.one_of(
    st.sampled_from(
        [
            "radarr.media.svc.cluster.local",
            "h",
            "10.1.2.3",
            "[::1]",
            "[h",
            "[::1",
            "[zz]",
            "[::1]x",
            "u:p@h",
            "user@h",
            "h\nX-Injected: 1",
            "h\r",
            "h\x00",
            "h\t",
            "",
            "-h",
            "h..x",
            "h%00",
            "h/../..",
            "\u0127\u00e9\u00df",
        ]
    ),
    st.integers(254, 1100).map(lambda n: "a" * n),
    st.integers(2, 6).map(lambda n: ".".join(["b" * 63] * n)),
    st.text(st.characters(max_codepoint=0x7F), min_size=1, max_size=12),
)
_PORTS = st.sampled_from(
    [
        "",
        ":",
        ":80",
        ":0",
        ":65535",
        ":65536",
        ":99999",
        ":abc",
        ":-1",
        ":+1",
        ": 80",
        ":\u0668\u0660",
        ":80:80",
        ":1e3",
    ]
)
_TAILS = st.sampled_from(["", "/", "/base", "/a b", "/?q=1", "#frag", "/\n", "/\x7f"])


def hostile_urls(scheme: str = "http") -> st.SearchStrategy[str]:
    """URLs with the expected ``scheme`` (mostly) and something wrong (mostly)."""
    schemes = st.sampled_from([scheme, scheme, scheme, "ftp", scheme.upper(), ""])
    built = st.builds(lambda s, h, p, t: f"{s}://{h}{p}{t}", schemes, _HOSTS, _PORTS, _TAILS)
    known = st.sampled_from([c.replace("http", scheme, 1) for c in KNOWN_CASES])
    return st.one_of(known, built)


def scheme_of(field: str) -> str:
    """The scheme a databag field's URL has when valid (``socks5_proxy_url``: socks5)."""
    return "socks5" if field.startswith("socks5") else "http"


def is_url_field(field: str) -> bool:
    """Whether a databag key holds a URL."""
    return field == "url" or field.endswith("_url")
