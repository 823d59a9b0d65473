"""What each app of the bundle settles in, with and without the user's secrets.

Without a VPN account Gluetun cannot connect, so Prowlarr (whose searches go through it)
waits, and the download clients run with ``require-vpn=false`` (the integration fixture sets
it for qBittorrent; SABnzbd's default). Without a Plex claim token Plex cannot be claimed,
publishes no token, and Radarr and Sonarr wait for it. The integration tests wait for exactly
this; ``tests/stack`` checks the same table against the charms in one process, so it cannot
drift from what the charms do. Stdlib only: both test suites import it.
"""

from __future__ import annotations

APPS = ("prowlarr", "radarr", "sonarr", "sabnzbd", "qbittorrent", "gluetun", "plex")


def settled(*, vpn: bool, plex: bool) -> dict[str, tuple[str, str]]:
    """App -> (status, a fragment of its message) once the model settles."""
    expected = dict.fromkeys(APPS, ("active", ""))
    if not vpn:
        expected["gluetun"] = ("blocked", "vpn-provider unset")
        expected["prowlarr"] = ("waiting", "VPN gluetun disconnected")
        expected["qbittorrent"] = ("active", "VPN disconnected")
        expected["sabnzbd"] = ("active", "VPN disconnected")
    if not plex:
        expected["plex"] = ("blocked", "unclaimed")
        expected["radarr"] = ("waiting", "waiting for plex to publish on media-server")
        expected["sonarr"] = ("waiting", "waiting for plex to publish on media-server")
    return expected


def mismatches(
    statuses: dict[str, tuple[str, str]], expected: dict[str, tuple[str, str]]
) -> dict[str, str]:
    """App -> what differs, for the apps whose (status, message) is not as expected."""
    found: dict[str, str] = {}
    for app, (status, fragment) in expected.items():
        got = statuses.get(app)
        if got is None or got[0] != status or fragment not in got[1]:
            found[app] = f"{got} (want {status} with {fragment!r})"
    return found
