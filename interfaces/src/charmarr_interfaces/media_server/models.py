"""The ``media-server`` databag (pydantic; imported only when a hook reads or writes one)."""

from __future__ import annotations

from .._databag import AppData, HttpUrl, SecretId


class MediaServerProviderData(AppData):
    """What Plex publishes."""

    url: HttpUrl
    token_secret_id: SecretId
