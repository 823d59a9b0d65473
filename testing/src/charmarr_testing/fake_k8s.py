"""An in-process fake Kubernetes API server, reached through lightkube's own transport.

:mod:`charmarr_common.k8s` builds its ``lightkube.Client`` with an ``httpx2.MockTransport``
that hands every request to the test's :class:`~.fakes.FakeNetwork`, which serves one of
these at the in-cluster API address: each charm test runs against a cluster where the PVC
``charmarr-media`` exists and the charm has trust.

It keeps objects (namespaced or not) by resource, honours label selectors on lists, answers
403/404/409/422 with a ``Status`` like the API server, and rejects every object it would
store that does not validate against the Kubernetes 1.30 schemas (``kubernetes-validate``,
strict: an unknown field is an error here, where a real server only warns). Per app it
holds the StatefulSet as Juju created it plus what the ``charmarr`` field manager applied,
and answers GET with the two merged, as server-side apply would: fields the manager applied
before and leaves out now are gone.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from charmarr_common.http import Request, Response
from charmarr_common.k8s import API_URL

from .apps import FakeApp, json_response

ADDRESS = API_URL.removeprefix("https://") + ":443"
DEFAULT_PVC = "charmarr-media"
NODE_ADDRESS = "192.168.1.20"
KUBERNETES_VERSION = "1.30"
"""The schemas objects are validated against."""
API_SERVICE = "10.152.183.1"
"""The ``default/kubernetes`` Service's cluster IP (MicroK8s' service CIDR)."""
API_ENDPOINT = ("192.168.1.20", 16443)
"""The API server behind ``default/kubernetes`` (MicroK8s serves it on the node, 16443)."""
SERVICE_ACCOUNT_TOKEN = "charmarr-test-service-account-token"
"""The bearer token the kubelet mounts in every pod and this API server accepts."""
CLUSTER_CA = Path(__file__).with_name("cluster-ca.crt")
"""A self-signed CA (made with ``openssl req -x509``) standing for the cluster's."""


