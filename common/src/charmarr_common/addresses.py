"""Addresses the unit itself must keep reaching, as the hook's environment gives them.

Juju gives every hook the controller addresses its unit agent dials
(``JUJU_API_ADDRESSES``, from agent.conf's ``apiaddresses``; worker/uniter/runner/context/
context.go) and the kubelet the API server's Service (``KUBERNETES_SERVICE_HOST``/``PORT``).
Gluetun's firewall and the kill switch's NetworkPolicies must both let these through.
"""

from __future__ import annotations

import ipaddress
import socket


def host_port(address: str, default: int) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or a bare host (then ``default``)."""
    address = address.strip()
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        return host, int(rest.lstrip(":") or default)
    if address.count(":") == 1:
        host, port = address.split(":")
        return host, int(port)
    return address, default


def ips(host: str) -> tuple[str, ...]:
    """``host`` as IP addresses (resolved through cluster DNS if it is a name; none if not)."""
    try:
        return (str(ipaddress.ip_address(host)),)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return ()
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))
