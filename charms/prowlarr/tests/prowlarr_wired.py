"""prowlarr-k8s wired: Radarr and Sonarr on media-indexer, Gluetun on vpn-gateway."""

from __future__ import annotations

import json
from typing import Any

from servarr_wired import servarr_state

from charmarr_servarr.api import PROWLARR
from charmarr_testing import builders
from charmarr_testing.fake_gluetun import FakeGluetun

GATEWAY_IP = "198.51.100.23"
"""The public IP Gluetun's control server reports (its databag says another one)."""


def wired_state(network: Any, *, leader: bool = True) -> tuple[Any, Any]:
    """The state of a deployed, fully related prowlarr unit and its workload fake.

    Gluetun's control server is served too: Prowlarr asks it for the public IP with the key
    made for its relation.
    """
    gluetun = builders.vpn_gateway_from_gluetun()
    control = json.loads(gluetun.relation.remote_app_data["control_url"])
    # A Gluetun that published connected: true has its tunnel up already.
    gateway = FakeGluetun(public_ip=GATEWAY_IP, checks_to_connect=0)
    network.add(control.removeprefix("http://"), gateway)
    remotes = [
        builders.media_indexer_from_arr(kind="radarr"),
        builders.media_indexer_from_arr(kind="sonarr"),
        gluetun,
    ]
    return servarr_state(PROWLARR, network, relations=remotes, leader=leader)
