"""The kill switch's NetworkPolicies: contents per scenario, lifecycle, statuses.

Run against :mod:`charmarr_testing.fake_k8s` (objects kept, label selectors honoured,
manifests validated against the Kubernetes 1.30 schemas). ``allows`` evaluates an egress
policy the way the NetworkPolicy API defines it (an OR of rules, each an AND of peers and
ports), on the destination after the Service's translation, as Calico and Cilium do.
"""

from __future__ import annotations

import ipaddress

import ops
import pytest
from ops import testing

from charmarr_common import network_policy as np
from charmarr_common.errors import CharmarrError
from charmarr_common.k8s import KubernetesApi
from charmarr_testing.fake_k8s import API_ENDPOINT, API_SERVICE

APP = "qbittorrent-k8s"
GATEWAY = "gluetun-k8s"
NAMESPACE = "media"
CONTROLLER_SERVICE = "10.152.183.44"
CONTROLLER_NS = "controller-micro"
CONTROLLER_POD = "10.1.9.7"
POLICY = f"{APP}-kill-switch"


@pytest.fixture
def cluster(fake_network, monkeypatch):
    """A MicroK8s-like cluster with the Juju controller in it, and the hook's environment."""
    kube = fake_network.kubernetes
    kube.put(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "controller-service", "namespace": CONTROLLER_NS},
            "spec": {
                "clusterIP": CONTROLLER_SERVICE,
                "selector": {"app.kubernetes.io/name": "controller"},
                "ports": [{"name": "api-server", "port": 17070, "targetPort": 17070}],
            },
        }
    )
    monkeypatch.setenv("JUJU_API_ADDRESSES", f"{CONTROLLER_SERVICE}:17070")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", API_SERVICE)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    return kube


def _api() -> KubernetesApi:
    return KubernetesApi(NAMESPACE)


def _egress(gateway: str | None = GATEWAY, **kwargs) -> dict:
    api = _api()
    return np.egress_policy(APP, NAMESPACE, np.cluster_access(api), gateway=gateway, **kwargs)


def _selects(selector: dict, labels: dict) -> bool:
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        inside = labels.get(expr["key"]) in expr["values"]
        if inside != (expr["operator"] == "In"):
            return False
    return True


def allows(policy: dict, *, port: int, proto: str = "TCP", ip: str = "", pod=None) -> bool:
    """Whether an egress ``policy`` lets a connection out: to ``ip`` or to ``pod``
    (``(namespace, labels)``), after the Service translation."""
    # mirrors kubernetes pkg/apis/networking/types.go (NetworkPolicyEgressRule semantics)
    for rule in policy["spec"]["egress"]:
        port_ok = any(
            p["protocol"] == proto and p["port"] <= port <= p.get("endPort", p["port"])
            for p in rule["ports"]
        )
        for peer in rule["to"]:
            if "ipBlock" in peer:
                hit = bool(ip) and ipaddress.ip_address(ip) in ipaddress.ip_network(
                    peer["ipBlock"]["cidr"]
                )
            elif pod is not None:
                namespace, labels = pod
                ns_sel = peer.get("namespaceSelector")
                ns_ok = (
                    _selects(ns_sel, {np.NAMESPACE_LABEL: namespace})
                    if ns_sel
                    else namespace == policy["metadata"]["namespace"]
                )
                hit = ns_ok and _selects(peer.get("podSelector") or {}, labels)
            else:
                hit = False
            if hit and port_ok:
                return True
    return False


def _pod(app: str, namespace: str = NAMESPACE) -> tuple[str, dict]:
    return namespace, {"app.kubernetes.io/name": app}


