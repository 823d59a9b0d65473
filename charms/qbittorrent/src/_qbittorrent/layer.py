"""The Pebble layer that runs qbittorrent-nox directly (no s6 init from the image).

It matches what the linuxserver image's ``svc-qbittorrent`` and Dockerfile give the
daemon: ``/usr/bin/qbittorrent-nox`` (5.1.2 is Alpine's package), user 1000, and the
image's ``HOME``/``XDG_CONFIG_HOME``/``XDG_DATA_HOME`` of ``/config``. The charm adds
``--profile=/config``, so the conf's place (``/config/qBittorrent/config``) does not
depend on the environment. The image's init owns ``/config`` to the user first; the
charm does the same once (``workload.take_ownership``).
"""

from __future__ import annotations

from ops import pebble

SERVICE = "qbittorrent"
PORT = 8080
USER_ID = 1000
GROUP_ID = 1000
CONFIG_DIR = "/config"

KILL_DELAY = "30s"
"""How long Pebble lets qBittorrent shut down before SIGKILL (Pebble's default is 5 s).

On SIGTERM qBittorrent saves every torrent's resume data and waits for it without a time
limit upstream; killed earlier, it forgets the progress since its last periodic save."""


def pebble_layer(allowed: bool) -> pebble.LayerDict:
    """The layer; ``allowed`` False (no VPN, require-vpn) keeps the service off on boot."""
    return {
        "summary": "qbittorrent",
        "services": {
            SERVICE: {
                "override": "replace",
                "summary": "qBittorrent (WebUI on port 8080)",
                "command": f"/usr/bin/qbittorrent-nox --profile={CONFIG_DIR} --webui-port={PORT}",
                "startup": "enabled" if allowed else "disabled",
                "user-id": USER_ID,
                "group-id": GROUP_ID,
                "kill-delay": KILL_DELAY,
                "environment": {
                    "HOME": CONFIG_DIR,
                    "XDG_CONFIG_HOME": CONFIG_DIR,
                    "XDG_DATA_HOME": CONFIG_DIR,
                },
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
