"""radarr-k8s wired: Prowlarr (listing it), qBittorrent, SABnzbd and Plex related."""

from __future__ import annotations

from typing import Any

from charmarr_servarr.api import RADARR
from charmarr_testing.fake_servarr import media_manager_world


def wired_state(network: Any, *, leader: bool = True) -> tuple[Any, Any]:
    """The state of a deployed, fully related radarr unit and its workload fake."""
    return media_manager_world(RADARR, network, leader=leader)
