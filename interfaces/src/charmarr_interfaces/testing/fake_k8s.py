"""An in-process fake of the Kubernetes API calls :mod:`charmarr_interfaces.k8s` makes.

It holds the StatefulSet as Juju created it plus what the ``charmarr`` field manager
applied, and answers GET with the two merged, like server-side apply would: fields the
manager applied before and leaves out now are gone.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from ..http import Request, Response
from ..k8s import API_URL
from .fakes import FakeApp, json_response

ADDRESS = API_URL.removeprefix("https://") + ":443"


class FakeKubernetes(FakeApp):
    """PVCs by name, one StatefulSet per app; ``forbidden`` simulates a charm without trust."""

    def __init__(self, namespace: str, containers: list[str], *, app: str) -> None:
        super().__init__()
        self.namespace = namespace
        self.app = app
        self.pvcs: set[str] = set()
        self.forbidden = False
        self.base: dict[str, Any] = {
            "metadata": {"name": app, "namespace": namespace},
            "spec": {
                "template": {
                    "spec": {
                        "volumes": [{"name": "charm-data", "emptyDir": {}}],
                        "containers": [
                            {"name": c, "image": f"{c}:1"} for c in ["charm", *containers]
                        ],
                    }
                }
            },
        }
        self.applied: dict[str, Any] | None = None

    @property
    def patches(self) -> list[Request]:
        """The server-side apply requests received."""
        return [r for r in self.requests if r.method == "PATCH"]

    def live(self) -> dict[str, Any]:
        """The StatefulSet as the API server would show it now."""
        live = copy.deepcopy(self.base)
        if not self.applied:
            return live
        spec = live["spec"]["template"]["spec"]
        mine = self.applied["spec"]["template"]["spec"]
        spec["volumes"].extend(copy.deepcopy(mine.get("volumes", [])))
        for patch in mine.get("containers", []):
            for container in spec["containers"]:
                if container["name"] == patch["name"]:
                    container.update(
                        {k: v for k, v in copy.deepcopy(patch).items() if k != "name"}
                    )
        return live

    def handle(self, request: Request) -> Response:
        """Serve the PVC and StatefulSet reads and the apply."""
        if self.forbidden:
            return json_response({"kind": "Status", "code": 403, "reason": "Forbidden"}, 403)
        prefix_pvc = f"/api/v1/namespaces/{self.namespace}/persistentvolumeclaims/"
        prefix_sts = f"/apis/apps/v1/namespaces/{self.namespace}/statefulsets/"
        if request.method == "GET" and request.path.startswith(prefix_pvc):
            name = request.path.removeprefix(prefix_pvc)
            return json_response({"metadata": {"name": name}}, 200 if name in self.pvcs else 404)
        if request.path == prefix_sts + self.app:
            if request.method == "GET":
                return json_response(self.live())
            if request.method == "PATCH":
                assert request.headers.get("Content-Type") == "application/apply-patch+yaml"
                assert request.query.get("fieldManager") == "charmarr"
                self.applied = json.loads(request.body or b"{}")
                return json_response(self.live())
        return json_response({"code": 404}, 404)
