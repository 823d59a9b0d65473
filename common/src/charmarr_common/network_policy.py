"""The kill switch: NetworkPolicies that keep a protected app's traffic in the VPN gateway.

A protected app (a download client under ``require-vpn`` or related to a gateway; Prowlarr
related to one) gets an egress policy on its own pods that allows only: the gateway's pods
on its proxy and control ports, cluster DNS, the Kubernetes API, the Juju controller its
unit agent talks to, and the in-cluster peers it needs (Prowlarr: Radarr, Sonarr). The CNI
drops everything else, whatever the app's own proxy settings say. The gateway gets an
ingress policy: only its related apps' pods reach those ports. See docs/kill-switch.md.

Builders are pure functions of a :class:`ClusterAccess` (what the unit agent and the charm
must keep reaching, found once from the hook's environment and the API) and the relations.
:func:`reconcile` makes the policies labelled as one app's exactly the wanted set: create,
replace only when different, delete the rest; it never touches an object without those
labels. :class:`KillSwitch` runs it on the leader only when its inputs changed, so a
converged hook makes no Kubernetes call and imports nothing of lightkube.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ops

from .addresses import host_port, ips
from .errors import CharmarrError, WaitingError
from .http import WorkloadHttpError
from .k8s import KubernetesApi

logger = logging.getLogger(__name__)

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGER = "charmarr"
APP_LABEL = "charmarr.io/app"
RELATION_LABEL = "charmarr.io/relation"
POD_LABEL = "app.kubernetes.io/name"
"""The label Juju puts on an application's pods (caas/kubernetes/provider/utils/labels.go,
SelectorLabelsForApp)."""
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
"""Set by Kubernetes on every namespace (NamespaceDefaultLabelName)."""
DNS_NAMESPACE = "kube-system"
DNS_PORT = 53
VPN_RELATION = "vpn-gateway"

GATEWAY_TCP_PORTS = (8000, 8888, 1080)
"""Gluetun's control server, HTTP proxy and SOCKS5 proxy (contract.md, gluetun-k8s)."""
GATEWAY_UDP_PORTS = (1024, 65535)
"""3proxy's SOCKS5 UDP relay: an ephemeral port per UDP ASSOCIATE (gluetun workload.py)."""

EGRESS_SUFFIX = "kill-switch"
INGRESS_SUFFIX = "vpn-clients"


@dataclass(frozen=True)
class Endpoint:
    """An address and TCP port to allow, as an ``ipBlock`` of one address."""

    ip: str
    port: int | str

    def rule(self) -> dict[str, Any]:
        """The egress rule allowing it."""
        ip = ipaddress.ip_address(self.ip)
        return {
            "to": [{"ipBlock": {"cidr": f"{ip}/{ip.max_prefixlen}"}}],
            "ports": [{"protocol": "TCP", "port": self.port}],
        }


@dataclass(frozen=True)
class PodsOf:
    """The pods behind an in-cluster Service (e.g. a Juju controller in the cluster)."""

    namespace: str
    selector: tuple[tuple[str, str], ...]
    port: int | str

    def rule(self) -> dict[str, Any]:
        """The egress rule allowing them."""
        return {
            "to": [
                {
                    "namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: self.namespace}},
                    "podSelector": {"matchLabels": dict(self.selector)},
                }
            ],
            "ports": [{"protocol": "TCP", "port": self.port}],
        }


@dataclass(frozen=True)
class ClusterAccess:
    """What a protected pod must keep reaching besides the gateway: found once, then kept.

    Both the service address a client dials and the endpoints behind it are listed:
    CNIs match egress rules after kube-proxy's (or Cilium's) translation, so the
    endpoints are what count; the service address costs nothing where it is matched first.
    """

    api: tuple[Endpoint | PodsOf, ...] = ()
    controller: tuple[Endpoint | PodsOf, ...] = ()

    def rules(self) -> list[dict[str, Any]]:
        """The egress rules for the API and the controller."""
        return [d.rule() for d in dict.fromkeys((*self.api, *self.controller))]


