"""Plex for clients outside the cluster: a Service on request, advertised to Plex.

A path prefix is impossible for Plex (its clients and plex.tv address the server at the
root), so the web ingress is not for it. Instead:

- ``remote-access=nodeport`` or ``loadbalancer``: the leader manages the Service
  ``<app>-remote`` of that type on port 32400, selecting the app's pods (the label Juju
  gives them), owned by the app's StatefulSet so that removing the app removes it;
  ``none`` deletes it. Nothing is asked of Kubernetes while ``none`` stays ``none``.
- The URLs Plex advertises are ``advertise-urls`` (what the user knows: a host name and
  port forwarded to a node port, a reverse proxy) plus the LoadBalancer's address once
  the cloud assigned one. Plex hands them to its clients through plex.tv as its custom
  server access URLs: the ``customConnections`` setting in Preferences.xml, which
  pms-docker's first-run script fills from ``ADVERTISE_IP`` (root/etc/cont-init.d/
  40-plex-first-run). A NodePort has no address of its own: the user gives one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from charmarr_common.errors import CharmarrError, InvalidConfigError, WaitingError
from charmarr_common.http import WorkloadHttpError
from charmarr_common.k8s import KubernetesApi
from charmarr_common.network_policy import APP_LABEL, MANAGED_BY_LABEL, MANAGER, POD_LABEL
from charmarr_interfaces.urls import HTTP_SCHEMES, url_problem

from .api import PORT

logger = logging.getLogger(__name__)

REMOTE_ACCESS = "remote-access"
ADVERTISE_URLS = "advertise-urls"
CUSTOM_CONNECTIONS = "customConnections"
MODES = {"none": None, "nodeport": "NodePort", "loadbalancer": "LoadBalancer"}
"""``remote-access`` value -> Service type (None: no Service)."""


def service_name(app: str) -> str:
    """The Service the charm manages for remote clients."""
    return f"{app}-remote"


def parse_mode(value: object) -> str:
    """``remote-access`` checked.

    Raises:
        InvalidConfigError: naming the option and the accepted values.
    """
    if isinstance(value, str) and value in MODES:
        return value
    shown = str(value)[:32]
    raise InvalidConfigError(f"invalid {REMOTE_ACCESS} {shown!r}: use one of {', '.join(MODES)}")


def parse_urls(value: object) -> list[str]:
    """``advertise-urls`` as a list (comma-separated http(s) URLs; empty allowed).

    Raises:
        InvalidConfigError: naming the first unusable URL and why.
    """
    urls = [u.strip() for u in str(value or "").split(",") if u.strip()]
    for url in urls:
        problem = url_problem(url, HTTP_SCHEMES)
        if problem:
            raise InvalidConfigError(
                f"invalid advertise-urls {url[:64]!r}: {problem}; use comma-separated "
                f"http(s) URLs such as http://plex.example.com:{PORT}"
            )
    return urls


@dataclass(frozen=True)
class Reach:
    """What the Service gives: a LoadBalancer URL, or the node port to forward."""

    url: str | None = None
    node_port: int | None = None


def manifest(app: str, namespace: str, kind: str, owner_uid: str) -> dict[str, Any]:
    """The Service ``<app>-remote``: Plex's port on every pod of the app."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": service_name(app),
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGER, APP_LABEL: app},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": app, "uid": owner_uid}
            ],
        },
        "spec": {
            "type": kind,
            "selector": {POD_LABEL: app},
            "ports": [{"name": "plex", "protocol": "TCP", "port": PORT, "targetPort": PORT}],
        },
    }


def _ours(live: dict[str, Any], app: str) -> bool:
    labels = live.get("metadata", {}).get("labels") or {}
    return labels.get(MANAGED_BY_LABEL) == MANAGER and labels.get(APP_LABEL) == app


