"""The pydantic models of every Charmarr databag, in one module imported only when needed.

Building pydantic models costs about 100 ms of import on this machine class, and a
converged ``update-status`` touches no databag at all; so the interface modules and the
charms import this module only when a hook reads or writes relation data (the interface
modules re-export the models lazily under their usual names).

Every field is JSON-encoded under its own key, with a ``version`` key; see
:mod:`.relation` for reading and writing, and ``interfaces/README.md`` for each field.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

import pydantic

from .download_client import ClientKind
from .media_indexer import ArrKind
from .secrets import is_secret_uri
from .urls import HTTP_SCHEMES, SOCKS5_SCHEMES, is_ip_address, url_problem

SCHEMA_VERSION = 1


def _check_secret_uri(value: str) -> str:
    if not is_secret_uri(value):
        raise ValueError("not a Juju secret URI (secret:<id> or secret://<model>/<id>)")
    return value


def _check_http_url(value: str) -> str:
    problem = url_problem(value, HTTP_SCHEMES)
    if problem:
        raise ValueError(problem)
    return value.rstrip("/")


def _check_socks5_url(value: str) -> str:
    problem = url_problem(value, SOCKS5_SCHEMES)
    if problem:
        raise ValueError(problem)
    if urlsplit(value).path.strip("/"):
        raise ValueError("a path is not allowed in a SOCKS5 URL")
    return value.rstrip("/")


SecretId = Annotated[str, pydantic.AfterValidator(_check_secret_uri)]
"""A Juju secret URI in either form; never secret content."""

HttpUrl = Annotated[str, pydantic.AfterValidator(_check_http_url)]
"""An http(s) URL the transport can use (see :func:`.urls.url_problem`), no trailing slash.

Kept a plain string: cheap and JSON-stable.
"""

Socks5Url = Annotated[str, pydantic.AfterValidator(_check_socks5_url)]
"""A ``socks5://host:port`` URL the workloads' proxy settings can use."""

Category = Annotated[str, pydantic.StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
"""A category name: lowercase letters, digits and dashes (safe as a directory name)."""


class AppData(pydantic.BaseModel):
    """Base of every databag model: versioned, strict about unknown schema versions."""

    model_config = pydantic.ConfigDict(frozen=True, extra="ignore", defer_build=True)

    version: int = SCHEMA_VERSION

    @pydantic.field_validator("version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != SCHEMA_VERSION:
            raise ValueError(f"schema version {value} is not supported (this charm speaks 1)")
        return value


# media-indexer ----------------------------------------------------------------------------


class IndexerProviderData(AppData):
    """What Prowlarr publishes."""

    url: HttpUrl
    api_key_secret_id: SecretId


class IndexerRequirerData(AppData):
    """What Radarr or Sonarr publishes."""

    url: HttpUrl
    kind: ArrKind
    api_key_secret_id: SecretId


# download-client --------------------------------------------------------------------------


class DownloadClientProviderData(AppData):
    """What qBittorrent or SABnzbd publishes."""

    url: HttpUrl
    kind: ClientKind
    credentials_secret_id: SecretId


class DownloadClientRequirerData(AppData):
    """What Radarr or Sonarr publishes."""

    kind: Literal["radarr", "sonarr"]
    category: Category


# vpn-gateway ------------------------------------------------------------------------------


class VpnGatewayProviderData(AppData):
    """What Gluetun publishes on each relation."""

    http_proxy_url: HttpUrl
    socks5_proxy_url: Socks5Url
    control_url: HttpUrl
    proxy_credentials_secret_id: SecretId
    control_secret_id: SecretId
    connected: bool = False
    """The tunnel carries traffic (public IP known, Gluetun's health check passing)."""
    public_ip: str | None = None

    @pydantic.field_validator("public_ip")
    @classmethod
    def _ip_address(cls, value: str | None) -> str | None:
        if value is not None and not is_ip_address(value):
            raise ValueError("not an IP address")
        return value or None


# media-server -----------------------------------------------------------------------------


class MediaServerProviderData(AppData):
    """What Plex publishes."""

    url: HttpUrl
    token_secret_id: SecretId
