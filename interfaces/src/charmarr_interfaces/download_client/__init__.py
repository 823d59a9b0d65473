"""The ``download-client`` interface: qBittorrent and SABnzbd provide, Radarr/Sonarr require.

The provider publishes its URL, its kind and the ID of the secret with its credentials
(qBittorrent: ``username``, ``password``; SABnzbd: ``api-key``). The requirer publishes
its kind and the category it wants its downloads filed under; the provider creates that
category and removes it when the relation goes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ops

from ..endpoint import Endpoint, lazy_models

if TYPE_CHECKING:
    from .._databag import Category
    from ..secret_ids import OwnedState
    from .models import ClientKind, DownloadClientProviderData, DownloadClientRequirerData

__all__ = [
    "CREDENTIAL_KEYS",
    "INTERFACE",
    "Category",
    "ClientKind",
    "DownloadClientProvider",
    "DownloadClientProviderData",
    "DownloadClientRequirer",
    "DownloadClientRequirerData",
]


INTERFACE = "download-client"

CREDENTIAL_KEYS: dict[str, tuple[str, ...]] = {
    "qbittorrent": ("username", "password"),
    "sabnzbd": ("api-key",),
}
"""The content keys of the credentials secret, by client kind."""


class DownloadClientProvider(Endpoint["DownloadClientRequirerData"]):
    """The download client's side: reads every related *arr app's category."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, f"{__name__}.models:DownloadClientRequirerData")

    def publish_credentials(self, credentials: OwnedState, *, url: str, kind: ClientKind) -> None:
        """Grant the credentials secret to every relation and publish URL, kind and its ID.

        Leader only (a non-leader knows no secret ID and writes nothing).
        """
        from .models import DownloadClientProviderData

        for relation in self.relations:
            self.publish_secret_id(
                relation,
                "credentials_secret_id",
                credentials,
                lambda secret_id: DownloadClientProviderData(
                    url=url, kind=kind, credentials_secret_id=secret_id
                ),
            )


class DownloadClientRequirer(Endpoint["DownloadClientProviderData"]):
    """Radarr's or Sonarr's side: reads every related download client."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, f"{__name__}.models:DownloadClientProviderData")


__getattr__ = lazy_models(
    __name__,
    ["Category", "ClientKind", "DownloadClientProviderData", "DownloadClientRequirerData"],
)
