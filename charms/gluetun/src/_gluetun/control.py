"""Gluetun's control and health servers, as the charm (and its tests) talk to them.

"running" is not "connected": Gluetun's VPN loop reports ``running`` as soon as the VPN
process starts, before any handshake, and a wrong WireGuard key still reads ``running``.
The tunnel carries traffic when Gluetun knows its public IP (fetched through the tunnel)
and its own health server answers 200 (its TCP+TLS and ICMP checks through the tunnel
passed; gluetun internal/healthcheck/handler.go).
"""

from __future__ import annotations

from dataclasses import dataclass

from charmarr_common.errors import WaitingError
from charmarr_common.http import HttpClient, WorkloadHttpError, WorkloadUnreachableError
from charmarr_interfaces.urls import is_ip_address
from charmarr_interfaces.vpn_gateway import PUBLIC_IP_PATH, VPN_STATUS_PATH

from .workload import CONTROL_PORT, HEALTH_ADDRESS

LOCAL_URL = f"http://localhost:{CONTROL_PORT}"
HEALTH_URL = f"http://{HEALTH_ADDRESS}"
NAME = "gluetun control server"
NOT_CHECKED_YET = "healthcheck did not run yet"
"""Gluetun's health error until its first check after the tunnel came up."""
ENDED = ("stopped", "crashed", "completed")
"""VPN loop statuses that waiting will not change (gluetun internal/constants/status.go)."""


@dataclass(frozen=True)
class VpnState:
    """What Gluetun says about the tunnel."""

    status: str
    public_ip: str | None
    health_error: str | None
    """None when Gluetun's health check passes; else its error (first line, shortened)."""

    @property
    def connected(self) -> bool:
        """The tunnel carries traffic: running, healthy, and the public IP known."""
        return self.status == "running" and self.health_error is None and bool(self.public_ip)

    @property
    def failing(self) -> bool:
        """Running, checked, and the check failed: no traffic passes (e.g. a wrong key)."""
        return self.status == "running" and self.health_error not in (None, NOT_CHECKED_YET)

    @property
    def settled(self) -> bool:
        """Worth reporting: connected, failing or ended; not still on its way up."""
        return self.connected or self.failing or self.status in ENDED


def _client(key: str) -> HttpClient:
    return HttpClient(LOCAL_URL, name=NAME, headers={"X-API-Key": key}, timeout=3.0)


def _get(client: HttpClient, path: str) -> dict[str, object]:
    try:
        answer = client.get_json(path)
    except WorkloadUnreachableError:
        raise WaitingError(f"waiting for the {NAME} to answer") from None
    except WorkloadHttpError as e:
        raise WaitingError(f"{e.message}; waiting for Gluetun") from None
    if not isinstance(answer, dict):
        raise WaitingError(f"{NAME} answered {path} with unexpected content; waiting for Gluetun")
    return answer


def health_error() -> str | None:
    """None if Gluetun's health server answers 200, else why not (no secret in it)."""
    client = HttpClient(HEALTH_URL, name="gluetun health server", timeout=3.0)
    try:
        response = client.request("GET", "/", expect=(200, 500))
    except WorkloadUnreachableError:
        return "its health server does not answer"
    except WorkloadHttpError as e:
        return e.message
    if response.status == 200:
        return None
    text = response.body.decode("utf-8", "replace").strip().splitlines()
    first = text[0].strip() if text else "unhealthy"
    return first if len(first) <= 100 else first[:97] + "..."


def vpn_state(key: str) -> VpnState:
    """The VPN status, public IP and health, the first two asked with ``key``.

    Raises:
        WaitingError: the server did not answer, refused the key, failed or sent garbage.
    """
    client = _client(key)
    status = _get(client, VPN_STATUS_PATH).get("status")
    if not isinstance(status, str):
        raise WaitingError(f"{NAME} answered {VPN_STATUS_PATH} without a status")
    if status != "running":
        return VpnState(status, None, None)
    value = _get(client, PUBLIC_IP_PATH).get("public_ip")
    public_ip = value if isinstance(value, str) and value and is_ip_address(value) else None
    return VpnState(status, public_ip, health_error())


def accepts(key: str) -> bool:
    """Whether the control server answers a status request made with ``key``."""
    try:
        _get(_client(key), VPN_STATUS_PATH)
    except WaitingError:
        return False
    return True
