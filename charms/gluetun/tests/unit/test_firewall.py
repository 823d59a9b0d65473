"""Gluetun's firewall as the charm configures it: Juju's probes in, the cluster reachable.

The rules are Gluetun's own (:class:`FakeGluetun.Firewall` mirrors its enable.go): input
is dropped but for the pod's link network (169.254.1.1/32 on Calico), the input ports and
the post-rules; output is dropped but for the tunnel, that network and cluster-cidrs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from ops import testing

from charmarr_testing.fake_gluetun import Firewall

CHARMCRAFT = Path(__file__).parents[2] / "charmcraft.yaml"
NODE = "192.168.1.20"
"""The kubelet probes from the node's address: not in any pod network."""
POD = "10.1.77.5"
PEER = "10.1.33.9"
CONTROLLER = "10.152.183.44"
API = "10.152.183.1"


def juju_probe_ports() -> list[int]:
    """The ports Juju's pod spec probes: Pebble at 38812 in the charm container, then 38813
    and up in the workload containers sorted by name (caas/kubernetes/provider/application).
    """
    containers = sorted(yaml.safe_load(CHARMCRAFT.read_text())["containers"])
    return [38812, *(38813 + i for i in range(len(containers)))]


@pytest.fixture
def in_cluster(monkeypatch, fake_network):
    """Juju's hook environment and the kubelet's: controller and API by address."""
    monkeypatch.setenv("JUJU_API_ADDRESSES", f"{CONTROLLER}:17070")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", API)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    fake_network.add(f"{API}:443", fake_network.kubernetes)
    return monkeypatch


def firewall(gw, out: testing.State) -> Firewall:
    fs = out.get_container("gluetun").get_filesystem(gw.ctx)
    rules = fs / "iptables" / "post-rules.txt"
    return Firewall(gw.env(out), rules.read_text() if rules.exists() else "")


def test_the_kubelet_reaches_every_containers_pebble_through_the_firewall(gw):
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state())

    wall = firewall(gw, out)
    assert juju_probe_ports() == [38812, 38813, 38814]
    for port in juju_probe_ports():
        assert wall.admits(NODE, POD, port), port
    # The model can say no: Gluetun's input ports without the probe ports drop them.
    before = Firewall({"FIREWALL_INPUT_PORTS": "8000,8888,1080"})
    assert not any(before.admits(NODE, POD, port) for port in juju_probe_ports())


def test_clients_reach_the_proxies_and_peers_the_udp_relay_only(gw):
    out = gw.ctx.run(
        gw.ctx.on.config_changed(),
        gw.state(config={"cluster-cidrs": "10.1.0.0/16,10.152.183.0/24"}),
    )

    wall = firewall(gw, out)
    for port in (8000, 8888, 1080):
        assert wall.admits(PEER, POD, port)
    # 3proxy's UDP ASSOCIATE answers with an ephemeral port: open to the cluster only.
    assert wall.admits(PEER, POD, 40123, "udp")
    assert not wall.admits("198.51.100.9", POD, 40123, "udp")
    assert not wall.admits(PEER, POD, 53, "udp")  # Gluetun's DNS stays closed
    assert not Firewall(gw.env(out)).admits(PEER, POD, 40123, "udp")  # without the rules


@pytest.mark.parametrize(
    ("cidrs", "served"),
    [
        (None, True),
        ("", True),
        (None, False),
        ("10.1.0.0/16", True),
        ("192.168.0.0/16", True),
        ("10.152.183.44/32", True),
        ("10.1.0.0/16,10.152.183.0/24", True),
    ],
)
def test_never_active_with_a_pod_that_cannot_reach_its_controller(
    gw, in_cluster, fake_network, cidrs, served
):
    if not served:  # a cluster whose API tells nothing about its networks
        fake_network.kubernetes.lists = dict.fromkeys(fake_network.kubernetes.lists)
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(config={"cluster-cidrs": cidrs}))

    plan = out.get_container("gluetun").plan
    covered = "gluetun" in plan.services
    if covered:
        wall = firewall(gw, out)
        assert wall.reaches(CONTROLLER) and wall.reaches(API)
    if isinstance(out.unit_status, testing.ActiveStatus):
        assert covered
    else:
        assert isinstance(out.unit_status, testing.BlockedStatus)
        assert out.unit_status.message.startswith("cluster-cidrs ")
        assert not covered  # never started cut off
    # Covered exactly when the operator's value, or the API's networks, hold both.
    assert covered == (cidrs in (None, "", "10.1.0.0/16,10.152.183.0/24") and served)


