"""The ``media-indexer`` interface: Prowlarr provides, Radarr and Sonarr require (limit 1).

Each side grants the secret holding its own API key to the relation and publishes its
URL and that secret's ID, so Prowlarr can register the requirer as an application and
the requirer can check that Prowlarr lists it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ops

from ..endpoint import Endpoint, lazy_models

if TYPE_CHECKING:
    from .models import ArrKind, IndexerProviderData, IndexerRequirerData

__all__ = [
    "API_KEY",
    "INTERFACE",
    "ArrKind",
    "IndexerProviderData",
    "IndexerRequirerData",
    "MediaIndexerProvider",
    "MediaIndexerRequirer",
]


INTERFACE = "media-indexer"
API_KEY = "api-key"
"""The content key of every secret shared on this interface."""


class MediaIndexerProvider(Endpoint["IndexerRequirerData"]):
    """Prowlarr's side: reads every related *arr app."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, f"{__name__}.models:IndexerRequirerData")


class MediaIndexerRequirer(Endpoint["IndexerProviderData"]):
    """Radarr's or Sonarr's side: reads the one related Prowlarr."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, f"{__name__}.models:IndexerProviderData")


__getattr__ = lazy_models(__name__, ["ArrKind", "IndexerProviderData", "IndexerRequirerData"])
