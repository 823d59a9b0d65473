"""The addresses this pod must keep reaching once Gluetun's firewall is up.

Gluetun's OUTPUT policy is DROP for every container of the pod: only the tunnel, the
pod's link network and ``FIREWALL_OUTBOUND_SUBNETS`` (``cluster-cidrs``) stay reachable
(gluetun internal/firewall/enable.go). The Juju agent in the charm container talks to
its controller and the charm talks to the Kubernetes API through that same firewall, so
``cluster-cidrs`` must contain their addresses, or the unit is cut off: no hook runs
again to fix it, and its probes still pass. Both are known without a network call: Juju gives
the hook its controller addresses (``JUJU_API_ADDRESSES``) and the kubelet gives every
container the API service's address (``KUBERNETES_SERVICE_HOST``).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping

from charmarr_common.addresses import host_port, ips
from charmarr_common.k8s import KubernetesApi

CONTROLLER = "the Juju controller"
KUBERNETES_API = "the Kubernetes API"


def needed_addresses(environ: Mapping[str, str] | None = None) -> dict[str, tuple[str, ...]]:
    """What the pod must reach outside the tunnel, by name: controller and API addresses."""
    env = os.environ if environ is None else environ
    needed: dict[str, tuple[str, ...]] = {}
    controller: list[str] = []
    for address in env.get("JUJU_API_ADDRESSES", "").split():
        controller += ips(host_port(address, 17070)[0])
    if controller:
        needed[CONTROLLER] = tuple(dict.fromkeys(controller))
    api = env.get("KUBERNETES_SERVICE_HOST", "").strip()
    if api:
        needed[KUBERNETES_API] = ips(api)
    return needed


def api_url(environ: Mapping[str, str] | None = None) -> str | None:
    """The Kubernetes API by address, or None to use its DNS name.

    Gluetun points the pod's DNS at its own resolver, which answers through the tunnel
    and knows no cluster names; the address the kubelet gives every container needs no
    lookup (and is covered by cluster-cidrs, see :func:`needed_addresses`).
    """
    env = os.environ if environ is None else environ
    host = env.get("KUBERNETES_SERVICE_HOST", "").strip()
    if not host:
        return None
    port = env.get("KUBERNETES_SERVICE_PORT", "443").strip() or "443"
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def discover_cidrs(api: KubernetesApi) -> tuple[str, ...]:
    """The cluster's pod and service networks and node addresses, from the Kubernetes API.

    Pod networks: nodes' ``spec.podCIDRs``, Calico's IP pools (MicroK8s), Cilium's
    per-node pools (Canonical Kubernetes); service networks: ServiceCIDR objects
    (Kubernetes >= 1.33, or v1beta1 from 1.31); nodes: their InternalIP as a host route,
    where a service address ends up with Cilium's socket load balancing. Resource types
    the cluster does not serve are skipped; an empty answer means "not found".

    Raises:
        WorkloadUnreachableError, WorkloadHttpError: the API did not answer usefully.
    """
    found: list[str] = []
    nodes = api.list_items("/api/v1/nodes") or []
    for node in nodes:
        found += (node.get("spec") or {}).get("podCIDRs") or []
    for pool in api.list_items("/apis/crd.projectcalico.org/v1/ippools") or []:
        found.append((pool.get("spec") or {}).get("cidr") or "")
    for node in api.list_items("/apis/cilium.io/v2/ciliumnodes") or []:
        found += ((node.get("spec") or {}).get("ipam") or {}).get("podCIDRs") or []
    services = api.list_items("/apis/networking.k8s.io/v1/servicecidrs")
    if services is None:
        services = api.list_items("/apis/networking.k8s.io/v1beta1/servicecidrs")
    for service in services or []:
        found += (service.get("spec") or {}).get("cidrs") or []
    for node in nodes:
        for address in (node.get("status") or {}).get("addresses") or []:
            if address.get("type") == "InternalIP":
                found.append(host_route(str(address.get("address", ""))))
    networks: list[str] = []
    for entry in found:
        try:
            networks.append(str(ipaddress.ip_network(str(entry), strict=False)))
        except ValueError:
            continue
    return tuple(dict.fromkeys(networks))


def host_route(address: str) -> str:
    """``address`` as a one-address CIDR (/32 or /128); empty if it is not an address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    return f"{ip}/{ip.max_prefixlen}"
