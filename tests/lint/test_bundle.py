"""bundle.yaml names only charms, endpoints, resources and options that exist, and every integration."""

from __future__ import annotations

from pathlib import Path

import yaml
from contract import CHARMS

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = yaml.safe_load((ROOT / "bundle.yaml").read_text())

INGRESS_APPS = ("prowlarr", "radarr", "sonarr", "qbittorrent", "sabnzbd")
"""The apps with a web UI behind the ingress (Plex is reached by its own Service)."""
EXTERNAL = {
    # traefik-k8s metadata: provides ingress (interface ingress); it needs trust to
    # manage its LoadBalancer Service (canonical/traefik-k8s-operator charmcraft.yaml)
    "traefik": {
        "charm": "traefik-k8s",
        "channel": "latest/stable",
        "provides": {"ingress": "ingress"},
    },
}
"""Charms from Charmhub in the bundle, with the endpoints the bundle uses."""

EXPECTED = {
    frozenset({"prowlarr:media-indexer", "radarr:media-indexer"}),
    frozenset({"prowlarr:media-indexer", "sonarr:media-indexer"}),
    frozenset({"qbittorrent:download-client", "radarr:download-client"}),
    frozenset({"qbittorrent:download-client", "sonarr:download-client"}),
    frozenset({"sabnzbd:download-client", "radarr:download-client"}),
    frozenset({"sabnzbd:download-client", "sonarr:download-client"}),
    frozenset({"gluetun:vpn-gateway", "qbittorrent:vpn-gateway"}),
    frozenset({"gluetun:vpn-gateway", "sabnzbd:vpn-gateway"}),
    frozenset({"gluetun:vpn-gateway", "prowlarr:vpn-gateway"}),
    frozenset({"plex:media-server", "radarr:media-server"}),
    frozenset({"plex:media-server", "sonarr:media-server"}),
    *(frozenset({"traefik:ingress", f"{app}:ingress"}) for app in INGRESS_APPS),
}
TRUSTED = {"radarr", "sonarr", "sabnzbd", "qbittorrent", "plex", "gluetun", "traefik"}


def _charmcraft(directory: str) -> dict:
    return yaml.safe_load((ROOT / "charms" / directory / "charmcraft.yaml").read_text())


def _endpoint(app: str, endpoint: str) -> tuple[str, str]:
    if app in EXTERNAL:
        provides = EXTERNAL[app]["provides"]
        assert endpoint in provides, f"{app} has no endpoint {endpoint}"
        return "provides", provides[endpoint]
    meta = _charmcraft(app)
    for role in ("provides", "requires"):
        if endpoint in meta.get(role, {}):
            return role, meta[role][endpoint]["interface"]
    raise AssertionError(f"{app} has no endpoint {endpoint}")


def test_every_app_is_a_charm_of_this_repo_with_its_resources():
    assert set(BUNDLE["applications"]) == set(CHARMS) | set(EXTERNAL)
    for app, spec in BUNDLE["applications"].items():
        if app in EXTERNAL:
            assert spec["charm"] == EXTERNAL[app]["charm"]
            assert spec["channel"] == EXTERNAL[app]["channel"]
            continue
        meta = _charmcraft(app)
        assert spec["charm"] == f"./charms/{app}/{meta['name']}_amd64.charm"
        declared = {name: r["upstream-source"] for name, r in meta["resources"].items()}
        assert spec["resources"] == declared, f"{app} resources differ from charmcraft.yaml"
        options = set(meta.get("config", {}).get("options", {}))
        assert set(spec.get("options", {})) <= options, f"{app} sets unknown options"


def test_every_integration_joins_matching_interfaces_of_opposite_roles():
    pairs = set()
    for left, right in BUNDLE["relations"]:
        (role_l, iface_l), (role_r, iface_r) = (
            _endpoint(*left.split(":")),
            _endpoint(*right.split(":")),
        )
        assert iface_l == iface_r, f"{left} / {right}: interfaces differ"
        assert {role_l, role_r} == {"provides", "requires"}, f"{left} / {right}: same role"
        pairs.add(frozenset({left, right}))
    assert pairs == EXPECTED


def test_apps_that_patch_kubernetes_are_trusted_and_rotation_is_shown():
    apps = BUNDLE["applications"]
    assert {a for a, spec in apps.items() if spec.get("trust")} == TRUSTED
    for app, spec in CHARMS.items():
        if "rotation-interval" in spec["config"]:
            assert apps[app]["options"]["rotation-interval"] == "monthly"


def test_every_app_with_an_ingress_endpoint_is_behind_the_ingress():
    declared = {app for app in CHARMS if "ingress" in _charmcraft(app).get("requires", {})}
    assert declared == set(INGRESS_APPS)
    for app in INGRESS_APPS:
        assert _charmcraft(app)["requires"]["ingress"] == {
            "interface": "ingress",
            "limit": 1,
            "optional": True,
        }
