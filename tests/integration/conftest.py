"""Fixtures: the packed bundle deployed once per module, with user secrets when available."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import jubilant
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from stack_helpers import ROOT, kubectl, vpn_available

BUNDLE = ROOT / "bundle.yaml"
NO_JUJU = (
    "integration tests skipped: juju is not on PATH; they need a Juju 3.6 controller with "
    "a Kubernetes cloud (see tests/integration/README.md)"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without juju, stop after collection with one line that says why (exit status 0)."""
    if shutil.which("juju") is None and not config.option.collectonly and items:
        pytest.exit(NO_JUJU, returncode=0)


@pytest.fixture(scope="module")
def stack(juju: jubilant.Juju) -> jubilant.Juju:
    """The whole bundle, deployed with --trust, user secrets added and granted."""
    missing = [p for p in ROOT.glob("charms/*") if p.is_dir() and not list(p.glob("*.charm"))]
    assert not missing, f"run `tox -e pack` first; no .charm in {[p.name for p in missing]}"
    assert juju.model is not None
    # jubilant names it "<controller>:<model>"; the namespace is the model's own name.
    namespace = juju.model.rpartition(":")[2]
    kubectl("-n", namespace, "apply", "-f", str(ROOT / "tests/integration/media-pvc.yaml"))
    juju.deploy(BUNDLE, trust=True)
    # Gluetun's firewall needs the cluster's networks (MicroK8s defaults unless given).
    cidrs = os.environ.get("CHARMARR_CLUSTER_CIDRS", "10.1.0.0/16,10.152.183.0/24")
    juju.config("gluetun", {"cluster-cidrs": cidrs})

    if vpn_available():
        content = {"private-key": os.environ["CHARMARR_WIREGUARD_PRIVATE_KEY"]}
        if os.environ.get("CHARMARR_WIREGUARD_ADDRESSES"):
            content["addresses"] = os.environ["CHARMARR_WIREGUARD_ADDRESSES"]
        uri = juju.add_secret("gluetun-credentials-secret", content)
        juju.grant_secret(uri, "gluetun")
        juju.config(
            "gluetun",
            {"credentials-secret": uri, "vpn-provider": os.environ["CHARMARR_VPN_PROVIDER"]},
        )
    else:
        juju.config("qbittorrent", {"require-vpn": False})

    if os.environ.get("CHARMARR_PLEX_CLAIM"):
        uri = juju.add_secret(
            "plex-claim-token-secret", {"claim-token": os.environ["CHARMARR_PLEX_CLAIM"]}
        )
        juju.grant_secret(uri, "plex")
        juju.config("plex", {"claim-token-secret": uri})
    return juju
