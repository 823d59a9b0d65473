"""Plex Media Server in its container: paths, the Pebble layer and the readiness check.

The image is the official ``plexinc/pms-docker``; the charm skips its s6 init and runs the
server binary directly under Pebble, as user and group 1000, with Plex's application
support directory on the ``config`` storage. No credential is ever in this layer: the
server's token lives in ``Preferences.xml`` only.
"""

from __future__ import annotations

from ops import pebble

from .api import IDENTITY_PATH, PORT

CONTAINER = "plex"
SERVICE = "plex"
CHECK = "plex-ready"
LAYER = "plex"
USER_ID = 1000
GROUP_ID = 1000

CONFIG_DIR = "/config"
LIBRARY_DIR = f"{CONFIG_DIR}/Library"
APP_SUPPORT_DIR = f"{LIBRARY_DIR}/Application Support"
SERVER_DIR = f"{APP_SUPPORT_DIR}/Plex Media Server"
PREFERENCES = f"{SERVER_DIR}/Preferences.xml"
DIRECTORIES = (LIBRARY_DIR, APP_SUPPORT_DIR, SERVER_DIR)
"""Created (owned by 1000:1000) before the first start; the storage root belongs to root."""
TRANSCODE_DIR = "/transcode"
"""Plex's transcoder scratch space: the image makes it (owned by root) and its first-run
script hands it to the plex user and sets ``TranscoderTempDirectory`` to it (pms-docker
root/etc/cont-init.d/40-plex-first-run); the charm does both before the first start."""

PLEX_HOME = "/usr/lib/plexmediaserver"
BINARY = f"{PLEX_HOME}/Plex Media Server"


def layer() -> pebble.LayerDict:
    """The Pebble layer: the server and a readiness check on the anonymous /identity."""
    return {
        "summary": "Plex Media Server",
        "services": {
            SERVICE: {
                "override": "replace",
                "summary": "Plex Media Server",
                "command": f'"{BINARY}"',
                "startup": "enabled",
                "user-id": USER_ID,
                "group-id": GROUP_ID,
                "working-dir": CONFIG_DIR,
                "environment": {
                    "HOME": CONFIG_DIR,
                    "PLEX_MEDIA_SERVER_APPLICATION_SUPPORT_DIR": APP_SUPPORT_DIR,
                    "PLEX_MEDIA_SERVER_HOME": PLEX_HOME,
                    "PLEX_MEDIA_SERVER_MAX_PLUGIN_PROCS": "6",
                    "PLEX_MEDIA_SERVER_INFO_VENDOR": "Docker",
                    "PLEX_MEDIA_SERVER_INFO_DEVICE": "Docker Container",
                    "LD_LIBRARY_PATH": f"{PLEX_HOME}:{PLEX_HOME}/lib",
                    "LANG": "C.UTF-8",
                    "LC_ALL": "C.UTF-8",
                },
            }
        },
        "checks": {
            CHECK: {
                "override": "replace",
                "level": "ready",
                "period": "10s",
                "threshold": 3,
                "http": {"url": f"http://localhost:{PORT}{IDENTITY_PATH}"},
            }
        },
    }