def test_a_protected_client_reaches_exactly_the_gateway_dns_api_and_controller(cluster):
    policy = _egress()
    changes = np.reconcile(_api(), APP, [policy])

    assert changes.created == [POLICY]
    stored = cluster.get("networkpolicies", NAMESPACE, POLICY)
    assert stored["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": APP}}
    assert stored["spec"]["policyTypes"] == ["Egress"]
    # Owned by the app's StatefulSet: removing the application deletes its policies.
    assert stored["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "name": APP,
            "uid": f"uid-statefulset-{APP}",
        }
    ]
    assert stored["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "charmarr",
        "charmarr.io/app": APP,
        "charmarr.io/relation": "vpn-gateway",
    }
    peers = [rule["to"] for rule in stored["spec"]["egress"]]
    assert peers == [
        [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": GATEWAY}}}],
        [{"namespaceSelector": {"matchLabels": {np.NAMESPACE_LABEL: "kube-system"}}}],
        [{"ipBlock": {"cidr": f"{API_SERVICE}/32"}}],
        [{"ipBlock": {"cidr": f"{API_ENDPOINT[0]}/32"}}],
        [{"ipBlock": {"cidr": f"{CONTROLLER_SERVICE}/32"}}],
        [
            {
                "namespaceSelector": {"matchLabels": {np.NAMESPACE_LABEL: CONTROLLER_NS}},
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "controller"}},
            }
        ],
    ]
    # The gateway's proxies, control server and UDP relay; nothing else of it.
    for port in (8888, 1080, 8000):
        assert allows(stored, port=port, pod=_pod(GATEWAY))
    assert allows(stored, port=40123, proto="UDP", pod=_pod(GATEWAY))
    assert not allows(stored, port=22, pod=_pod(GATEWAY))
    assert not allows(stored, port=8888, pod=_pod("radarr"))
    # DNS, both transports, and only in kube-system.
    coredns = ("kube-system", {"k8s-app": "kube-dns"})
    assert allows(stored, port=53, proto="UDP", pod=coredns)
    assert allows(stored, port=53, pod=coredns)
    assert not allows(stored, port=53, proto="UDP", ip="1.1.1.1")
    # The internet, the home network: dropped.
    for ip in ("203.0.113.5", "192.168.1.1", "10.1.0.1"):
        assert not allows(stored, port=443, ip=ip)


def test_the_unit_agent_and_the_charms_api_calls_keep_working(cluster):
    """The agent dials the controller's Service (17070), the charm the API's: both are
    allowed after the translation to their endpoints, and before it."""
    policy = _egress()
    controller_pod = (CONTROLLER_NS, {"app.kubernetes.io/name": "controller"})
    assert allows(policy, port=17070, pod=controller_pod)  # after DNAT: the controller pod
    assert allows(policy, port=17070, ip=CONTROLLER_SERVICE)  # before it
    assert allows(policy, port=API_ENDPOINT[1], ip=API_ENDPOINT[0])  # the API server
    assert allows(policy, port=443, ip=API_SERVICE)
    assert not allows(policy, port=22, ip=API_ENDPOINT[0])
    assert not allows(policy, port=17070, pod=(NAMESPACE, {"app.kubernetes.io/name": "x"}))


def test_a_controller_outside_the_cluster_is_allowed_by_address(cluster, monkeypatch):
    monkeypatch.setenv("JUJU_API_ADDRESSES", "198.51.100.7:17070 [2001:db8::7]:17070")
    policy = _egress()
    assert allows(policy, port=17070, ip="198.51.100.7")
    assert allows(policy, port=17070, ip="2001:db8::7")
    assert not allows(policy, port=443, ip="198.51.100.7")
    assert np.reconcile(_api(), APP, [policy]).created == [POLICY]  # it validates


def test_prowlarr_reaches_radarr_and_sonarr_too(cluster):
    api = _api()
    access = np.cluster_access(api)
    policy = np.egress_policy(
        "prowlarr", NAMESPACE, access, gateway=GATEWAY, peers={"radarr": [7878], "sonarr": [8989]}
    )
    np.reconcile(api, "prowlarr", [policy])
    stored = cluster.get("networkpolicies", NAMESPACE, "prowlarr-kill-switch")
    assert allows(stored, port=7878, pod=_pod("radarr"))
    assert allows(stored, port=8989, pod=_pod("sonarr"))
    assert not allows(stored, port=8989, pod=_pod("radarr"))
    assert not allows(stored, port=7878, pod=_pod("plex"))