def _differs(live: dict[str, Any], wanted: dict[str, Any]) -> bool:
    spec, want = live.get("spec", {}), wanted["spec"]
    ports = [
        {k: p.get(k) for k in ("name", "protocol", "port", "targetPort")}
        for p in spec.get("ports") or []
    ]
    return (spec.get("type"), spec.get("selector"), ports) != (
        want["type"],
        want["selector"],
        want["ports"],
    )


def reach_of(live: dict[str, Any]) -> Reach:
    """The address the cloud gave a LoadBalancer, or a NodePort's port."""
    spec = live.get("spec", {})
    if spec.get("type") == "LoadBalancer":
        for entry in (live.get("status") or {}).get("loadBalancer", {}).get("ingress") or []:
            host = entry.get("ip") or entry.get("hostname")
            if host:
                host = f"[{host}]" if ":" in host else host
                return Reach(url=f"http://{host}:{PORT}")
        return Reach()
    ports = spec.get("ports") or []
    return Reach(node_port=ports[0].get("nodePort") if ports else None)


def ensure_service(api: KubernetesApi, app: str, mode: str) -> Reach | None:
    """Make ``<app>-remote`` match ``mode``; return what it gives (None: no Service).

    Raises:
        CharmarrError: no permission (naming ``juju trust``), or the name is taken by a
            Service Charmarr does not manage.
        WaitingError: the API did not answer.
    """
    from lightkube.resources.core_v1 import Service

    name = service_name(app)
    kind = MODES[mode]
    try:
        live = _get(api, name)
        if live is not None and not _ours(live, app):
            raise CharmarrError(
                f"Service {name} in namespace {api.namespace} is not managed by charmarr: "
                f"remove it (kubectl -n {api.namespace} delete service {name}) so {app} "
                f"can manage its {REMOTE_ACCESS}"
            )
        if kind is None:
            if live is not None:
                with api.answering(f"DELETE services/{name}"):
                    api.client.delete(Service, name)
                logger.info("deleted Service %s (remote-access none)", name)
            return None
        uid = api.statefulset(app)["metadata"]["uid"]
        wanted = manifest(app, api.namespace, kind, uid)
        if live is None:
            with api.answering(f"POST services/{name}"):
                live = api.client.create(Service.from_dict(wanted)).to_dict()
            logger.info("created Service %s (%s)", name, kind)
        elif _differs(live, wanted):
            # Kubernetes keeps a Service's cluster IP; a node port is kept while still wanted.
            spec = wanted["spec"]
            for key in ("clusterIP", "clusterIPs"):
                if key in live.get("spec", {}):
                    spec[key] = live["spec"][key]
            old = (live.get("spec", {}).get("ports") or [{}])[0].get("nodePort")
            if old and kind in ("NodePort", "LoadBalancer"):
                spec["ports"][0]["nodePort"] = old
            wanted["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
            with api.answering(f"PUT services/{name}"):
                live = api.client.replace(Service.from_dict(wanted)).to_dict()
            logger.info("replaced Service %s (%s)", name, kind)
    except WorkloadHttpError as e:
        if e.http_status in (401, 403):
            raise CharmarrError(
                f"no permission to manage Service {name}: juju trust {app} --scope=cluster"
            ) from None
        if e.http_status in (409, None) or (e.http_status or 0) >= 500:
            raise WaitingError(f"Kubernetes API: {e.message}; will retry") from None
        raise
    return reach_of(live)


def _get(api: KubernetesApi, name: str) -> dict[str, Any] | None:
    from lightkube.resources.core_v1 import Service

    try:
        with api.answering(f"GET services/{name}"):
            return api.client.get(Service, name).to_dict()
    except WorkloadHttpError as e:
        if e.http_status == 404:
            return None
        raise


def advertised(urls: list[str], reach: Reach | None) -> str:
    """``customConnections``: the user's URLs, then the LoadBalancer's, comma-separated."""
    found = [*urls, *([reach.url] if reach is not None and reach.url else [])]
    return ",".join(dict.fromkeys(found))