def labels(app: str, relation: str) -> dict[str, str]:
    """The labels on every policy ``app`` manages for ``relation``."""
    return {MANAGED_BY_LABEL: MANAGER, APP_LABEL: app, RELATION_LABEL: relation}


def _pods(app: str) -> dict[str, Any]:
    return {"matchLabels": {POD_LABEL: app}}


def _gateway_ports() -> list[dict[str, Any]]:
    low, high = GATEWAY_UDP_PORTS
    return [
        *({"protocol": "TCP", "port": port} for port in GATEWAY_TCP_PORTS),
        {"protocol": "UDP", "port": low, "endPort": high},
    ]


def dns_rule() -> dict[str, Any]:
    """Cluster DNS: the pods in kube-system (CoreDNS or kube-dns) on port 53."""
    return {
        "to": [{"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: DNS_NAMESPACE}}}],
        "ports": [
            {"protocol": "UDP", "port": DNS_PORT},
            {"protocol": "TCP", "port": DNS_PORT},
        ],
    }


def egress_policy(
    app: str,
    namespace: str,
    access: ClusterAccess,
    *,
    gateway: str | None,
    peers: Mapping[str, Sequence[int]] | None = None,
    relation: str = VPN_RELATION,
) -> dict[str, Any]:
    """The egress policy on ``app``'s pods: the gateway, DNS, API, controller, peers only.

    Args:
        app: the protected application (its pods carry ``app.kubernetes.io/name: app``).
        namespace: the model's namespace.
        access: what the unit agent and the charm must keep reaching.
        gateway: the related gateway application, or None (no gateway: nothing but the
            cluster's essentials, so a client cut off from its VPN cannot leak).
        peers: other applications of the model to allow, with their TCP ports (Prowlarr:
            Radarr 7878, Sonarr 8989).
        relation: the relation this policy enforces (a label on it).
    """
    rules: list[dict[str, Any]] = []
    if gateway:
        rules.append({"to": [{"podSelector": _pods(gateway)}], "ports": _gateway_ports()})
    rules.append(dns_rule())
    rules += access.rules()
    for peer, ports in sorted((peers or {}).items()):
        rules.append(
            {
                "to": [{"podSelector": _pods(peer)}],
                "ports": [{"protocol": "TCP", "port": p} for p in ports],
            }
        )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": f"{app}-{EGRESS_SUFFIX}",
            "namespace": namespace,
            "labels": labels(app, relation),
        },
        "spec": {"podSelector": _pods(app), "policyTypes": ["Egress"], "egress": rules},
    }


def gateway_ingress_policy(
    gateway: str, namespace: str, clients: Sequence[str], *, relation: str = VPN_RELATION
) -> dict[str, Any]:
    """The ingress policy on the gateway's pods: only ``clients``' pods, only its ports.

    With no client related, nothing reaches the proxies or the control server.
    """
    ingress: list[dict[str, Any]] = []
    if clients:
        ingress.append(
            {
                "from": [
                    {
                        "podSelector": {
                            "matchExpressions": [
                                {
                                    "key": POD_LABEL,
                                    "operator": "In",
                                    "values": sorted(set(clients)),
                                }
                            ]
                        }
                    }
                ],
                "ports": _gateway_ports(),
            }
        )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": f"{gateway}-{INGRESS_SUFFIX}",
            "namespace": namespace,
            "labels": labels(gateway, relation),
        },
        "spec": {"podSelector": _pods(gateway), "policyTypes": ["Ingress"], "ingress": ingress},
    }


# -- finding what the unit agent and the charm must keep reaching ------------------------


def _behind(services: list[dict], ip: str, port: int) -> list[PodsOf]:
    """The pods behind the Service whose cluster IP is ``ip`` (none for an outside address)."""
    for service in services:
        spec = service.get("spec") or {}
        if ip not in (spec.get("clusterIPs") or [spec.get("clusterIP")]):
            continue
        selector = spec.get("selector") or {}
        if not selector:
            return []  # endpoints managed by hand (e.g. default/kubernetes): see _slices
        namespace = service["metadata"]["namespace"]
        return [
            PodsOf(namespace, tuple(sorted(selector.items())), p.get("targetPort") or port)
            for p in spec.get("ports") or []
            if p.get("port") == port
        ]
    return []


