"""The ``download-client`` databags (pydantic; imported only when a hook reads or writes one)."""

from __future__ import annotations

from typing import Literal

from .._databag import AppData, Category, HttpUrl, SecretId

__all__ = ["Category", "ClientKind", "DownloadClientProviderData", "DownloadClientRequirerData"]

ClientKind = Literal["qbittorrent", "sabnzbd"]
"""The download clients Radarr and Sonarr can be given."""


class DownloadClientProviderData(AppData):
    """What qBittorrent or SABnzbd publishes."""

    url: HttpUrl
    kind: ClientKind
    credentials_secret_id: SecretId


class DownloadClientRequirerData(AppData):
    """What Radarr or Sonarr publishes."""

    kind: Literal["radarr", "sonarr"]
    category: Category