def write_service_account(directory: Path, namespace: str = "media") -> Path:
    """What the kubelet mounts at ``/var/run/secrets/kubernetes.io/serviceaccount``.

    ``token``, ``ca.crt`` and ``namespace`` (kubernetes pkg/kubelet: the projected
    ``kube-api-access-*`` volume). ``charmarr_common.k8s`` reads the first two, so its
    client trusts only the cluster's CA, as in a pod.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "token").write_text(SERVICE_ACCOUNT_TOKEN)
    (directory / "ca.crt").write_bytes(CLUSTER_CA.read_bytes())
    (directory / "namespace").write_text(namespace)
    return directory


LISTS = {
    "nodes": "/api/v1/nodes",
    "servicecidrs": "/apis/networking.k8s.io/v1/servicecidrs",
    "ippools": "/apis/crd.projectcalico.org/v1/ippools",
    "ciliumnodes": "/apis/cilium.io/v2/ciliumnodes",
}
"""Cluster-wide lists the fake serves (None: the cluster does not serve that resource)."""

_PATH = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
    r"(?:/namespaces/(?P<namespace>[^/]+))?/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?$"
)
_KINDS = {
    "networkpolicies": "NetworkPolicy",
    "endpointslices": "EndpointSlice",
    "services": "Service",
    "endpoints": "Endpoints",
}
"""Resources kept in the generic object store, by plural."""


def status(code: int, reason: str, message: str) -> Response:
    """A failure as the API server answers it: a ``Status`` object (meta/v1)."""
    # mirrors kubernetes staging/src/k8s.io/apimachinery/pkg/api/errors/errors.go
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return json_response(body, code)


def validation_error(manifest: dict[str, Any]) -> str | None:
    """Why ``manifest`` does not validate against the Kubernetes schemas, or None."""
    import kubernetes_validate

    try:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        return f"{'.'.join(str(p) for p in e.absolute_path)}: {e.message}"
    except kubernetes_validate.SchemaNotFoundError as e:
        return e.message
    return None


def matches(selector: str, labels: dict[str, str]) -> bool:
    """Whether ``labels`` match a label selector in its query-string form."""
    # mirrors kubernetes staging/src/k8s.io/apimachinery/pkg/labels/selector.go (Parse)
    for raw in re.split(r",(?![^()]*\))", selector):
        term = raw.strip()
        if not term:
            continue
        if m := re.fullmatch(r"(\S+)\s+(in|notin)\s+\((.*)\)", term):
            key, op, values = m[1], m[2], {v.strip() for v in m[3].split(",")}
            if (labels.get(key) in values) != (op == "in") or (op == "in" and key not in labels):
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


class FakeKubernetes(FakeApp):
    """PVCs by name, StatefulSets by app, other objects by resource; ``forbidden`` is RBAC.

    ``forbidden`` (bool) refuses everything, as for a charm without trust;
    ``forbidden_resources`` refuses only those plurals (e.g. ``{"networkpolicies"}``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.pvcs: set[str] = {DEFAULT_PVC}
        self.token = SERVICE_ACCOUNT_TOKEN
        """The bearer token it accepts (the pod's service account's)."""
        self.forbidden = False
        self.forbidden_resources: set[str] = set()
        self.applied: dict[str, dict[str, Any]] = {}
        """App name -> the manifest the field manager applied last."""
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        """(plural, namespace, name) -> the stored object."""
        self._version = 100
        # A MicroK8s-like cluster on Kubernetes >= 1.33: Calico's pool, one service CIDR.
        self.lists: dict[str, list[dict[str, Any]] | None] = {
            "nodes": [
                {
                    "metadata": {"name": "node-1"},
                    "spec": {},
                    "status": {"addresses": [{"type": "InternalIP", "address": NODE_ADDRESS}]},
                }
            ],
            "servicecidrs": [
                {"metadata": {"name": "kubernetes"}, "spec": {"cidrs": ["10.152.183.0/24"]}}
            ],
            "ippools": [
                {"metadata": {"name": "default-ipv4-ippool"}, "spec": {"cidr": "10.1.0.0/16"}}
            ],
            "ciliumnodes": None,
        }
        self.put(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "kubernetes", "namespace": "default"},
                "spec": {
                    "clusterIP": API_SERVICE,
                    "clusterIPs": [API_SERVICE],
                    "ports": [{"name": "https", "port": 443, "targetPort": API_ENDPOINT[1]}],
                },
            }
        )
        self.put(
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": "kubernetes",
                    "namespace": "default",
                    "labels": {"kubernetes.io/service-name": "kubernetes"},
                },
                "addressType": "IPv4",
                "endpoints": [{"addresses": [API_ENDPOINT[0]]}],
                "ports": [{"name": "https", "port": API_ENDPOINT[1], "protocol": "TCP"}],
            }
        )

    # -- the object store ------------------------------------------------------------

    def put(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Store ``manifest`` as the API server would (validated, versioned); return it."""
        problem = validation_error(manifest)
        assert problem is None, problem
        return self._store(manifest)

    def _store(self, manifest: dict[str, Any]) -> dict[str, Any]:
        plural = next(p for p, k in _KINDS.items() if k == manifest["kind"])
        meta = manifest["metadata"]
        self._version += 1
        stored = copy.deepcopy(manifest)
        stored["metadata"]["resourceVersion"] = str(self._version)
        stored["metadata"].setdefault("uid", f"uid-{plural}-{meta['name']}")
        self.objects[(plural, meta.get("namespace", ""), meta["name"])] = stored
        return copy.deepcopy(stored)

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """One stored object, or None."""
        found = self.objects.get((plural, namespace, name))
        return copy.deepcopy(found) if found else None

    def named(self, plural: str, namespace: str) -> dict[str, dict[str, Any]]:
        """The stored objects of one resource in ``namespace``, by name."""
        return {
            name: copy.deepcopy(obj)
            for (p, ns, name), obj in self.objects.items()
            if p == plural and ns == namespace
        }

    # -- StatefulSets as Juju made them plus the charm's apply ----------------------

    @property
    def patches(self) -> list[Request]:
        """The server-side apply requests received."""
        return [r for r in self.requests if r.method == "PATCH"]

    def live(self, app: str, namespace: str = "media") -> dict[str, Any]:
        """The StatefulSet of ``app`` as the API server would show it now."""
        labels = {"app.kubernetes.io/name": app}
        live: dict[str, Any] = {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {
                "name": app,
                "namespace": namespace,
                "labels": labels,
                "uid": f"uid-statefulset-{app}",
            },
            "spec": {
                "serviceName": f"{app}-endpoints",
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "volumes": [{"name": "charm-data", "emptyDir": {}}],
                        "containers": [{"name": "charm", "image": "charm:1"}],
                    },
                },
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

    # -- the API ----------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Serve the reads, the apply, and the generic store's create/replace/delete."""
        # mirrors kubernetes staging/src/k8s.io/apiserver/pkg/endpoints/filters/
        # authentication.go: a bearer token the server does not know is 401; no token at all
        # is system:anonymous, which RBAC then forbids (403)
        bearer = request.headers.get("Authorization", "")
        if not bearer:
            return status(403, "Forbidden", 'forbidden: User "system:anonymous" cannot do that')
        if bearer != f"Bearer {self.token}":
            return status(401, "Unauthorized", "Unauthorized")
        if self.forbidden:
            return status(403, "Forbidden", "forbidden: the service account lacks RBAC")
        for kind, path in LISTS.items():
            if request.method == "GET" and request.path == path:
                items = self.lists.get(kind)
                if items is None:
                    return status(404, "NotFound", "the server could not find the resource")
                return json_response(
                    {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items}
                )
        m = _PATH.match(request.path)
        if m is None:
            return status(404, "NotFound", "the server could not find the requested resource")
        plural, namespace, name = m["plural"], m["namespace"] or "", m["name"]
        if plural in self.forbidden_resources:
            return status(403, "Forbidden", f"{plural} is forbidden")
        if plural == "persistentvolumeclaims" and request.method == "GET" and name:
            if name not in self.pvcs:
                return status(404, "NotFound", f'persistentvolumeclaims "{name}" not found')
            return json_response(
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": name, "namespace": namespace},
                    "spec": {"accessModes": ["ReadWriteMany"]},
                }
            )
        if plural == "statefulsets" and name:
            return self._statefulset(request, name, namespace)
        if plural in _KINDS:
            return self._generic(request, plural, namespace, name)
        return status(404, "NotFound", "the server could not find the requested resource")

    def _statefulset(self, request: Request, app: str, namespace: str) -> Response:
        if request.method == "GET":
            return json_response(self.live(app, namespace))
        if request.method == "PATCH":
            assert request.headers.get("Content-Type") == "application/apply-patch+yaml"
            assert request.query.get("fieldManager") == "charmarr"
            before = self.applied.get(app)
            self.applied[app] = json.loads(request.body or b"{}")
            # The API server validates the object that results from the apply.
            problem = validation_error(self.live(app, namespace))
            if problem:
                if before is None:
                    self.applied.pop(app)
                else:
                    self.applied[app] = before
                return status(422, "Invalid", f'StatefulSet "{app}" is invalid: {problem}')
            return json_response(self.live(app, namespace))
        return status(405, "MethodNotAllowed", request.method)

    def _generic(
        self, request: Request, plural: str, namespace: str, name: str | None
    ) -> Response:
        key = (plural, namespace, name or "")
        if request.method == "GET" and name is None:
            selector = request.query.get("labelSelector", "")
            items = [
                obj
                for (p, ns, _), obj in sorted(self.objects.items())
                if p == plural
                and (ns == namespace or not namespace)
                and matches(selector, obj["metadata"].get("labels") or {})
            ]
            return json_response(
                {
                    "apiVersion": "v1",
                    "kind": f"{_KINDS[plural]}List",
                    "metadata": {"resourceVersion": str(self._version)},
                    "items": items,
                }
            )
        if request.method == "POST" and name is None:
            body = request.json()
            key = (plural, namespace, body.get("metadata", {}).get("name", ""))
            if key in self.objects:
                return status(409, "AlreadyExists", f'{plural} "{key[2]}" already exists')
            return self._write(body, namespace, 201)
        if key not in self.objects:
            return status(404, "NotFound", f'{plural} "{name}" not found')
        if request.method == "GET":
            return json_response(self.objects[key])
        if request.method == "PUT":
            body = request.json()
            version = body.get("metadata", {}).get("resourceVersion")
            if version and version != self.objects[key]["metadata"]["resourceVersion"]:
                return status(409, "Conflict", "the object has been modified; try again")
            body["metadata"]["uid"] = self.objects[key]["metadata"]["uid"]
            return self._write(body, namespace, 200)
        if request.method == "DELETE":
            del self.objects[key]
            return json_response({"kind": "Status", "apiVersion": "v1", "status": "Success"})
        return status(405, "MethodNotAllowed", request.method)

    def _write(self, body: dict[str, Any], namespace: str, code: int) -> Response:
        body.setdefault("metadata", {}).setdefault("namespace", namespace)
        body["metadata"].pop("resourceVersion", None)
        problem = validation_error(body)
        if problem:
            kind, name = body.get("kind"), body["metadata"].get("name")
            return status(422, "Invalid", f'{kind} "{name}" is invalid: {problem}')
        return json_response(self._store(body), code)
