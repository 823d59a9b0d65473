"""The provider's side of ``ingress`` v2: a relation builder and a fake traefik-k8s.

:func:`ingress_from_traefik` builds the ``ops.testing`` relation a requirer sees once
traefik-k8s answered (or before, or with any raw databag). :class:`FakeIngress` plays
traefik-k8s for the whole-stack test: from the requirer's databags it computes the URL
traefik-k8s would publish, and it routes HTTP requests at that URL to the app's
in-cluster address on a :class:`~.fakes.FakeNetwork`, stripping the prefix when asked.
Each behaviour cites the traefik-k8s or Traefik file it mirrors.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urlsplit

import pydantic
from ops import testing

from charmarr_common.http import Request, Response
from charmarr_interfaces import ingress
from charmarr_interfaces.ingress.models import (
    IngressRequirerAppData,
    IngressRequirerUnitData,
    databag_keys,
)

from .apps import FakeApp, text_response
from .builders import Remote
from .fakes import FakeNetwork

EXTERNAL_HOST = "ingress.charmarr.test"
"""The fake's ``external_hostname`` (a name no real resolver answers)."""

RoutingMode = Literal["path", "subdomain"]


def provider_app_data(url: str | None) -> dict[str, str]:
    """traefik-k8s's leader databag: ``ingress`` holding ``{"url": ...}``; empty before."""
    # mirrors traefik-k8s lib/charms/traefik_k8s/v2/ingress.py IngressPerAppProvider.publish_url
    return {} if url is None else {"ingress": json.dumps({"url": url})}


def ingress_from_traefik(
    *,
    url: str | None = "http://ingress.charmarr.test/media-app",
    raw: Mapping[str, str] | None = None,
    remote_app: str = "traefik",
    remote_units: int = 1,
    relation_id: int | None = None,
    endpoint: str = ingress.INTERFACE,
) -> Remote:
    """traefik-k8s's side of ``ingress``, for testing a requirer.

    Args:
        url: the URL traefik published (None: it has not answered yet). Pass the one
            :func:`traefik_url` gives for the app under test.
        raw: the remote app databag verbatim instead (adversarial data).
        remote_app: the provider's application name.
        remote_units: how many provider units are related.
        relation_id: a fixed relation ID.
        endpoint: the requirer's endpoint name.
    """
    kwargs: dict[str, object] = {
        "endpoint": endpoint,
        "interface": ingress.INTERFACE,
        "remote_app_name": remote_app,
        "remote_app_data": dict(raw) if raw is not None else provider_app_data(url),
        "remote_units_data": {i: {} for i in range(remote_units)},
    }
    if relation_id is not None:
        kwargs["id"] = relation_id
    return Remote(testing.Relation(**kwargs))  # type: ignore[arg-type]


def traefik_url(
    model: str,
    app: str,
    *,
    external_host: str = EXTERNAL_HOST,
    routing_mode: RoutingMode = "path",
    tls: bool = False,
) -> str:
    """The URL traefik-k8s publishes for ``app`` in ``model``.

    Path routing: ``http://<external-host>/<model>-<app>`` (no trailing slash); subdomain
    routing: ``http://<model>-<app>.<external-host>/``; ``https`` once traefik has TLS.
    """
    # mirrors traefik-k8s src/charm.py _get_prefix and _get_ingressed_app_url
    prefix = f"{model}-{app.replace('/', '-')}"
    scheme = "https" if tls else "http"
    if routing_mode == "path":
        return f"{scheme}://{external_host}/{prefix}"
    return f"{scheme}://{prefix}.{external_host}/"


@dataclass
class Route:
    """One requirer's route: where its requests go and whether the prefix is stripped."""

    prefix: str
    servers: list[str]
    """Backend base URLs, ``<scheme>://<host>:<port>`` per requirer unit, sorted."""
    strip_prefix: bool
    url: str
    turn: itertools.count = field(default_factory=itertools.count)


