"""sonarr-k8s wired: Prowlarr (listing it), qBittorrent, SABnzbd and Plex related."""

from __future__ import annotations

from typing import Any

from servarr_wired import media_manager_world

from charmarr_servarr.api import SONARR


def wired_state(network: Any, *, leader: bool = True) -> tuple[Any, Any]:
    """The state of a deployed, fully related sonarr unit and its workload fake."""
    return media_manager_world(SONARR, network, leader=leader)