def test_gateway_removed_keeps_the_internet_blocked(cluster):
    api = _api()
    np.reconcile(api, APP, [_egress()])
    changes = np.reconcile(api, APP, [_egress(gateway=None)])

    assert changes.replaced == [POLICY]
    stored = cluster.get("networkpolicies", NAMESPACE, POLICY)
    assert not allows(stored, port=8888, pod=_pod(GATEWAY))
    assert not allows(stored, port=443, ip="203.0.113.5")
    assert allows(stored, port=53, proto="UDP", pod=("kube-system", {}))


def test_require_vpn_false_removes_the_policy(cluster):
    api = _api()
    np.reconcile(api, APP, [_egress()])
    changes = np.reconcile(api, APP, [])
    assert changes.deleted == [POLICY]
    assert cluster.named("networkpolicies", NAMESPACE) == {}


def test_a_second_reconcile_writes_nothing(cluster):
    api = _api()
    np.reconcile(api, APP, [_egress(), np.gateway_ingress_policy(APP, NAMESPACE, ["x"])])
    cluster.requests.clear()
    changes = np.reconcile(api, APP, [_egress(), np.gateway_ingress_policy(APP, NAMESPACE, ["x"])])
    assert changes.writes == 0
    assert cluster.writes == []


def test_a_policy_edited_by_hand_is_put_back(cluster):
    api = _api()
    np.reconcile(api, APP, [_egress()])
    drifted = cluster.get("networkpolicies", NAMESPACE, POLICY)
    drifted["spec"]["egress"].append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]})
    cluster.put(drifted)

    changes = np.reconcile(api, APP, [_egress()])
    assert changes.replaced == [POLICY]
    assert not allows(cluster.get("networkpolicies", NAMESPACE, POLICY), port=443, ip="8.8.8.8")


def test_an_object_not_ours_with_the_same_name_is_left_alone(cluster):
    foreign = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": POLICY, "namespace": NAMESPACE, "labels": {"team": "ops"}},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]},
    }
    cluster.put(foreign)
    before = cluster.get("networkpolicies", NAMESPACE, POLICY)

    with pytest.raises(CharmarrError) as raised:
        np.reconcile(_api(), APP, [_egress()])
    assert raised.value.status == ops.BlockedStatus(
        f"NetworkPolicy {POLICY} in namespace {NAMESPACE} is not managed by charmarr: remove it "
        f"(kubectl -n {NAMESPACE} delete networkpolicy {POLICY}) so {APP} can keep its kill switch"
    )
    assert cluster.get("networkpolicies", NAMESPACE, POLICY) == before
    assert [r.method for r in cluster.writes] == ["POST"]  # tried to create, nothing else


def test_policies_of_other_apps_are_never_touched(cluster):
    api = _api()
    np.reconcile(
        api, "sabnzbd", [np.egress_policy("sabnzbd", NAMESPACE, np.ClusterAccess(), gateway=None)]
    )
    np.reconcile(api, APP, [])
    assert list(cluster.named("networkpolicies", NAMESPACE)) == ["sabnzbd-kill-switch"]


def test_permission_denied_names_juju_trust(cluster):
    cluster.forbidden_resources.add("networkpolicies")
    with pytest.raises(CharmarrError) as raised:
        np.reconcile(_api(), APP, [_egress()])
    assert raised.value.status == ops.BlockedStatus(
        f"no permission to manage NetworkPolicies: juju trust {APP} --scope=cluster"
    )


