"""contract.md as data: the names operators, bundles and scripts depend on.

Tests hold every charm's ``charmcraft.yaml`` and ``bundle.yaml`` against this. A change
here is a breaking change and needs its own issue (see ``../shared/contract.md``).
"""

from __future__ import annotations

ROTATION_DEFAULT = ("string", "monthly")

CHARMS: dict[str, dict] = {
    "prowlarr": {
        "name": "prowlarr-k8s",
        "container": "prowlarr",
        "port": 9696,
        "provides": {"media-indexer": None},
        "requires": {"vpn-gateway": 1, "ingress": 1},
        "config": {"rotation-interval": ROTATION_DEFAULT},
        "actions": {"rotate-credentials", "get-url"},
        "secret_labels": {"prowlarr-api-key"},
    },
    "radarr": {
        "name": "radarr-k8s",
        "container": "radarr",
        "port": 7878,
        "provides": {},
        "requires": {
            "media-indexer": 1,
            "download-client": None,
            "media-server": None,
            "ingress": 1,
        },
        "config": {"rotation-interval": ROTATION_DEFAULT, "media-volume": ("string", "")},
        "actions": {"rotate-credentials", "get-url"},
    },
    "sonarr": {
        "name": "sonarr-k8s",
        "container": "sonarr",
        "port": 8989,
        "provides": {},
        "requires": {
            "media-indexer": 1,
            "download-client": None,
            "media-server": None,
            "ingress": 1,
        },
        "config": {"rotation-interval": ROTATION_DEFAULT, "media-volume": ("string", "")},
        "actions": {"rotate-credentials", "get-url"},
    },
    "sabnzbd": {
        "name": "sabnzbd-k8s",
        "container": "sabnzbd",
        "port": 8080,
        "provides": {"download-client": None},
        "requires": {"vpn-gateway": 1, "ingress": 1},
        "config": {
            "rotation-interval": ROTATION_DEFAULT,
            "require-vpn": ("boolean", False),
            "media-volume": ("string", ""),
        },
        "actions": {"rotate-credentials", "get-url"},
    },
    "qbittorrent": {
        "name": "qbittorrent-k8s",
        "container": "qbittorrent",
        "port": 8080,
        "provides": {"download-client": None},
        "requires": {"vpn-gateway": 1, "ingress": 1},
        "config": {
            "rotation-interval": ROTATION_DEFAULT,
            "require-vpn": ("boolean", True),
            "media-volume": ("string", ""),
        },
        "actions": {"rotate-credentials", "get-url"},
    },
    "gluetun": {
        "name": "gluetun-k8s",
        "container": "gluetun",
        "port": 8000,
        "provides": {"vpn-gateway": None},
        "requires": {},
        "config": {
            "rotation-interval": ROTATION_DEFAULT,
            "credentials-secret": ("secret", None),
            "vpn-provider": ("string", ""),
            "vpn-type": ("string", "wireguard"),
            "server-countries": ("string", ""),
            "cluster-cidrs": ("string", ""),
        },
        "actions": {"rotate-credentials"},
    },
    "plex": {
        "name": "plex-k8s",
        "container": "plex",
        "port": 32400,
        "provides": {"media-server": None},
        "requires": {},
        "config": {
            "claim-token-secret": ("secret", None),
            "media-volume": ("string", ""),
            "remote-access": ("string", "none"),
            "advertise-urls": ("string", ""),
        },
        "actions": set(),
    },
}
"""Per charm directory: charm name, container, port, endpoints (name -> limit), config
(name -> (type, default)), actions."""
