"""Gluetun's control server, as the charm (and its tests) talk to it."""

from __future__ import annotations

from dataclasses import dataclass

from charmarr_interfaces.http import HttpClient, WorkloadHttpError, WorkloadUnreachableError
from charmarr_interfaces.secrets import WaitingError
from charmarr_interfaces.vpn_gateway import PUBLIC_IP_PATH, VPN_STATUS_PATH

from .workload import CONTROL_PORT

LOCAL_URL = f"http://localhost:{CONTROL_PORT}"
NAME = "gluetun control server"


@dataclass(frozen=True)
class VpnState:
    """What the control server says about the tunnel."""

    connected: bool
    status: str
    public_ip: str | None


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


def vpn_state(key: str) -> VpnState:
    """The VPN status and public IP, asked with ``key``.

    Raises:
        WaitingError: the server did not answer, refused the key, failed or sent garbage.
    """
    client = _client(key)
    status = _get(client, VPN_STATUS_PATH).get("status")
    if not isinstance(status, str):
        raise WaitingError(f"{NAME} answered {VPN_STATUS_PATH} without a status")
    connected = status == "running"
    public_ip: str | None = None
    if connected:
        value = _get(client, PUBLIC_IP_PATH).get("public_ip")
        public_ip = value if isinstance(value, str) and value else None
    return VpnState(connected, status, public_ip)


def accepts(key: str) -> bool:
    """Whether the control server answers a status request made with ``key``."""
    try:
        _get(_client(key), VPN_STATUS_PATH)
    except WaitingError:
        return False
    return True
