"""An in-process fake of the Kubernetes API calls :mod:`charmarr_interfaces.k8s` makes.

Every :class:`~.fakes.FakeNetwork` serves one at the in-cluster API address, so each charm
test runs against a cluster where the PVC ``charmarr-media`` exists and the charm has trust.
Per app it holds the StatefulSet as Juju created it plus what the ``charmarr`` field manager
applied, and answers GET with the two merged, as server-side apply would: fields the manager
applied before and leaves out now are gone.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from charmarr_common.http import Request, Response
from charmarr_common.k8s import API_URL

from .fakes import FakeApp, json_response

ADDRESS = API_URL.removeprefix("https://") + ":443"
DEFAULT_PVC = "charmarr-media"
NODE_ADDRESS = "192.168.1.20"

LISTS = {
    "nodes": "/api/v1/nodes",
    "servicecidrs": "/apis/networking.k8s.io/v1/servicecidrs",
    "ippools": "/apis/crd.projectcalico.org/v1/ippools",
    "ciliumnodes": "/apis/cilium.io/v2/ciliumnodes",
}
"""Cluster-wide lists the fake serves (None: the cluster does not serve that resource)."""


class FakeKubernetes(FakeApp):
    """PVCs by name, StatefulSets by app; ``forbidden`` simulates a charm without trust."""

    def __init__(self) -> None:
        super().__init__()
        self.pvcs: set[str] = {DEFAULT_PVC}
        self.forbidden = False
        self.applied: dict[str, dict[str, Any]] = {}
        # A MicroK8s-like cluster on Kubernetes >= 1.33: Calico's pool, one service CIDR.
        self.lists: dict[str, list[dict[str, Any]] | None] = {
            "nodes": [
                {
                    "metadata": {"name": "node-1"},
                    "spec": {},
                    "status": {"addresses": [{"type": "InternalIP", "address": NODE_ADDRESS}]},
                }
            ],
            "servicecidrs": [{"spec": {"cidrs": ["10.152.183.0/24"]}}],
            "ippools": [{"spec": {"cidr": "10.1.0.0/16"}}],
            "ciliumnodes": None,
        }
        """App name -> the manifest the field manager applied last."""

    @property
    def patches(self) -> list[Request]:
        """The server-side apply requests received."""
        return [r for r in self.requests if r.method == "PATCH"]

    def live(self, app: str) -> dict[str, Any]:
        """The StatefulSet of ``app`` as the API server would show it now."""
        live: dict[str, Any] = {
            "metadata": {"name": app},
            "spec": {
                "template": {
                    "spec": {
                        "volumes": [{"name": "charm-data", "emptyDir": {}}],
                        "containers": [{"name": "charm", "image": "charm:1"}],
                    }
                }
            },
        }
        mine = self.applied.get(app, {}).get("spec", {}).get("template", {}).get("spec", {})
        spec = live["spec"]["template"]["spec"]
        spec["volumes"].extend(copy.deepcopy(mine.get("volumes", [])))
        for patch in mine.get("containers", []):
            spec["containers"].append({"image": f"{patch['name']}:1", **copy.deepcopy(patch)})
        return live

    def container(self, app: str, name: str) -> dict[str, Any]:
        """One container of the live pod template (empty if the app never patched it)."""
        containers = self.live(app)["spec"]["template"]["spec"]["containers"]
        return next((c for c in containers if c["name"] == name), {})

    def volumes(self, app: str) -> list[dict[str, Any]]:
        """The live pod template's volumes."""
        return self.live(app)["spec"]["template"]["spec"]["volumes"]

    def handle(self, request: Request) -> Response:
        """Serve the PVC and StatefulSet reads and the apply."""
        if self.forbidden:
            return json_response({"kind": "Status", "code": 403, "reason": "Forbidden"}, 403)
        for kind, path in LISTS.items():
            if request.method == "GET" and request.path == path:
                items = self.lists.get(kind)
                if items is None:
                    return json_response({"kind": "Status", "code": 404}, 404)
                return json_response({"items": copy.deepcopy(items)})
        parts = request.path.strip("/").split("/")
        # api/v1/namespaces/<ns>/persistentvolumeclaims/<name>
        if request.method == "GET" and parts[:2] == ["api", "v1"] and len(parts) == 6:
            found = parts[4] == "persistentvolumeclaims" and parts[5] in self.pvcs
            return json_response({"metadata": {"name": parts[5]}}, 200 if found else 404)
        # apis/apps/v1/namespaces/<ns>/statefulsets/<app>
        if parts[:3] == ["apis", "apps", "v1"] and len(parts) == 7 and parts[5] == "statefulsets":
            app = parts[6]
            if request.method == "GET":
                return json_response(self.live(app))
            if request.method == "PATCH":
                assert request.headers.get("Content-Type") == "application/apply-patch+yaml"
                assert request.query.get("fieldManager") == "charmarr"
                self.applied[app] = json.loads(request.body or b"{}")
                return json_response(self.live(app))
        return json_response({"code": 404}, 404)
