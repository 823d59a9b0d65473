"""The kill switch across the stack: NetworkPolicies appear and disappear with the relations.

The stack's one fake API server keeps what the four charms wrote. The download clients and
Prowlarr each hold an egress policy naming Gluetun while related to it; Gluetun holds an
ingress policy naming exactly its related apps.
"""

from __future__ import annotations

from stack import Stack

NAMESPACE = "media"


def _policies(stack: Stack) -> dict[str, dict]:
    return stack.network.kubernetes.named("networkpolicies", NAMESPACE)


def _egress_apps(policy: dict) -> set[str]:
    """The applications whose pods an egress policy lets traffic reach."""
    return {
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        for rule in policy["spec"]["egress"]
        for peer in rule["to"]
        if "podSelector" in peer and "namespaceSelector" not in peer
    }


def _clients(policy: dict) -> set[str]:
    """The applications an ingress policy lets in (by their pods' app label)."""
    apps: set[str] = set()
    for rule in policy["spec"]["ingress"]:
        for peer in rule["from"]:
            for expression in peer["podSelector"]["matchExpressions"]:
                assert (expression["key"], expression["operator"]) == (
                    "app.kubernetes.io/name",
                    "In",
                )
                apps.update(expression["values"])
    return apps


def test_policies_follow_the_vpn_relations(deployed: Stack):
    stack = deployed
    policies = _policies(stack)
    assert set(policies) == {
        "qbittorrent-kill-switch",
        "sabnzbd-kill-switch",
        "prowlarr-kill-switch",
        "gluetun-vpn-clients",
    }
    assert _egress_apps(policies["qbittorrent-kill-switch"]) == {"gluetun"}
    assert _egress_apps(policies["sabnzbd-kill-switch"]) == {"gluetun"}
    # Prowlarr also reaches the managers it syncs to.
    assert _egress_apps(policies["prowlarr-kill-switch"]) == {"gluetun", "radarr", "sonarr"}
    assert _clients(policies["gluetun-vpn-clients"]) == {"qbittorrent", "sabnzbd", "prowlarr"}
    for app in ("qbittorrent", "sabnzbd", "prowlarr"):
        assert "kill switch on" in stack.unit(f"{app}/0").status.message

    # Prowlarr has no require-vpn: without the gateway its policy goes.
    stack.remove_relation(stack.relation("gluetun", "prowlarr"))
    stack.converge()
    policies = _policies(stack)
    assert "prowlarr-kill-switch" not in policies
    assert _clients(policies["gluetun-vpn-clients"]) == {"qbittorrent", "sabnzbd"}

    # qBittorrent under require-vpn: the policy stays, with no way out, until it is lifted.
    stack.remove_relation(stack.relation("gluetun", "qbittorrent"))
    stack.converge()
    policies = _policies(stack)
    assert _egress_apps(policies["qbittorrent-kill-switch"]) == set()
    assert _clients(policies["gluetun-vpn-clients"]) == {"sabnzbd"}
    stack.configure("qbittorrent", **{"require-vpn": False})
    stack.converge()
    assert "qbittorrent-kill-switch" not in _policies(stack)

    # And back: the relation brings the policy back.
    stack.configure("qbittorrent", **{"require-vpn": True})
    stack.integrate("gluetun:vpn-gateway", "qbittorrent:vpn-gateway")
    stack.converge()
    policies = _policies(stack)
    assert _egress_apps(policies["qbittorrent-kill-switch"]) == {"gluetun"}
    assert _clients(policies["gluetun-vpn-clients"]) == {"qbittorrent", "sabnzbd"}
