"""Patch the charm's own StatefulSet: the shared media volume, and Gluetun's privileges.

Juju cannot say "mount this existing ReadWriteMany PVC at /data" or "give this container
NET_ADMIN and /dev/net/tun" in ``charmcraft.yaml``, so the leader adds them to its own
StatefulSet's pod template with a Kubernetes server-side apply (field manager
``charmarr``). Fields applied once and left out later are removed by Kubernetes, which is
how unsetting ``media-volume`` removes the mount. This needs ``juju deploy --trust``.

A patch restarts the pod, so it is applied only when the wanted pod template differs from
what is there: the fingerprint of the last patch is kept in the unit's stored state, and a
unit that has none (a new leader, a restarted pod) reads the StatefulSet once, compares,
and patches only on a difference. A steady-state hook makes no Kubernetes call at all.

Why not lightkube / charmed-kubeflow-chisme: both were measured. lightkube and its HTTP
stack add about 5.6 MB to every charm (over the 18 MB budget with ops and pydantic), and
importing chisme's ``kubernetes`` or ``pebble`` module takes 0.8-1.2 s on every hook because
it pulls lightkube in. chisme's ``KubernetesResourceHandler`` manages resources a charm
creates, by label; this charm patches one object Juju owns. Three REST calls over the
standard library do the job; the fake API server in ``testing.fake_k8s`` tests them.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import ops

from .errors import CharmarrError, InvalidConfigError, WaitingError
from .http import HttpClient, WorkloadHttpError, WorkloadUnreachableError

logger = logging.getLogger(__name__)

MEDIA_VOLUME_OPTION = "media-volume"
MEDIA_MOUNT = "/data"
MEDIA_VOLUME_NAME = "charmarr-media"
TUN_VOLUME_NAME = "charmarr-tun"
TUN_DEVICE = "/dev/net/tun"
FIELD_MANAGER = "charmarr"

API_URL = "https://kubernetes.default.svc"
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class PodPatch:
    """What the charm adds to its workload container in its own pod template."""

    container: str
    claim: str | None = None
    """An existing PVC mounted at /data, or None for no media volume."""
    net_admin: bool = False
    """NET_ADMIN and /dev/net/tun (Gluetun)."""

    @property
    def fingerprint(self) -> str:
        """A stable summary, kept to know whether a patch is needed."""
        return json.dumps([self.container, self.claim, self.net_admin])

    def manifest(self, app: str, namespace: str) -> dict[str, object]:
        """The partial StatefulSet this field manager owns."""
        volumes: list[dict[str, object]] = []
        mounts: list[dict[str, object]] = []
        container: dict[str, object] = {"name": self.container}
        if self.claim:
            volumes.append(
                {"name": MEDIA_VOLUME_NAME, "persistentVolumeClaim": {"claimName": self.claim}}
            )
            mounts.append({"name": MEDIA_VOLUME_NAME, "mountPath": MEDIA_MOUNT})
        if self.net_admin:
            volumes.append(
                {"name": TUN_VOLUME_NAME, "hostPath": {"path": TUN_DEVICE, "type": "CharDevice"}}
            )
            mounts.append({"name": TUN_VOLUME_NAME, "mountPath": TUN_DEVICE})
            container["securityContext"] = {"capabilities": {"add": ["NET_ADMIN"]}}
        container["volumeMounts"] = mounts
        return {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": app, "namespace": namespace},
            "spec": {"template": {"spec": {"volumes": volumes, "containers": [container]}}},
        }

    def is_applied_in(self, statefulset: dict) -> bool:
        """Whether a live StatefulSet's pod template already carries exactly this patch."""
        spec = statefulset.get("spec", {}).get("template", {}).get("spec", {})
        volumes = {v.get("name"): v for v in spec.get("volumes") or []}
        container = next(
            (c for c in spec.get("containers") or [] if c.get("name") == self.container), {}
        )
        mounts = {m.get("name"): m.get("mountPath") for m in container.get("volumeMounts") or []}
        media = (
            volumes.get(MEDIA_VOLUME_NAME, {}).get("persistentVolumeClaim", {}).get("claimName")
        )
        if media != self.claim or (mounts.get(MEDIA_VOLUME_NAME) == MEDIA_MOUNT) != bool(
            self.claim
        ):
            return False
        caps = ((container.get("securityContext") or {}).get("capabilities") or {}).get(
            "add"
        ) or []
        has_tun = TUN_VOLUME_NAME in volumes and mounts.get(TUN_VOLUME_NAME) == TUN_DEVICE
        return ("NET_ADMIN" in caps and has_tun) == self.net_admin