class FakeIngress(FakeApp):
    """traefik-k8s with ``external_hostname`` set, serving on ``<external-host>:80``.

    Args:
        network: the network it serves on (and forwards to).
        external_host: traefik-k8s's ``external_hostname`` config.
        routing_mode: traefik-k8s's ``routing_mode`` config.
        tls: whether traefik terminates TLS (URLs become ``https``, served on port 443).
        client_ip: the browser's address, as Traefik reports it in ``X-Forwarded-For``.
    """

    def __init__(
        self,
        network: FakeNetwork,
        *,
        external_host: str = EXTERNAL_HOST,
        routing_mode: RoutingMode = "path",
        tls: bool = False,
        client_ip: str = "192.168.1.20",
    ) -> None:
        super().__init__()
        self.client_ip = client_ip
        self.network = network
        self.external_host = external_host
        self.routing_mode: RoutingMode = routing_mode
        self.tls = tls
        self.routes: dict[str, Route] = {}
        if routing_mode == "path":
            network.add(self._address(external_host), self)

    def _address(self, host: str) -> str:
        return f"{host}:{443 if self.tls else 80}"

    def answer(
        self, app_data: Mapping[str, str], units_data: Iterable[Mapping[str, str]]
    ) -> dict[str, str]:
        """The provider's app databag for one requirer, as traefik-k8s's leader writes it.

        Valid requirer data (the app databag and *every* unit's) makes a route and
        publishes its URL; anything invalid or missing publishes nothing, because
        traefik-k8s wipes ``ingress`` first, then logs the validation error and skips.
        """
        # mirrors traefik-k8s src/charm.py _provide_ingress (wipe) and _get_configs_per_app
        try:
            app = IngressRequirerAppData.model_validate(_decoded(app_data, app=True))
            units = [
                IngressRequirerUnitData.model_validate(_decoded(bag, app=False))
                for bag in units_data
            ]
        except (pydantic.ValidationError, ValueError, RecursionError):
            return {}
        prefix = f"{app.model}-{app.name.replace('/', '-')}"
        url = traefik_url(
            app.model,
            app.name,
            external_host=self.external_host,
            routing_mode=self.routing_mode,
            tls=self.tls,
        )
        scheme = "http" if app.scheme == "h2c" else app.scheme
        # mirrors traefik-k8s src/traefik.py get_per_app_http_config (one server per unit host)
        servers = sorted(f"{scheme}://{unit.host}:{app.port}" for unit in units)
        old = self.routes.get(prefix)
        route = Route(prefix, servers, app.strip_prefix, url)
        self.routes[prefix] = replace(route, turn=old.turn) if old else route
        if self.routing_mode == "subdomain":
            self.network.add(self._address(urlsplit(url).hostname or ""), self)
        return provider_app_data(url)

    def withdraw(self, model: str, app: str) -> None:
        """The relation is gone: traefik-k8s deletes the route's dynamic config."""
        route = self.routes.pop(f"{model}-{app.replace('/', '-')}", None)
        if route is not None and self.routing_mode == "subdomain":
            self.network.remove(self._address(urlsplit(route.url).hostname or ""))

    def handle(self, request: Request) -> Response:
        """Route ``request`` to the matching app, as Traefik's router and proxy would."""
        parts = urlsplit(request.url)
        route = self._match(parts.hostname or "", parts.path or "/")
        if route is None:
            # Traefik's answer when no router matches
            return text_response("404 page not found\n", 404)
        if not route.servers:
            return text_response("no available server", 503)
        path = parts.path or "/"
        headers = dict(request.headers)
        if route.strip_prefix and self.routing_mode == "path":
            # mirrors Traefik pkg/middlewares/stripprefix/strip_prefix.go (v2.11): the prefix
            # goes, a leading slash is ensured, and X-Forwarded-Prefix names what went;
            # an empty path reaches the backend as "/" (Go's URL.RequestURI).
            path = path.removeprefix(f"/{route.prefix}")
            path = path if path.startswith("/") else f"/{path}"
            headers["X-Forwarded-Prefix"] = f"/{route.prefix}"
        # Traefik's loadBalancer passes the client's Host header (passHostHeader defaults to
        # true) and adds the X-Forwarded-* headers (pkg/middlewares/forwardedheaders).
        host = request.headers.get("Host") or parts.netloc
        headers.setdefault("Host", host)
        headers["X-Forwarded-Host"] = host
        headers["X-Forwarded-Proto"] = parts.scheme
        headers["X-Forwarded-Port"] = str(parts.port or (443 if parts.scheme == "https" else 80))
        headers["X-Forwarded-Server"] = "traefik-0"
        headers["X-Forwarded-For"] = self.client_ip
        headers["X-Real-Ip"] = self.client_ip
        server = route.servers[next(route.turn) % len(route.servers)]
        target = f"{server}{path}" + (f"?{parts.query}" if parts.query else "")
        forwarded = Request(request.method, target, headers, request.body)
        try:
            return self.network(forwarded, 30.0)
        except OSError:
            # Traefik answers 502 when the backend does not (connection refused, reset)
            return text_response("Bad Gateway", 502)

    def _match(self, host: str, path: str) -> Route | None:
        if self.routing_mode == "subdomain":
            # mirrors traefik-k8s src/traefik.py _generate_config_block: Host(`<prefix>.<host>`)
            for route in self.routes.values():
                if host == urlsplit(route.url).hostname:
                    return route
            return None
        # PathPrefix(`/<prefix>`) is a plain string prefix; Traefik ranks routers by rule
        # length, so the longest matching prefix wins.
        matches = [r for r in self.routes.values() if path.startswith(f"/{r.prefix}")]
        return max(matches, key=lambda r: len(r.prefix), default=None)

    def url_of(self, model: str, app: str) -> str | None:
        """The URL published for ``app`` (None while it has no route)."""
        route = self.routes.get(f"{model}-{app.replace('/', '-')}")
        return route.url if route else None


def _decoded(bag: Mapping[str, str], *, app: bool) -> dict[str, object]:
    """A requirer databag decoded as traefik-k8s's ``DatabagModel.load`` does."""
    model = IngressRequirerAppData if app else IngressRequirerUnitData
    keys = databag_keys(model)
    # mirrors traefik-k8s lib/charms/traefik_k8s/v2/ingress.py DatabagModel.load: only the
    # model's keys are decoded, each as JSON; bad JSON fails the whole databag.
    return {k: json.loads(v) for k, v in bag.items() if k in keys}
