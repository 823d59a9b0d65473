"""Gluetun's own pod gets NET_ADMIN and /dev/net/tun through a StatefulSet patch."""

from __future__ import annotations

from charms_under_test import context, wired_state
from ops import testing


def test_leader_patches_net_admin_and_tun_once(fake_network):
    state, _ = wired_state("gluetun", fake_network, leader=True)
    ctx = context("gluetun", app_name="gluetun")
    out = ctx.run(ctx.on.config_changed(), state)
    cluster = fake_network.kubernetes
    assert len(cluster.patches) == 1
    gluetun = cluster.container("gluetun", "gluetun")
    assert gluetun["securityContext"] == {"capabilities": {"add": ["NET_ADMIN"]}}
    assert {"name": "charmarr-tun", "mountPath": "/dev/net/tun"} in gluetun["volumeMounts"]
    assert not any(v["name"] == "charmarr-media" for v in cluster.volumes("gluetun"))
    ctx.run(ctx.on.update_status(), out)
    assert len(cluster.patches) == 1


def test_without_trust_gluetun_says_how_to_grant_it(fake_network):
    state, _ = wired_state("gluetun", fake_network, leader=True)
    fake_network.kubernetes.forbidden = True
    ctx = context("gluetun", app_name="gluetun")
    out = ctx.run(ctx.on.config_changed(), state)
    assert out.unit_status == testing.BlockedStatus(
        "no permission to patch the pod: juju trust gluetun --scope=cluster (or deploy with --trust)"
    )


def test_non_leader_never_patches(fake_network):
    state, _ = wired_state("gluetun", fake_network, leader=False)
    ctx = context("gluetun", app_name="gluetun")
    ctx.run(ctx.on.config_changed(), state)
    assert fake_network.kubernetes.requests == []
