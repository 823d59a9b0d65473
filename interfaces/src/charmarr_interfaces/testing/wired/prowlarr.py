"""prowlarr-k8s wired: Radarr and Sonarr on media-indexer, Gluetun on vpn-gateway."""

from __future__ import annotations

from typing import Any

from ...servarr import PROWLARR
from .. import builders
from ..fake_servarr import servarr_state


def wired_state(network: Any, *, leader: bool = True) -> tuple[Any, Any]:
    """The state of a deployed, fully related prowlarr unit and its workload fake."""
    remotes = [
        builders.media_indexer_from_arr(kind="radarr"),
        builders.media_indexer_from_arr(kind="sonarr"),
        builders.vpn_gateway_from_gluetun(),
    ]
    return servarr_state(PROWLARR, network, relations=remotes, leader=leader)
