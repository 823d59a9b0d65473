"""The ``download-client`` interface: qBittorrent and SABnzbd provide, Radarr/Sonarr require.

The provider publishes its URL, its kind and the ID of the secret with its credentials
(qBittorrent: ``username``, ``password``; SABnzbd: ``api-key``). The requirer publishes
its kind and the category it wants its downloads filed under; the provider creates that
category and removes it when the relation goes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import ops

from .relation import Endpoint
from .secrets import OwnedState, grant_and_publish_id

if TYPE_CHECKING:
    from .databags import DownloadClientProviderData, DownloadClientRequirerData  # noqa: F401 (quoted uses)


INTERFACE = "download-client"

ClientKind = Literal["qbittorrent", "sabnzbd"]

CREDENTIAL_KEYS: dict[str, tuple[str, ...]] = {
    "qbittorrent": ("username", "password"),
    "sabnzbd": ("api-key",),
}
"""The content keys of the credentials secret, by client kind."""


class DownloadClientProvider(Endpoint["DownloadClientRequirerData"]):
    """The download client's side: reads every related *arr app's category."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, "DownloadClientRequirerData")

    def publish_credentials(self, credentials: OwnedState, *, url: str, kind: ClientKind) -> None:
        """Grant the credentials secret to every relation and publish URL, kind and its ID.

        Leader only (a non-leader knows no secret ID and writes nothing).
        """
        from .databags import DownloadClientProviderData

        for relation in self.relations:
            published = self.published_value(relation, "credentials_secret_id")
            secret_id = grant_and_publish_id(credentials, relation, published)
            if secret_id is not None:
                data = DownloadClientProviderData(
                    url=url, kind=kind, credentials_secret_id=secret_id
                )
                self.publish(relation, data)


class DownloadClientRequirer(Endpoint["DownloadClientProviderData"]):
    """Radarr's or Sonarr's side: reads every related download client."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, "DownloadClientProviderData")


_MODELS = frozenset({"DownloadClientProviderData", "DownloadClientRequirerData", "Category"})


def __getattr__(name: str) -> Any:
    # The databag models live in .databags, imported on first use (pydantic is costly).
    if name in _MODELS:
        from . import databags

        return getattr(databags, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