def test_the_gateway_admits_only_related_apps_on_its_ports(cluster):
    api = _api()
    policy = np.gateway_ingress_policy(GATEWAY, NAMESPACE, ["sabnzbd", APP])
    assert np.reconcile(api, GATEWAY, [policy]).created == [f"{GATEWAY}-vpn-clients"]
    stored = cluster.get("networkpolicies", NAMESPACE, f"{GATEWAY}-vpn-clients")
    assert stored["spec"]["policyTypes"] == ["Ingress"]
    assert stored["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": GATEWAY}}
    (rule,) = stored["spec"]["ingress"]
    (source,) = rule["from"]
    assert _selects(source["podSelector"], {"app.kubernetes.io/name": APP})
    assert _selects(source["podSelector"], {"app.kubernetes.io/name": "sabnzbd"})
    assert not _selects(source["podSelector"], {"app.kubernetes.io/name": "plex"})
    assert [(p["protocol"], p["port"]) for p in rule["ports"]] == [
        ("TCP", 8000),
        ("TCP", 8888),
        ("TCP", 1080),
        ("UDP", 1024),
    ]
    # The last client gone: nobody reaches the proxies.
    np.reconcile(api, GATEWAY, [np.gateway_ingress_policy(GATEWAY, NAMESPACE, [])])
    assert (
        cluster.get("networkpolicies", NAMESPACE, f"{GATEWAY}-vpn-clients")["spec"]["ingress"]
        == []
    )


def test_the_fake_rejects_an_invalid_manifest(cluster):
    from charmarr_common.http import WorkloadHttpError

    bad = _egress()
    del bad["spec"]["podSelector"]  # lightkube's model lets it through; the schema does not
    with pytest.raises(WorkloadHttpError) as raised:
        np.reconcile(_api(), APP, [bad])
    assert raised.value.http_status == 422


# -- KillSwitch in a charm: leadership, steady state, statuses --------------------------

META = {"name": APP, "containers": {"qbittorrent": {}}}


class Protected(ops.CharmBase):
    """Keeps its kill switch per ``wanted`` and reports the outcome as its status."""

    wanted = np.Wanted(protected=True, gateway=GATEWAY)

    def __init__(self, framework):
        super().__init__(framework)
        self.kill_switch = np.KillSwitch(self)
        framework.observe(self.on.config_changed, self._reconcile)
        framework.observe(self.on.update_status, self._reconcile)

    def _reconcile(self, _):
        try:
            self.kill_switch.ensure(self.wanted)
        except CharmarrError as e:
            self.unit.status = e.status
            return
        self.unit.status = ops.ActiveStatus("VPN via gluetun-k8s, kill switch on")


def _run(state, event="config_changed"):
    ctx = testing.Context(Protected, meta=META, app_name=APP)
    return ctx.run(getattr(ctx.on, event)(), state)


def _state(leader=True, **kwargs):
    return testing.State(leader=leader, model=testing.Model(name=NAMESPACE), **kwargs)


def test_steady_state_makes_no_kubernetes_call(cluster):
    out = _run(_state())
    assert out.unit_status == testing.ActiveStatus("VPN via gluetun-k8s, kill switch on")
    assert cluster.get("networkpolicies", NAMESPACE, POLICY) is not None
    cluster.requests.clear()
    _run(out, "update_status")
    assert cluster.requests == []


def test_only_the_leader_manages_and_a_new_leader_writes_nothing(cluster):
    _run(_state(leader=False))
    assert cluster.requests == []
    _run(_state())
    cluster.requests.clear()
    _run(_state(), "update_status")  # a new leader: no memory, reads, finds it right
    assert cluster.requests and cluster.writes == []


def test_without_trust_the_charm_is_blocked_naming_the_fix(cluster):
    cluster.forbidden = True
    out = _run(_state())
    assert out.unit_status == testing.BlockedStatus(
        f"no permission to manage NetworkPolicies: juju trust {APP} --scope=cluster"
    )


def test_no_policy_that_would_cut_the_unit_agent_off(cluster, monkeypatch):
    monkeypatch.delenv("JUJU_API_ADDRESSES")
    out = _run(_state())
    assert out.unit_status == testing.WaitingStatus(
        "kill switch: the addresses of the Juju controller are unknown; will retry"
    )
    assert cluster.named("networkpolicies", NAMESPACE) == {}


def test_nothing_wanted_removes_the_policy(cluster):
    out = _run(_state())
    Protected.wanted = np.Wanted()
    try:
        _run(out)
    finally:
        Protected.wanted = np.Wanted(protected=True, gateway=GATEWAY)
    assert cluster.named("networkpolicies", NAMESPACE) == {}