def _slices(api: KubernetesApi, namespace: str, service: str) -> list[Endpoint]:
    """The endpoints of a Service from its EndpointSlices (discovery.k8s.io/v1)."""
    from lightkube.resources.discovery_v1 import EndpointSlice

    found: list[Endpoint] = []
    with api.answering(f"GET endpointslices of {namespace}/{service}"):
        slices = api.client.list(
            EndpointSlice, namespace=namespace, labels={"kubernetes.io/service-name": service}
        )
        for item in slices:
            for endpoint in item.endpoints or []:
                for address in endpoint.addresses or []:
                    found += [Endpoint(address, p.port) for p in item.ports or [] if p.port]
    return found


def cluster_access(api: KubernetesApi, environ: Mapping[str, str] | None = None) -> ClusterAccess:
    """The Kubernetes API and Juju controller addresses this unit uses, from the API.

    The controller: the addresses the unit agent dials, which Juju gives every hook as
    ``JUJU_API_ADDRESSES`` from the agent's own configuration (the ``apiaddresses`` of
    ``agent.conf``; worker/uniter/runner/context/context.go). An address that is a Service
    of the cluster (a controller in the cluster) adds the pods behind it; any other is
    allowed as it is. The API: ``KUBERNETES_SERVICE_HOST``/``PORT`` (set by the kubelet)
    and the endpoints of ``default/kubernetes``.

    Raises:
        WorkloadHttpError, WorkloadUnreachableError: the API did not answer usefully.
    """
    from lightkube.resources.core_v1 import Service

    env = os.environ if environ is None else environ
    with api.answering("GET services"):
        services = [s.to_dict() for s in api.client.list(Service, namespace="*")]
    controller: list[Endpoint | PodsOf] = []
    for address in env.get("JUJU_API_ADDRESSES", "").split():
        host, port = host_port(address, 17070)
        for ip in ips(host):
            controller.append(Endpoint(ip, port))
            controller += _behind(services, ip, port)
    api_access: list[Endpoint | PodsOf] = []
    host = env.get("KUBERNETES_SERVICE_HOST", "").strip()
    if host:
        port = int(env.get("KUBERNETES_SERVICE_PORT", "443") or 443)
        api_access += [Endpoint(ip, port) for ip in ips(host)]
    api_access += _slices(api, "default", "kubernetes")
    return ClusterAccess(
        api=tuple(dict.fromkeys(api_access)), controller=tuple(dict.fromkeys(controller))
    )


# -- the holistic reconcile ---------------------------------------------------------------


@dataclass
class Changes:
    """What one :func:`reconcile` wrote, by policy name."""

    created: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    @property
    def writes(self) -> int:
        """How many objects were written."""
        return len(self.created) + len(self.replaced) + len(self.deleted)


def _differs(live: dict[str, Any], wanted: dict[str, Any]) -> bool:
    mine = live.get("metadata", {}).get("labels") or {}
    wanted_labels = wanted["metadata"]["labels"]
    return live.get("spec") != wanted["spec"] or any(
        mine.get(k) != v for k, v in wanted_labels.items()
    )


