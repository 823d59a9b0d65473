"""The ``download-client`` interface: qBittorrent and SABnzbd provide, Radarr/Sonarr require.

The provider publishes its URL, its kind and the ID of the secret with its credentials
(qBittorrent: ``username``, ``password``; SABnzbd: ``api-key``). The requirer publishes
its kind and the category it wants its downloads filed under; the provider creates that
category and removes it when the relation goes.
"""

from __future__ import annotations

from typing import Annotated, Literal

import ops
import pydantic

from .relation import AppData, Endpoint, HttpUrl, SecretId
from .secrets import OwnedState, grant_and_publish_id

INTERFACE = "download-client"

ClientKind = Literal["qbittorrent", "sabnzbd"]

CREDENTIAL_KEYS: dict[str, tuple[str, ...]] = {
    "qbittorrent": ("username", "password"),
    "sabnzbd": ("api-key",),
}
"""The content keys of the credentials secret, by client kind."""

Category = Annotated[str, pydantic.StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
"""A category name: lowercase letters, digits and dashes (safe as a directory name)."""


class DownloadClientProviderData(AppData):
    """What qBittorrent or SABnzbd publishes."""

    url: HttpUrl
    kind: ClientKind
    credentials_secret_id: SecretId


class DownloadClientRequirerData(AppData):
    """What Radarr or Sonarr publishes."""

    kind: Literal["radarr", "sonarr"]
    category: Category


class DownloadClientProvider(Endpoint[DownloadClientRequirerData]):
    """The download client's side: reads every related *arr app's category."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, DownloadClientRequirerData)

    def publish_credentials(self, credentials: OwnedState, *, url: str, kind: ClientKind) -> None:
        """Grant the credentials secret to every relation and publish URL, kind and its ID.

        Leader only (a non-leader knows no secret ID and writes nothing).
        """
        for relation in self.relations:
            published = self.published_value(relation, "credentials_secret_id")
            secret_id = grant_and_publish_id(credentials, relation, published)
            if secret_id is not None:
                data = DownloadClientProviderData(
                    url=url, kind=kind, credentials_secret_id=secret_id
                )
                self.publish(relation, data)


class DownloadClientRequirer(Endpoint[DownloadClientProviderData]):
    """Radarr's or Sonarr's side: reads every related download client."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, DownloadClientProviderData)
