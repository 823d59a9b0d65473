"""The ``media-server`` interface: Plex provides; Radarr and Sonarr require.

Plex publishes its URL and the ID of the secret holding its server token (``token``),
which the requirers use for a "Plex Media Server" notification that refreshes the
library on import. The requirer publishes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ops

from .relation import Endpoint

if TYPE_CHECKING:
    from .databags import AppData, MediaServerProviderData  # noqa: F401 (quoted uses)


INTERFACE = "media-server"
TOKEN = "token"


class MediaServerProvider(Endpoint["AppData"]):
    """Plex's side."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, None)


class MediaServerRequirer(Endpoint["MediaServerProviderData"]):
    """Radarr's or Sonarr's side: reads every related Plex."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, "MediaServerProviderData")


_MODELS = frozenset({"MediaServerProviderData"})


def __getattr__(name: str) -> Any:
    # The databag models live in .databags, imported on first use (pydantic is costly).
    if name in _MODELS:
        from . import databags

        return getattr(databags, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
