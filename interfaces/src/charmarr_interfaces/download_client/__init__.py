"""The ``download-client`` interface: qBittorrent and SABnzbd provide, Radarr/Sonarr require.

The provider publishes its URL, its kind and the ID of the secret with its credentials
(qBittorrent: ``username``, ``password``; SABnzbd: ``api-key``). The requirer publishes
its kind and the category it wants its downloads filed under; the provider creates that
category and removes it when the relation goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import ops

from ..endpoint import Endpoint, InvalidRelationData, lazy_models

if TYPE_CHECKING:
    from .._databag import Category
    from ..secret_ids import OwnedState
    from .models import ClientKind, DownloadClientProviderData, DownloadClientRequirerData

__all__ = [
    "CREDENTIAL_KEYS",
    "INTERFACE",
    "Category",
    "CategoryRequests",
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


@dataclass(frozen=True)
class CategoryRequests:
    """The categories the related apps ask for, and whether that list is the whole truth."""

    categories: frozenset[str]
    invalid: tuple[InvalidRelationData, ...] = ()
    """Related apps whose data cannot be read: their category is unknown this hook."""
    waiting_for: tuple[str, ...] = ()
    """Related apps that have not asked for a category yet."""

    @property
    def complete(self) -> bool:
        """Every live relation's category is known, so unwanted managed ones may go.

        A relation with unreadable data is not gone: while this is False the provider
        deletes nothing.
        """
        return not self.invalid and not self.waiting_for


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

    def category_requests(self) -> CategoryRequests:
        """What every live relation asks for (never raises; bad data is reported, not lost)."""
        categories: set[str] = set()
        invalid: list[InvalidRelationData] = []
        read: set[int] = set()
        for remote in self.read():
            read.add(remote.relation.id)
            if isinstance(remote, InvalidRelationData):
                invalid.append(remote)
            else:
                categories.add(remote.data.category)
        waiting = tuple(
            r.app.name for r in self.relations if r.id not in read and r.app is not None
        )
        return CategoryRequests(frozenset(categories), tuple(invalid), waiting)


class DownloadClientRequirer(Endpoint["DownloadClientProviderData"]):
    """Radarr's or Sonarr's side: reads every related download client."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, f"{__name__}.models:DownloadClientProviderData")


__getattr__ = lazy_models(
    __name__,
    ["Category", "ClientKind", "DownloadClientProviderData", "DownloadClientRequirerData"],
)
