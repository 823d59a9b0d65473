"""What the README's guide has an operator do, played on a :class:`stack.Stack`.

Kept out of the harness proper: these are the user's steps (secrets, deploy, set up the
apps' web UIs), which the tests share, not Juju's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from stack import Stack

WIREGUARD = {
    "private-key": "cGxhY2Vob2xkZXIta2V5LW9mLXRoaXJ0eS10d28tYj0=",
    "addresses": "10.64.0.2/32",
}
"""The operator's VPN account (a WireGuard key) for Gluetun's user secret."""


def deploy_charmarr(
    stack: Stack, *, grant: bool = True, scale: dict[str, int] | None = None
) -> dict[str, str]:
    """What the README tells an operator to do: user secrets, deploy the bundle, wait.

    ``juju add-secret`` a claim token (from plex.tv) and a WireGuard key, ``juju
    grant-secret`` them (unless ``grant`` is False), ``juju deploy ./bundle.yaml`` with
    ``vpn-provider``, ``credentials-secret`` and ``claim-token-secret`` set, and let the
    model converge. Returns the user secrets' URIs (``claim``, ``vpn``).
    """
    claim = stack.add_user_secret({"claim-token": stack.plex_tv.issue_claim_token()})
    vpn = stack.add_user_secret(WIREGUARD)
    if grant:
        stack.grant_secret(claim, "plex")
        stack.grant_secret(vpn, "gluetun")
    stack.deploy_bundle(
        extra={
            "gluetun": {
                "vpn-provider": "mullvad",
                "credentials-secret": vpn,
                "cluster-cidrs": "10.1.0.0/16,10.152.183.0/24",
            },
            "plex": {"claim-token-secret": claim},
        },
        scale=scale,
    )
    set_up_apps(stack)
    stack.converge()
    return {"claim": claim, "vpn": vpn}


def set_up_apps(stack: Stack) -> None:
    """What the guide has the operator do in the apps' web UIs: Plex's Movie and TV
    libraries (Radarr and Sonarr refuse a Plex connection without one) and an indexer in
    Prowlarr (which Prowlarr then syncs into Radarr and Sonarr)."""
    for unit in stack.apps["plex"].units if "plex" in stack.apps else []:
        unit.fake.add_library("movie", "Movies")
        unit.fake.add_library("show", "TV Shows")
    for unit in stack.apps["prowlarr"].units if "prowlarr" in stack.apps else []:
        unit.fake.add_indexer("Nyaa", protocol="torrent")
        unit.fake.add_indexer("NZBgeek", protocol="usenet")


def snapshot(root: Path, into: Path) -> None:
    """Keep a copy of a stack's files (the workloads' volumes)."""
    shutil.copytree(root, into, symlinks=True, dirs_exist_ok=True)


def restore(root: Path, snapshot_dir: Path) -> None:
    """Put a stack's files back as :func:`snapshot` kept them."""
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(snapshot_dir, root, symlinks=True)