def reconcile(api: KubernetesApi, app: str, wanted: Sequence[dict[str, Any]]) -> Changes:
    """Make the NetworkPolicies labelled as ``app``'s exactly ``wanted``.

    Lists by label selector, creates what is missing, replaces only what differs (an
    object edited by hand is put back), deletes what is ours and no longer wanted. An
    object of a wanted name without our labels is left alone.

    Raises:
        CharmarrError: no permission (Blocked, naming ``juju trust``), or a policy's name
            is taken by an object Charmarr does not manage (Blocked, naming it);
        WaitingError: the API did not answer.
    """
    from lightkube.resources.networking_v1 import NetworkPolicy

    changes = Changes()
    try:
        with api.answering("GET networkpolicies"):
            ours = {
                p.metadata.name: p.to_dict()
                for p in api.client.list(
                    NetworkPolicy, labels={MANAGED_BY_LABEL: MANAGER, APP_LABEL: app}
                )
            }
        # Normalised as lightkube reads them back, so an unchanged policy compares equal.
        wanted_by_name = {
            w["metadata"]["name"]: NetworkPolicy.from_dict(w).to_dict() for w in wanted
        }
        owner: list[dict[str, Any]] = []
        for name, policy in wanted_by_name.items():
            live = ours.get(name)
            if live is not None and not _differs(live, policy):
                continue
            owner = owner or _owner(api, app)
            policy["metadata"]["ownerReferences"] = owner
            if live is None:
                _create(api, policy, app)
                changes.created.append(name)
            else:
                policy["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
                with api.answering(f"PUT networkpolicies/{name}"):
                    api.client.replace(NetworkPolicy.from_dict(policy))
                changes.replaced.append(name)
        for name in sorted(set(ours) - set(wanted_by_name)):
            with api.answering(f"DELETE networkpolicies/{name}"):
                api.client.delete(NetworkPolicy, name)
            changes.deleted.append(name)
    except WorkloadHttpError as e:
        if e.http_status in (401, 403):
            raise _no_permission(app) from None
        if e.http_status in (409, None) or (e.http_status or 0) >= 500:
            raise WaitingError(f"Kubernetes API: {e.message}; will retry") from None
        raise
    if changes.writes:
        logger.info(
            "kill switch: created %s, replaced %s, deleted %s",
            changes.created,
            changes.replaced,
            changes.deleted,
        )
    return changes


def _no_permission(app: str) -> CharmarrError:
    """Blocked: the charm may not list Services or manage NetworkPolicies."""
    return CharmarrError(
        f"no permission to manage NetworkPolicies: juju trust {app} --scope=cluster"
    )


def _owner(api: KubernetesApi, app: str) -> list[dict[str, Any]]:
    """The app's StatefulSet as the policies' owner: deleting the app deletes them."""
    live = api.statefulset(app)
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "name": app,
            "uid": live["metadata"]["uid"],
        }
    ]


def _create(api: KubernetesApi, policy: dict[str, Any], app: str) -> None:
    """Create ``policy``; a 409 means its name is taken by an object we may not touch."""
    from lightkube.resources.networking_v1 import NetworkPolicy

    name, namespace = policy["metadata"]["name"], api.namespace
    try:
        with api.answering(f"POST networkpolicies/{name}"):
            api.client.create(NetworkPolicy.from_dict(policy))
    except WorkloadHttpError as e:
        if e.http_status != 409:
            raise
        raise CharmarrError(
            f"NetworkPolicy {name} in namespace {namespace} is not managed by charmarr: "
            f"remove it (kubectl -n {namespace} delete networkpolicy {name}) so {app} "
            "can keep its kill switch"
        ) from None


# -- the charm's handle --------------------------------------------------------------------


@dataclass(frozen=True)
class Wanted:
    """The charm's inputs to its policies; equal inputs mean equal policies."""

    gateway: str | None = None
    """The related gateway application (used by the egress policy)."""
    protected: bool = False
    """Whether ``app`` gets an egress policy (require-vpn, or any gateway relation)."""
    peers: tuple[tuple[str, tuple[int, ...]], ...] = ()
    """In-cluster applications the protected app must reach, with their TCP ports."""
    ingress_clients: tuple[str, ...] | None = None
    """For a gateway: the related applications allowed in (None: no ingress policy)."""
    relation: str = VPN_RELATION


