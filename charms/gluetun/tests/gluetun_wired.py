"""gluetun-k8s fully wired: VPN credentials set and granted, one vpn-gateway requirer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ops import testing

from charmarr_common.rotation import generate_token
from charmarr_testing import builders
from charmarr_testing.fake_gluetun import ADDRESS, HEALTH_ADDRESS, FakeGluetun, wireguard_key
from charmarr_testing.scratch import scratch_dir

SECRETS_DIR = "/run/secrets"
AUTH_FILE_NAME = "control-server-auth.toml"


def containers(root: Path | None = None) -> tuple[list[testing.Container], Path, Path]:
    """Both containers, connectable, with ``/run/secrets`` on host directories.

    Returns:
        The containers and the host directories behind Gluetun's and the SOCKS5
        server's ``/run/secrets``.
    """
    base = root or scratch_dir("charmarr-gluetun-")
    gluetun_dir, socks_dir = base / "gluetun", base / "socks5"
    gluetun_dir.mkdir(parents=True, exist_ok=True)
    socks_dir.mkdir(parents=True, exist_ok=True)
    return (
        [
            testing.Container(
                "gluetun",
                can_connect=True,
                mounts={"secrets": testing.Mount(location=SECRETS_DIR, source=gluetun_dir)},
            ),
            testing.Container(
                "socks5",
                can_connect=True,
                mounts={"secrets": testing.Mount(location=SECRETS_DIR, source=socks_dir)},
            ),
        ],
        gluetun_dir,
        socks_dir,
    )


def wired_state(network: Any, *, leader: bool = True) -> tuple[testing.State, FakeGluetun]:
    """Gluetun with a WireGuard user secret, one related qBittorrent and its secrets."""
    relation_id = 7
    user = testing.Secret({"private-key": wireguard_key(), "addresses": "10.64.0.2/32"})
    proxy = testing.Secret(
        {"username": f"proxy-{generate_token(4)}", "password": generate_token()},
        owner="app",
        label="gluetun-proxy-credentials",
    )
    control = testing.Secret(
        {"api-key": generate_token()}, owner="app", label=f"gluetun-control-{relation_id}"
    )
    requirer = builders.vpn_gateway_from_requirer(relation_id=relation_id)
    boxes, gluetun_dir, _ = containers()
    fake = FakeGluetun(gluetun_dir / AUTH_FILE_NAME)
    network.add(ADDRESS, fake)
    network.add(HEALTH_ADDRESS, fake)
    state = testing.State(
        leader=leader,
        config={
            "credentials-secret": user.id,
            "vpn-provider": "mullvad",
            "vpn-type": "wireguard",
            "server-countries": "Netherlands",
            "cluster-cidrs": "10.1.0.0/16,10.152.183.0/24",
        },
        secrets=[user, proxy, control],
        relations=[requirer.relation],
        containers=boxes,
    )
    return state, fake