def test_uncovered_addresses_are_named_with_the_exact_value_to_set(gw, in_cluster):
    in_cluster.setenv("JUJU_API_ADDRESSES", f"{CONTROLLER}:17070 10.1.2.3:17070")
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(config={"cluster-cidrs": "10.1.0.0/16"}))

    assert out.unit_status == testing.BlockedStatus(
        f"cluster-cidrs must cover the Juju controller {CONTROLLER}; the Kubernetes API "
        f"{API}: juju config gluetun-k8s cluster-cidrs=10.1.0.0/16,{CONTROLLER}/32,{API}/32"
    )


def test_unset_cluster_cidrs_come_from_the_kubernetes_api_once(gw, in_cluster, fake_network):
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(config={"cluster-cidrs": None}))

    assert isinstance(out.unit_status, testing.ActiveStatus)
    # Calico's pool, the ServiceCIDR, and the node (Cilium's socket load balancing).
    assert gw.env(out)["FIREWALL_OUTBOUND_SUBNETS"] == (
        "10.1.0.0/16,10.152.183.0/24,192.168.1.20/32"
    )
    lists = [r for r in fake_network.kubernetes.requests if "statefulsets" not in r.path]
    assert lists
    calls = len(fake_network.kubernetes.requests)
    gw.ctx.run(gw.ctx.on.update_status(), out)
    assert len(fake_network.kubernetes.requests) == calls  # remembered, not asked again


def test_unset_and_not_in_the_api_blocks_naming_what_to_set(gw, in_cluster, fake_network):
    fake_network.kubernetes.lists = dict.fromkeys(fake_network.kubernetes.lists)
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(config={"cluster-cidrs": None}))

    assert out.unit_status == testing.BlockedStatus(
        "cluster-cidrs unset and not found in the Kubernetes API: juju config gluetun-k8s "
        "cluster-cidrs=<pod CIDR>,<service CIDR>, covering the Juju controller "
        f"{CONTROLLER}; the Kubernetes API {API} (MicroK8s: 10.1.0.0/16,10.152.183.0/24)"
    )
    assert "gluetun" not in out.get_container("gluetun").plan.services


def test_unset_and_the_api_misses_the_controller_names_the_exact_value(
    gw, in_cluster, fake_network
):
    fake_network.kubernetes.lists["servicecidrs"] = None  # Kubernetes < 1.31
    out = gw.ctx.run(gw.ctx.on.config_changed(), gw.state(config={"cluster-cidrs": None}))

    assert out.unit_status == testing.BlockedStatus(
        f"cluster-cidrs unset and the cluster's networks miss the Juju controller {CONTROLLER}; "
        f"the Kubernetes API {API}: juju config gluetun-k8s cluster-cidrs=10.1.0.0/16,"
        f"192.168.1.20/32,{CONTROLLER}/32,{API}/32"
    )


def test_a_change_that_would_cut_the_unit_off_keeps_the_running_gluetun(gw, in_cluster, spy):
    running = gw.ctx.run(
        gw.ctx.on.config_changed(),
        gw.state(config={"cluster-cidrs": "10.1.0.0/16,10.152.183.0/24"}),
    )
    assert isinstance(running.unit_status, testing.ActiveStatus)
    spy.clear()

    bad = dataclasses.replace(running, config={**running.config, "cluster-cidrs": "10.1.0.0/16"})
    out = gw.ctx.run(gw.ctx.on.config_changed(), bad)

    assert isinstance(out.unit_status, testing.BlockedStatus)
    assert gw.env(out)["FIREWALL_OUTBOUND_SUBNETS"] == "10.1.0.0/16,10.152.183.0/24"
    assert [e for e in spy.writes if e[0] == "gluetun"] == []


def test_the_charm_reaches_the_kubernetes_api_by_address(gw, in_cluster, fake_network):
    # Gluetun's resolver answers through the tunnel and knows no cluster names.
    gw.ctx.run(gw.ctx.on.config_changed(), gw.state(config={"cluster-cidrs": "10.0.0.0/8"}))

    urls = [r.url for r in fake_network.kubernetes.requests]
    assert urls and all(url.startswith(f"https://{API}:443/") for url in urls)
