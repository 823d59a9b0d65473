"""The ``ingress`` interface (v2): an ingress provider (traefik-k8s) routes to our apps.

Canonical's interface, spoken as traefik-k8s's ``ingress`` library speaks it (see this
package's README): the requirer's leader publishes the app's name, model, port and
whether the provider should strip the path prefix; every unit publishes the host the
provider sends requests to; the provider's leader answers with the external URL.

Only the requirer is implemented. It writes only what differs, so a converged hook calls
no ``relation-set``; reading the answer never raises (:class:`IngressAnswer` says why
there is no URL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import ops

from ..endpoint import InvalidRelationData, lazy_models

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .models import (
        IngressProviderAppData,
        IngressRequirerAppData,
        IngressRequirerUnitData,
        IngressUrl,
        Scheme,
    )

__all__ = [
    "INTERFACE",
    "IngressAnswer",
    "IngressProviderAppData",
    "IngressRequirer",
    "IngressRequirerAppData",
    "IngressRequirerUnitData",
    "IngressUrl",
    "Scheme",
    "service_host",
]

INTERFACE = "ingress"


def service_host(charm: ops.CharmBase) -> str:
    """The in-cluster name of the app's Kubernetes Service: the default ``host``.

    The Service sends traffic only to ready pods, and a Charmarr standby unit's pod is
    never ready; a unit's own name (the library's default, ``socket.getfqdn()``) would let
    the provider send requests to a standby whose workload is stopped.
    """
    return f"{charm.app.name}.{charm.model.name}.svc.cluster.local"


@dataclass(frozen=True)
class IngressAnswer:
    """The external URL the provider gave, or why there is none."""

    url: str | None
    """The URL as published (no trailing slash added or removed), or None."""
    reason: str = ""
    """Why ``url`` is None: no relation, no answer yet, or the invalid data's message."""
    invalid: InvalidRelationData | None = None
    """Set when the provider published something unusable (a status should name it)."""

    @property
    def base_path(self) -> str:
        """The URL's path without a trailing slash (``/media-radarr``), or ``""`` at the root.

        The app must serve under it (``UrlBase``, ``url_base``) unless the provider strips
        it; subdomain routing gives ``""``.
        """
        if self.url is None:
            return ""
        return urlsplit(self.url).path.rstrip("/")


class IngressRequirer:
    """Our side of ``ingress`` (limit 1): publish the request, read the URL.

    Args:
        charm: the charm that owns the endpoint.
        endpoint: the endpoint name in ``charmcraft.yaml``.
    """

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE) -> None:
        self._charm = charm
        self.endpoint = endpoint

    @property
    def relation(self) -> ops.Relation | None:
        """The live ingress relation (one at most); a relation being broken counts as gone."""
        live = [r for r in self._charm.model.relations[self.endpoint] if r.active]
        return live[0] if live else None

    def publish(
        self,
        *,
        port: int,
        strip_prefix: bool = False,
        redirect_https: bool = False,
        scheme: Scheme = "http",
        port_open: bool = False,
        host: str | None = None,
        ip: str | None = None,
    ) -> bool:
        """Publish the request: the app databag (leader only) and this unit's databag.

        Args:
            port: the port the app serves on (the Service's port).
            strip_prefix: whether the provider removes the path prefix before forwarding
                (for an app that cannot serve under a base path).
            redirect_https: sent as the library sends it (traefik-k8s ignores it today).
            scheme: how the provider reaches the app.
            port_open: whether the charm opened ``port`` (``is_port_open``); the caller
                knows, and asking Juju would cost an ``opened-ports`` call every hook.
            host: where the provider sends requests; default :func:`service_host`.
            ip: this unit's address, if known (traefik-k8s does not use it).

        Returns:
            True if a databag was written; False with nothing to do (no relation, or
            every key already as wanted: a converged hook calls no ``relation-set``).

        Raises:
            pydantic.ValidationError: a bad argument (a bug in the calling charm).
        """
        relation = self.relation
        if relation is None:
            return False
        from .models import IngressRequirerAppData, IngressRequirerUnitData, databag_keys, encode

        written = False
        if self._charm.unit.is_leader():
            app = IngressRequirerAppData(
                model=self._charm.model.name,
                name=self._charm.app.name,
                port=port,
                strip_prefix=strip_prefix,
                redirect_https=redirect_https,
                scheme=scheme,
                is_port_open=port_open,
            )
            written |= _update(
                relation.data[self._charm.app], encode(app), databag_keys(type(app))
            )
        unit = IngressRequirerUnitData(host=host or service_host(self._charm), ip=ip)
        written |= _update(relation.data[self._charm.unit], encode(unit), databag_keys(type(unit)))
        return written

    def answer(self) -> IngressAnswer:
        """The provider's URL, or why there is none; never raises on the provider's data."""
        relation = self.relation
        if relation is None or relation.app is None:
            return IngressAnswer(None, f"no {self.endpoint} relation")
        try:
            raw = dict(relation.data[relation.app])
        except ops.ModelError:
            return IngressAnswer(None, f"cannot read {relation.app.name}'s {self.endpoint} data")
        from .models import parse_provider_app_data

        parsed = parse_provider_app_data(raw)
        if parsed is None:
            return IngressAnswer(None, f"waiting for {relation.app.name} to publish the URL")
        if isinstance(parsed, tuple):
            invalid = InvalidRelationData(relation, *parsed)
            return IngressAnswer(None, invalid.message, invalid)
        return IngressAnswer(parsed.url)


def _update(bag: ops.RelationDataContent, wanted: Mapping[str, str], owned: set[str]) -> bool:
    """Write the keys that differ and remove owned keys no longer wanted.

    Juju's own keys in a unit databag (``ingress-address``...) are never touched.
    """
    current = dict(bag)
    changes = {k: v for k, v in wanted.items() if current.get(k) != v}
    changes.update({k: "" for k in owned & current.keys() if k not in wanted})
    if changes:
        bag.update(changes)
    return bool(changes)


__getattr__ = lazy_models(
    __name__,
    [
        "IngressProviderAppData",
        "IngressRequirerAppData",
        "IngressRequirerUnitData",
        "IngressUrl",
        "Scheme",
    ],
)
