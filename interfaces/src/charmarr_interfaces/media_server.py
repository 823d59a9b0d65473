"""The ``media-server`` interface: Plex provides; Radarr and Sonarr require.

Plex publishes its URL and the ID of the secret holding its server token (``token``),
which the requirers use for a "Plex Media Server" notification that refreshes the
library on import. The requirer publishes nothing.
"""

from __future__ import annotations

import ops

from .relation import AppData, Endpoint, HttpUrl, SecretId

INTERFACE = "media-server"
TOKEN = "token"


class MediaServerProviderData(AppData):
    """What Plex publishes."""

    url: HttpUrl
    token_secret_id: SecretId


class MediaServerProvider(Endpoint[AppData]):
    """Plex's side."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, None)


class MediaServerRequirer(Endpoint[MediaServerProviderData]):
    """Radarr's or Sonarr's side: reads every related Plex."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, MediaServerProviderData)
