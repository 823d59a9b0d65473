"""The network-level kill switch: qBittorrent's egress NetworkPolicy follows its VPN settings.

The policy is read back from the fake API server (which validates it against the
Kubernetes schemas); ``_destinations`` flattens its egress rules into what a user would
check with ``kubectl describe networkpolicy``: where traffic may go, on which ports.
"""

from __future__ import annotations

import dataclasses

from charms_under_test import context, wired_state
from ops import pebble

POLICY = "qbittorrent-k8s-kill-switch"
GATEWAY = ("pods", "gluetun", ("TCP/1080", "TCP/8000", "TCP/8888", "UDP/1024-65535"))
DNS = ("namespace", "kube-system", ("TCP/53", "UDP/53"))
API = {("ip", "10.152.183.1/32", ("TCP/443",)), ("ip", "192.168.1.20/32", ("TCP/16443",))}
CONTROLLER = ("ip", "10.152.183.44/32", ("TCP/17070",))


def _destinations(policy: dict) -> set[tuple[str, str, tuple[str, ...]]]:
    found = set()
    for rule in policy["spec"]["egress"]:
        ports = tuple(
            sorted(
                f"{p['protocol']}/{p['port']}" + (f"-{p['endPort']}" if "endPort" in p else "")
                for p in rule["ports"]
            )
        )
        for peer in rule["to"]:
            if "ipBlock" in peer:
                found.add(("ip", peer["ipBlock"]["cidr"], ports))
            elif "namespaceSelector" in peer:
                ns = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                found.add(("namespace", ns, ports))
            else:
                app = peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                found.add(("pods", app, ports))
    return found


def _policy(network) -> dict | None:
    return network.kubernetes.get("networkpolicies", "media", POLICY)


def _running(state) -> bool:
    services = state.get_container("qbittorrent").service_statuses
    return services.get("qbittorrent") == pebble.ServiceStatus.ACTIVE


def _without_gateway(state, **config):
    return dataclasses.replace(
        state,
        relations=[r for r in state.relations if r.endpoint != "vpn-gateway"],
        config={**state.config, **config},
    )


def test_with_require_vpn_and_gluetun_the_egress_is_exactly_gateway_dns_api_controller(
    fake_network,
):
    ctx = context("qbittorrent")
    state, _ = wired_state("qbittorrent", fake_network)

    out = ctx.run(
        ctx.on.config_changed(),
        dataclasses.replace(state, config={**state.config, "require-vpn": True}),
    )

    policy = _policy(fake_network)
    assert policy is not None
    assert policy["spec"]["podSelector"] == {
        "matchLabels": {"app.kubernetes.io/name": "qbittorrent-k8s"}
    }
    assert policy["spec"]["policyTypes"] == ["Egress"]
    assert _destinations(policy) == {GATEWAY, DNS, CONTROLLER, *API}
    assert out.unit_status.message.startswith("via VPN 203.0.113.7, kill switch on")


def test_after_remove_relation_the_client_stops_and_the_policy_still_blocks_the_internet(
    fake_network,
):
    ctx = context("qbittorrent")
    state, _ = wired_state("qbittorrent", fake_network)
    first = ctx.run(ctx.on.config_changed(), state)
    gateway = next(r for r in first.relations if r.endpoint == "vpn-gateway")

    gone = ctx.run(ctx.on.relation_broken(gateway), first)

    assert not _running(gone)
    policy = _policy(fake_network)
    assert policy is not None, "require-vpn=true: the switch stays on with no gateway"
    assert _destinations(policy) == {DNS, CONTROLLER, *API}  # no way out to the internet
    assert gone.unit_status.name == "blocked"
    assert "require-vpn is true" in gone.unit_status.message

    # juju config qbittorrent require-vpn=false: downloads go direct, the policy goes.
    direct = ctx.run(ctx.on.config_changed(), _without_gateway(gone, **{"require-vpn": False}))

    assert _policy(fake_network) is None
    assert _running(direct)
    assert direct.unit_status.name == "active"
    assert "kill switch" not in direct.unit_status.message


def test_a_gateway_relation_protects_even_with_require_vpn_false(fake_network):
    ctx = context("qbittorrent")
    state, _ = wired_state("qbittorrent", fake_network)

    out = ctx.run(
        ctx.on.config_changed(),
        dataclasses.replace(state, config={**state.config, "require-vpn": False}),
    )

    assert _destinations(_policy(fake_network)) == {GATEWAY, DNS, CONTROLLER, *API}
    assert "kill switch on" in out.unit_status.message


def test_without_permission_it_blocks_naming_juju_trust_and_stops_downloads(fake_network):
    ctx = context("qbittorrent")
    state, _ = wired_state("qbittorrent", fake_network)
    fake_network.kubernetes.forbidden_resources = {"networkpolicies"}

    out = ctx.run(
        ctx.on.config_changed(),
        dataclasses.replace(state, config={**state.config, "require-vpn": True}),
    )

    assert out.unit_status.name == "blocked"
    assert out.unit_status.message == (
        "no permission to manage NetworkPolicies: juju trust qbittorrent-k8s --scope=cluster"
    )
    assert not _running(out), "require-vpn and no kill switch: fail closed"


def test_a_converged_hook_makes_no_kubernetes_call(fake_network):
    ctx = context("qbittorrent")
    state, _ = wired_state("qbittorrent", fake_network)
    first = ctx.run(ctx.on.config_changed(), state)
    calls = len(fake_network.kubernetes.requests)
    gateway = next(r for r in first.relations if r.endpoint == "vpn-gateway")

    ctx.run(ctx.on.relation_changed(gateway), first)

    assert len(fake_network.kubernetes.requests) == calls


def test_a_policy_edited_by_hand_is_put_back_on_config_changed(fake_network):
    ctx = context("qbittorrent")
    state, _ = wired_state("qbittorrent", fake_network)
    first = ctx.run(ctx.on.config_changed(), state)
    edited = _policy(fake_network)
    edited["spec"]["egress"].append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]})
    fake_network.kubernetes.put(edited)

    ctx.run(ctx.on.config_changed(), first)

    assert _destinations(_policy(fake_network)) == {GATEWAY, DNS, CONTROLLER, *API}
