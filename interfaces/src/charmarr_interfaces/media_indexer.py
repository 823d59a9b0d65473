"""The ``media-indexer`` interface: Prowlarr provides, Radarr and Sonarr require (limit 1).

Each side grants the secret holding its own API key to the relation and publishes its
URL and that secret's ID, so Prowlarr can register the requirer as an application and
the requirer can check that Prowlarr lists it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import ops

from .relation import Endpoint

if TYPE_CHECKING:
    from .databags import IndexerProviderData, IndexerRequirerData  # noqa: F401 (quoted uses)


INTERFACE = "media-indexer"
API_KEY = "api-key"
"""The content key of every secret shared on this interface."""

ArrKind = Literal["radarr", "sonarr"]


class MediaIndexerProvider(Endpoint["IndexerRequirerData"]):
    """Prowlarr's side: reads every related *arr app."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, "IndexerRequirerData")


class MediaIndexerRequirer(Endpoint["IndexerProviderData"]):
    """Radarr's or Sonarr's side: reads the one related Prowlarr."""

    def __init__(self, charm: ops.CharmBase, endpoint: str = INTERFACE):
        super().__init__(charm, endpoint, "IndexerProviderData")


_MODELS = frozenset({"IndexerProviderData", "IndexerRequirerData"})


def __getattr__(name: str) -> Any:
    # The databag models live in .databags, imported on first use (pydantic is costly).
    if name in _MODELS:
        from . import databags

        return getattr(databags, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
