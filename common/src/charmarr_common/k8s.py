"""The charm's Kubernetes API calls, over lightkube: its own StatefulSet and the cluster.

Juju cannot say "mount this existing ReadWriteMany PVC at /data" or "give this container
NET_ADMIN and /dev/net/tun" in ``charmcraft.yaml``, so the leader adds them to its own
StatefulSet's pod template with a Kubernetes server-side apply (field manager
``charmarr``). Fields applied once and left out later are removed by Kubernetes, which is
how unsetting ``media-volume`` removes the mount. This needs ``juju deploy --trust``.

A patch restarts the pod, so it is applied only when the wanted pod template differs from
what is there: the fingerprint of the last patch is kept in the unit's stored state, and a
unit that has none (a new leader, a restarted pod) reads the StatefulSet once, compares,
and patches only on a difference. A steady-state hook makes no Kubernetes call at all.

Every call goes through lightkube (``lightkube.Client`` and its typed resources, e.g.
``apps_v1.StatefulSet``), imported only inside the methods that call the API: importing
this module, or a converged ``update-status``, imports nothing of lightkube or httpx2.
lightkube 1.0.1's install closure is 15 distributions, 7.8 MB of files
(``uv pip install --target /tmp/lk lightkube==1.0.1``); in a charm, which already has
PyYAML, it adds 4.6 MB: a charm's runtime is 16.7 MB without bytecode, 12.1 MB before.

Why not charmed-kubeflow-chisme: its ``KubernetesResourceHandler`` manages what a charm
creates, by label, which :mod:`.network_policy` does for its one kind in a few functions;
and its install closure dwarfs the 18 MB per-charm budget. Measured with
``uv pip install --target /tmp/chisme charmed-kubeflow-chisme==0.4.31`` then
``ls /tmp/chisme | grep -c dist-info`` and ``du -sh /tmp/chisme``: 80 distributions,
80 MB of files (90 MB on disk), among them the Juju client library, the official
Kubernetes client, aiohttp, cryptography and paramiko; some 68 MB more than a charm's
whole runtime, and even its exception classes import lightkube.

Tests: :mod:`charmarr_testing.fake_k8s` is a fake API server behind lightkube's own
transport (the HTTP seam of :mod:`.http`, see :func:`_test_transport`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ops

from .errors import CharmarrError, InvalidConfigError, WaitingError
from .http import WorkloadHttpError, WorkloadUnreachableError

logger = logging.getLogger(__name__)

MEDIA_VOLUME_OPTION = "media-volume"
MEDIA_MOUNT = "/data"
MEDIA_VOLUME_NAME = "charmarr-media"
TUN_VOLUME_NAME = "charmarr-tun"
TUN_DEVICE = "/dev/net/tun"
FIELD_MANAGER = "charmarr"
TIMEOUT = 5.0
"""Seconds per Kubernetes API request."""

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
    """The pod's service account talking to the Kubernetes API through lightkube.

    Errors come out as this package's: :class:`WorkloadHttpError` for an answer (its
    ``http_status`` set), :class:`WorkloadUnreachableError` when nothing answered.
    """

    def __init__(self, namespace: str, *, base_url: str = API_URL, account: Path | None = None):
        self.namespace = namespace
        self.base_url = base_url
        self.account = SERVICE_ACCOUNT if account is None else account
        """Where the kubelet mounts the pod's service account (token, ``ca.crt``)."""
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The ``lightkube.Client`` (built, and lightkube imported, on first use)."""
        if self._client is None:
            import httpx2
            from lightkube import Client, KubeConfig
            from lightkube.config.models import Cluster, User

            # httpx2 logs every request at INFO, which Juju would forward to debug-log.
            logging.getLogger("httpx2").setLevel(logging.WARNING)
            token, ca = self.account / "token", self.account / "ca.crt"
            cafile = str(ca) if ca.exists() else None
            config = KubeConfig.from_one(
                cluster=Cluster(server=self.base_url, certificate_auth=cafile),
                # lightkube re-reads a token file on 401: the kubelet rotates it.
                user=User(token_file=str(token)) if token.exists() else User(),
                namespace=self.namespace,
            )
            self._client = Client(
                config,
                namespace=self.namespace,
                timeout=httpx2.Timeout(TIMEOUT),
                field_manager=FIELD_MANAGER,
                trust_env=False,
                transport=_test_transport(cafile),
            )
        return self._client

    @contextmanager
    def answering(self, what: str) -> Iterator[None]:
        """Turn lightkube's and httpx2's errors for ``what`` into this package's."""
        import httpx2

        try:
            yield
        except httpx2.HTTPStatusError as e:  # lightkube.ApiError is one
            code = e.response.status_code
            raise WorkloadHttpError(
                f"the Kubernetes API answered {what} with HTTP {code}", code
            ) from None
        except httpx2.TransportError:
            raise WorkloadUnreachableError("waiting for the Kubernetes API") from None
        except ValueError:  # msgspec.DecodeError: not a Kubernetes object
            raise WorkloadHttpError(f"the Kubernetes API answered {what} with garbage") from None

    def pvc_exists(self, name: str) -> bool:
        """Whether the PVC ``name`` exists in our namespace."""
        from lightkube.resources.core_v1 import PersistentVolumeClaim

        try:
            with self.answering(f"GET persistentvolumeclaims/{name}"):
                self.client.get(PersistentVolumeClaim, name)
        except WorkloadHttpError as e:
            if e.http_status == 404:
                return False
            raise
        return True

    def list_items(self, path: str) -> list[dict] | None:
        """The items of the cluster-wide list at ``path``, or None where not served or allowed.

        An older cluster or another CNI lacks some resource types (404); that is an
        answer, not an error.
        """
        resource = _global_resource(path)
        try:
            with self.answering(f"GET {path}"):
                return [item.to_dict() for item in self.client.list(resource)]
        except WorkloadHttpError as e:
            if e.http_status in (403, 404):
                return None
            raise

    def statefulset(self, name: str) -> dict:
        """Our StatefulSet."""
        from lightkube.resources.apps_v1 import StatefulSet

        with self.answering(f"GET statefulsets/{name}"):
            return self.client.get(StatefulSet, name).to_dict()

    def apply(self, manifest: dict[str, object], name: str) -> None:
        """Server-side apply ``manifest`` to the StatefulSet ``name``."""
        from lightkube.resources.apps_v1 import StatefulSet
        from lightkube.types import PatchType

        with self.answering(f"PATCH statefulsets/{name}"):
            self.client.patch(
                StatefulSet,
                name,
                manifest,
                patch_type=PatchType.APPLY,
                field_manager=FIELD_MANAGER,
                force=True,
            )


