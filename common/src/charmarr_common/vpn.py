"""A download client's (or Prowlarr's) view of its VPN gateway: usable, and allowed to download?

The relation read is the contract's (:meth:`VpnGatewayRequirer.gateway`); asking Gluetun's
control server for the current public IP, and failing closed under ``require-vpn``, are
charm behaviour shared by qBittorrent, SABnzbd and Prowlarr.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ops

from charmarr_interfaces.urls import is_ip_address
from charmarr_interfaces.vpn_gateway import PUBLIC_IP_PATH, Gateway, VpnGatewayRequirer

from .errors import CharmarrError, WaitingError
from .http import HttpClient, WorkloadHttpError, WorkloadUnreachableError

if TYPE_CHECKING:
    from .network_policy import KillSwitch


def read_gateway(
    charm: ops.CharmBase, requirer: VpnGatewayRequirer, *, refresh: bool = False
) -> Gateway | None:
    """The related gateway with its proxy credentials, or None when none is related.

    The public IP is asked of Gluetun's control server with this relation's own control
    key; if the control server does not answer, the IP Gluetun published is used.

    Raises:
        CharmarrError: invalid relation data or an unreadable secret (with its status).
    """
    gateway = requirer.gateway(refresh=refresh)
    if gateway is None or not gateway.connected:
        return gateway
    client = HttpClient(
        gateway.control_url, name=gateway.app, headers={"X-API-Key": gateway.control_key}
    )
    try:
        answer = client.get_json(PUBLIC_IP_PATH)
    except (WorkloadUnreachableError, WorkloadHttpError):
        return gateway
    ip = answer.get("public_ip") if isinstance(answer, dict) else None
    if isinstance(ip, str) and ip and is_ip_address(ip):
        return dataclasses.replace(gateway, public_ip=ip)
    return gateway


@dataclass(frozen=True)
class VpnDecision:
    """Whether the workload may download, and what to tell the operator."""

    allow_downloads: bool
    problem: CharmarrError | None = None
    note: str = ""


def decide(app: str, require_vpn: bool, gateway: Gateway | None) -> VpnDecision:
    """Fail closed: with ``require-vpn`` and no connected gateway, no downloads."""
    if gateway is None:
        if require_vpn:
            return VpnDecision(
                False,
                CharmarrError(
                    f"no VPN and require-vpn is true: juju integrate {app} gluetun, "
                    f"or juju config {app} require-vpn=false"
                ),
            )
        return VpnDecision(True)
    if not gateway.connected:
        problem = WaitingError(f"VPN {gateway.app} disconnected; downloads stopped")
        return VpnDecision(not require_vpn, problem if require_vpn else None, "VPN disconnected")
    return VpnDecision(True, None, f"via VPN {gateway.public_ip or '(IP unknown)'}")


KILL_SWITCH_ON = "kill switch on"
"""Appended to the Active note while the egress policy holds the app to its gateway."""


def with_kill_switch(
    charm: ops.CharmBase,
    switch: KillSwitch,
    decision: VpnDecision,
    *,
    require_vpn: bool,
    peers: Sequence[tuple[str, tuple[int, ...]]] = (),
) -> tuple[VpnDecision, CharmarrError | None]:
    """``decision`` once the kill switch matches it, and what kept the switch from it.

    Call it before the workload runs. While the app must use the VPN (``require-vpn``, or
    a gateway related) its egress policy allows nothing but the gateway and what the unit
    itself needs, and the note says so. If the policy cannot be put in place under
    ``require-vpn``, downloads stop (fail closed); without ``require-vpn`` they go on
    through the app's proxy settings. The problem is returned for the report either way.
    """
    from .network_policy import protect

    try:
        on = protect(charm, switch, require_vpn=require_vpn, peers=peers)
    except CharmarrError as e:
        allowed = decision.allow_downloads and not require_vpn
        return dataclasses.replace(decision, allow_downloads=allowed), e
    if on and decision.note:
        decision = dataclasses.replace(decision, note=f"{decision.note}, {KILL_SWITCH_ON}")
    return decision, None
