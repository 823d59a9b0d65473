"""The ``media-server`` interface: Plex provides; Radarr and Sonarr require.

Plex publishes its URL and the ID of the secret holding its server token (``token``),
which the requirers use for a "Plex Media Server" notification that refreshes the
library on import. The requirer publishes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ops

from ..endpoint import Endpoint, lazy_models

if TYPE_CHECKING:
    from .._databag import AppData  # noqa: F401 (quoted uses)
    from .models import MediaServerProviderData

__all__ = [
    "INTERFACE",
    "TOKEN",
    "MediaServerProvider",
    "MediaServerProviderData",
    "MediaServerRequirer",
]


INTERFACE = "media-server"
TOKEN = "token"


class MediaServerProvider(Endpoint["AppData"]):
    """Plex's side."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, None)


class MediaServerRequirer(Endpoint["MediaServerProviderData"]):
    """Radarr's or Sonarr's side: reads every related Plex."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, f"{__name__}.models:MediaServerProviderData")


__getattr__ = lazy_models(__name__, ["MediaServerProviderData"])