_KINDS = {"ippools": "IPPool", "ciliumnodes": "CiliumNode"}
"""Kinds of the custom resources :meth:`KubernetesApi.list_items` is asked for."""


def _global_resource(path: str) -> Any:
    """The lightkube resource class listed at ``path`` (typed where lightkube has one)."""
    from lightkube.resources.core_v1 import Node
    from lightkube.resources.networking_v1 import ServiceCIDR

    typed = {"/api/v1/nodes": Node, "/apis/networking.k8s.io/v1/servicecidrs": ServiceCIDR}
    if path in typed:
        return typed[path]
    from lightkube.generic_resource import create_global_resource

    parts = path.strip("/").split("/")
    group, version, plural = ("", *parts[1:]) if parts[0] == "api" else parts[1:]
    kind = _KINDS.get(plural, plural[:-1].capitalize())
    return create_global_resource(group, version, kind, plural)


def _test_transport(cafile: str | None) -> Any:
    """None (lightkube's own HTTPS), unless a test swapped in a transport for :mod:`.http`.

    Then every request lightkube builds goes through that transport as an
    :class:`~.http.Request` to ``https://host:port/...`` (its port always spelled out), so
    a test's fake network serves the Kubernetes API like any workload's.
    """
    from . import http

    send = http._transport
    if send is http.stdlib_transport:
        return None
    import httpx2

    def handle(request: httpx2.Request) -> httpx2.Response:
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        host = f"[{url.host}]" if ":" in url.host else url.host
        target = url.raw_path.decode()
        headers = {k.decode(): v.decode() for k, v in request.headers.raw}
        body = request.read() or None
        try:
            answer = send(
                http.Request(
                    request.method,
                    f"{url.scheme}://{host}:{port}{target}",
                    headers,
                    body,
                    cafile,
                ),
                TIMEOUT,
            )
        except OSError as e:
            raise httpx2.ConnectError(type(e).__name__, request=request) from None
        return httpx2.Response(answer.status, headers=dict(answer.headers), content=answer.body)

    return httpx2.MockTransport(handle)


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
