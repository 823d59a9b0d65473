"""The Pebble layer that runs qbittorrent-nox directly (no s6 init from the image)."""

from __future__ import annotations

from ops import pebble

SERVICE = "qbittorrent"
PORT = 8080
USER_ID = 1000
GROUP_ID = 1000


def pebble_layer(allowed: bool) -> pebble.LayerDict:
    """The layer; ``allowed`` False (no VPN, require-vpn) keeps the service off on boot."""
    return {
        "summary": "qbittorrent",
        "services": {
            SERVICE: {
                "override": "replace",
                "summary": "qBittorrent (WebUI on port 8080)",
                "command": f"/usr/bin/qbittorrent-nox --profile=/config --webui-port={PORT}",
                "startup": "enabled" if allowed else "disabled",
                "user-id": USER_ID,
                "group-id": GROUP_ID,
                "environment": {"HOME": "/config"},
            }
        },
        "checks": {
            "qbittorrent-ready": {
                "override": "replace",
                "level": "ready",
                # /api/v2/app/version needs a session (403 without one, in 4.5 and 5.x
                # alike) and a Pebble HTTP check passes on 2xx only, so the check asks
                # the anonymous login page; the charm asks app/version with its own
                # session on every hook.
                "http": {"url": f"http://localhost:{PORT}/"},
            }
        },
    }