class KillSwitch(ops.Object):
    """Keeps the charm's NetworkPolicies matching :class:`Wanted` (leader only).

    The fingerprint of the inputs last reconciled (and of the addresses the hook gives)
    is kept in stored state: a hook whose inputs did not change makes no call at all.
    """

    _stored = ops.StoredState()

    def __init__(self, charm: ops.CharmBase, api: type[KubernetesApi] = KubernetesApi):
        super().__init__(charm, "kill-switch")
        self._charm = charm
        self._api = api
        self._stored.set_default(reconciled="")
        self.changes: Changes | None = None
        """What the last reconcile in this hook wrote (None: none ran)."""

    def _fingerprint(self, wanted: Wanted) -> str:
        env = {k: os.environ.get(k, "") for k in _ENVIRON}
        return json.dumps([dataclasses.asdict(wanted), env], sort_keys=True)

    def ensure(self, wanted: Wanted, *, force: bool = False) -> None:
        """Reconcile the policies if the inputs changed since the last time (or ``force``).

        ``Wanted()`` (nothing) removes every policy this app manages: the call for
        ``require-vpn=false`` without a gateway, and for the charm's removal.

        Raises:
            CharmarrError: no permission or a name taken (Blocked);
            WaitingError: the API did not answer.
        """
        if not self._charm.unit.is_leader():
            return
        fingerprint = self._fingerprint(wanted)
        if not force and self._stored.reconciled == fingerprint:
            return
        app, namespace = self._charm.app.name, self._charm.model.name
        api = self._api(namespace)
        policies: list[dict[str, Any]] = []
        try:
            if wanted.protected:
                access = cluster_access(api)
                if not access.controller or not access.api:
                    missing = "the Juju controller" if not access.controller else "the API"
                    raise WaitingError(
                        f"kill switch: the addresses of {missing} are unknown; will retry"
                    )
                policies.append(
                    egress_policy(
                        app,
                        namespace,
                        access,
                        gateway=wanted.gateway,
                        peers=dict(wanted.peers),
                        relation=wanted.relation,
                    )
                )
        except WorkloadHttpError as e:
            if e.http_status in (401, 403):
                raise _no_permission(app) from None
            raise WaitingError(f"Kubernetes API: {e.message}; will retry") from None
        if wanted.ingress_clients is not None:
            policies.append(
                gateway_ingress_policy(
                    app, namespace, wanted.ingress_clients, relation=wanted.relation
                )
            )
        self.changes = reconcile(api, app, policies)
        self._stored.reconciled = fingerprint


_ENVIRON = ("JUJU_API_ADDRESSES", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")
"""The hook's environment the egress policy depends on."""


# -- what the charms call -------------------------------------------------------------------

_FULL_HOOKS = frozenset({"config-changed", "upgrade-charm", "leader-elected", "start"})
"""Hooks that also put back a policy edited by hand, as Juju names them in
``JUJU_HOOK_NAME``. Not update-status: no steady-state hook calls the Kubernetes API, so
a hand edit lasts until the next of these or until the policy's inputs change."""


def _full_hook() -> bool:
    return os.environ.get("JUJU_HOOK_NAME", "") in _FULL_HOOKS


def related_apps(charm: ops.CharmBase, endpoint: str) -> tuple[str, ...]:
    """The applications on ``endpoint``'s live relations, sorted (a broken one is gone)."""
    return tuple(
        sorted(
            {r.app.name for r in charm.model.relations[endpoint] if r.active and r.app is not None}
        )
    )


def protect(
    charm: ops.CharmBase,
    switch: KillSwitch,
    *,
    require_vpn: bool,
    peers: Sequence[tuple[str, tuple[int, ...]]] = (),
) -> bool:
    """Keep ``charm``'s egress policy as its VPN settings want; whether the switch is on.

    On while ``require-vpn`` is true or a gateway is related: after ``juju
    remove-relation`` with ``require-vpn=true`` the policy stays, allowing no gateway, so
    nothing reaches the internet until ``require-vpn=false`` removes it.

    Raises:
        CharmarrError: no permission or a name taken (Blocked).
        WaitingError: the API or the agent's addresses are not there yet.
    """
    gateways = related_apps(charm, VPN_RELATION)
    gateway = gateways[0] if gateways else None
    protected = require_vpn or gateway is not None
    switch.ensure(
        Wanted(gateway=gateway, protected=protected, peers=tuple(peers)), force=_full_hook()
    )
    return protected


def admit_clients(charm: ops.CharmBase, switch: KillSwitch) -> None:
    """Keep the gateway's ingress policy: only the related apps reach its ports.

    Raises:
        CharmarrError: no permission or a name taken (Blocked).
        WaitingError: the API did not answer.
    """
    switch.ensure(Wanted(ingress_clients=related_apps(charm, VPN_RELATION)), force=_full_hook())
