"""The ``media-indexer`` interface: Prowlarr provides, Radarr and Sonarr require (limit 1).

Each side grants the secret holding its own API key to the relation and publishes its
URL and that secret's ID, so Prowlarr can register the requirer as an application and
the requirer can check that Prowlarr lists it.
"""

from __future__ import annotations

from typing import Literal

import ops

from .relation import AppData, Endpoint, HttpUrl, SecretId

INTERFACE = "media-indexer"
API_KEY = "api-key"
"""The content key of every secret shared on this interface."""

ArrKind = Literal["radarr", "sonarr"]


class IndexerProviderData(AppData):
    """What Prowlarr publishes."""

    url: HttpUrl
    api_key_secret_id: SecretId


class IndexerRequirerData(AppData):
    """What Radarr or Sonarr publishes."""

    url: HttpUrl
    kind: ArrKind
    api_key_secret_id: SecretId


class MediaIndexerProvider(Endpoint[IndexerRequirerData]):
    """Prowlarr's side: reads every related *arr app."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, IndexerRequirerData)


class MediaIndexerRequirer(Endpoint[IndexerProviderData]):
    """Radarr's or Sonarr's side: reads the one related Prowlarr."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, IndexerProviderData)