class KubernetesApi:
    """The three calls this needs, over :class:`HttpClient` with the pod's service account."""

    def __init__(
        self, namespace: str, *, base_url: str = API_URL, account: Path = SERVICE_ACCOUNT
    ):
        self.namespace = namespace
        token_file = account / "token"
        token = token_file.read_text().strip() if token_file.exists() else ""
        cafile = account / "ca.crt"
        self._client = HttpClient(
            base_url,
            name="the Kubernetes API",
            headers={"Authorization": f"Bearer {token}"} if token else {},
            cafile=str(cafile) if cafile.exists() else None,
        )

    def pvc_exists(self, name: str) -> bool:
        """Whether the PVC ``name`` exists in our namespace."""
        path = f"/api/v1/namespaces/{self.namespace}/persistentvolumeclaims/{name}"
        return self._client.request("GET", path, expect=(200, 404)).status == 200

    def list_items(self, path: str) -> list[dict] | None:
        """The ``items`` of a list at ``path``, or None where it is not served or allowed.

        An older cluster or another CNI lacks some resource types (404); that is an
        answer, not an error.
        """
        response = self._client.request("GET", path, expect=(200, 403, 404))
        if response.status != 200:
            return None
        data = self._client.json_of(response, path)
        items = data.get("items") if isinstance(data, dict) else None
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else None

    def statefulset(self, name: str) -> dict:
        """Our StatefulSet."""
        path = f"/apis/apps/v1/namespaces/{self.namespace}/statefulsets/{name}"
        return self._client.get_json(path)

    def apply(self, manifest: dict[str, object], name: str) -> None:
        """Server-side apply ``manifest`` to the StatefulSet ``name``."""
        path = f"/apis/apps/v1/namespaces/{self.namespace}/statefulsets/{name}"
        self._client.request(
            "PATCH",
            path,
            params={"fieldManager": FIELD_MANAGER, "force": "true"},
            body=json.dumps(manifest).encode(),
            headers={"Content-Type": "application/apply-patch+yaml"},
        )


class PodPatcher(ops.Object):
    """Keeps the charm's StatefulSet carrying its :class:`PodPatch` (leader only)."""

    _stored = ops.StoredState()

    def __init__(self, charm: ops.CharmBase, api: type[KubernetesApi] = KubernetesApi):
        super().__init__(charm, "pod-patcher")
        self._charm = charm
        self._api = api
        self._stored.set_default(applied="")
        self.patches = 0
        """Patches applied in this hook (each restarts the pod)."""

    def ensure(self, patch: PodPatch) -> None:
        """Apply ``patch`` if the pod template does not carry it yet.

        Raises:
            CharmarrError: the PVC is missing or the charm lacks trust (Blocked);
            WaitingError: the Kubernetes API did not answer.
        """
        if not self._charm.unit.is_leader() or self._stored.applied == patch.fingerprint:
            return
        app, namespace = self._charm.app.name, self._charm.model.name
        api = self._api(namespace)
        try:
            if patch.claim and not api.pvc_exists(patch.claim):
                raise CharmarrError(
                    f"PVC {patch.claim} not found in namespace {namespace}: create it "
                    f"(ReadWriteMany) or juju config {app} {MEDIA_VOLUME_OPTION}=<pvc>"
                )
            if not patch.is_applied_in(api.statefulset(app)):
                api.apply(patch.manifest(app, namespace), app)
                self.patches += 1
                logger.info(
                    "patched StatefulSet %s: /data %s, NET_ADMIN %s",
                    app,
                    "mounted" if patch.claim else "not mounted",
                    "on" if patch.net_admin else "off",
                )
        except WorkloadHttpError as e:
            if e.http_status in (401, 403):
                raise CharmarrError(
                    f"no permission to patch the pod: juju trust {app} --scope=cluster "
                    "(or deploy with --trust)"
                ) from None
            raise WaitingError(f"Kubernetes API: {e.message}") from None
        except WorkloadUnreachableError:
            raise WaitingError("waiting for the Kubernetes API") from None
        self._stored.applied = patch.fingerprint


_PVC_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def media_claim(charm: ops.CharmBase) -> str | None:
    """The ``media-volume`` option: the PVC name, or None when unset.

    Raises:
        InvalidConfigError: the value cannot be a Kubernetes object name.
    """
    value = str(charm.config.get(MEDIA_VOLUME_OPTION) or "").strip()
    if value and not _PVC_NAME.match(value):
        raise InvalidConfigError(
            f"invalid {MEDIA_VOLUME_OPTION} {value[:40]!r}: the name of a PVC "
            "(lowercase letters, digits, '-' and '.')"
        )
    return value or None


def media_volume_unset_error(charm: ops.CharmBase) -> CharmarrError:
    """The Blocked status for an unset ``media-volume``."""
    return CharmarrError(
        f"{MEDIA_VOLUME_OPTION} unset: create a ReadWriteMany PVC in namespace "
        f"{charm.model.name}, then juju config {charm.app.name} {MEDIA_VOLUME_OPTION}=<pvc>"
    )


def ensure_media_volume(patcher: PodPatcher, charm: ops.CharmBase, container: str) -> None:
    """Mount the ``media-volume`` PVC at /data in ``container`` (or remove the mount).

    Raises:
        CharmarrError: the option is unset (after removing any old mount), invalid, the PVC
            is missing or the charm lacks trust; WaitingError: the API did not answer.
    """
    claim = media_claim(charm)
    patcher.ensure(PodPatch(container, claim))
    if claim is None:
        raise media_volume_unset_error(charm)
