"""The ``media-indexer`` databags (pydantic; imported only when a hook reads or writes one)."""

from __future__ import annotations

from typing import Literal

from .._databag import AppData, HttpUrl, SecretId

ArrKind = Literal["radarr", "sonarr"]
"""The applications Prowlarr can register."""


class IndexerProviderData(AppData):
    """What Prowlarr publishes."""

    url: HttpUrl
    api_key_secret_id: SecretId


class IndexerRequirerData(AppData):
    """What Radarr or Sonarr publishes."""

    url: HttpUrl
    kind: ArrKind
    api_key_secret_id: SecretId
