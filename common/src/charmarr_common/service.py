"""How users reach an app's web UI: the ``ingress`` relation, wired alike in every charm.

Prowlarr, Radarr, Sonarr, qBittorrent and SABnzbd each own one :class:`WebIngress`:

- every unit publishes its request on each reconcile (standby units too: traefik-k8s
  publishes no URL until *every* unit's databag is valid), through
  :class:`~charmarr_interfaces.ingress.IngressRequirer`, which writes only what differs;
- :attr:`WebIngress.base_path` is where the app must serve (its ``UrlBase`` or
  ``url_base``): the URL's path for an app that can serve under a prefix, ``""`` for
  one that cannot (qBittorrent, which asks the provider to strip the prefix instead) and
  ``""`` with no relation, no answer yet or an unusable answer: removing the relation
  brings the app back to the root path;
- the Active status names the external URL, and the ``get-url`` action answers with it
  (or with the in-cluster URL when there is none).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import ops

from charmarr_interfaces.ingress import IngressAnswer, IngressRequirer

from .errors import CharmarrError

logger = logging.getLogger(__name__)

GET_URL_ACTION = "get-url"


class WebIngress(ops.Object):
    """One app's ``ingress`` requirer, its base path, status note and ``get-url`` action.

    Args:
        charm: the charm (its metadata declares the ``ingress`` endpoint and the
            ``get-url`` action).
        port: the port the app's Service serves the web UI on.
        internal_url: the in-cluster URL of the web UI (base path included), for
            ``get-url`` when there is no external URL.
        serves_base_path: whether the app serves under a path prefix (the *arr apps,
            SABnzbd); False asks the provider to strip the prefix (qBittorrent).
    """

    def __init__(
        self,
        charm: ops.CharmBase,
        *,
        port: int,
        internal_url: Callable[[], str],
        serves_base_path: bool = True,
    ) -> None:
        super().__init__(charm, "web-ingress")
        self._charm = charm
        self.port = port
        self.serves_base_path = serves_base_path
        self.requirer = IngressRequirer(charm)
        self._internal_url = internal_url
        self._answer: IngressAnswer | None = None
        if GET_URL_ACTION in charm.meta.actions:
            event = getattr(charm.on, f"{GET_URL_ACTION.replace('-', '_')}_action")
            charm.framework.observe(event, self._on_get_url)

    def answer(self) -> IngressAnswer:
        """The provider's answer (read once per hook)."""
        if self._answer is None:
            self._answer = self.requirer.answer()
        return self._answer

    @property
    def base_path(self) -> str:
        """Where the app serves: ``/model-app`` behind path routing, else ``""``."""
        return self.answer().base_path if self.serves_base_path else ""

    @property
    def url(self) -> str | None:
        """The external URL of the web UI, or None.

        An app behind ``strip-prefix`` gets a trailing ``/``: its pages link relative to
        the URL they were loaded from, and ``/media-qbittorrent`` would resolve them one
        level up, outside the route.
        """
        url = self.answer().url
        if url is None or self.serves_base_path:
            return url
        return url if url.endswith("/") else f"{url}/"

    def publish(self) -> None:
        """Publish the request (every unit; the app databag on the leader). Never raises.

        A failed ``relation-set`` (the relation is going away) is logged; the next hook
        publishes again.
        """
        try:
            written = self.requirer.publish(
                port=self.port,
                strip_prefix=not self.serves_base_path,
                port_open=self._charm.unit.is_leader(),
            )
        except ops.ModelError as e:
            logger.warning("could not publish on %s: %s", self.requirer.endpoint, e)
            return
        if written:
            logger.info("published the ingress request (port %s)", self.port)

    def problems(self) -> list[CharmarrError]:
        """A Blocked problem when the provider's answer is unusable (it names the field)."""
        invalid = self.answer().invalid
        return [CharmarrError(invalid.message)] if invalid is not None else []

    def note(self) -> str | None:
        """The Active note naming the external URL, or None without one."""
        url = self.url
        return f"web UI at {url}" if url else None

    def _on_get_url(self, event: ops.ActionEvent) -> None:
        event.set_results({"url": self.url or self._internal_url()})
