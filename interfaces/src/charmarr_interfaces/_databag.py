"""The base of every databag model and the field types the four interfaces share.

Imported only by the interfaces' ``models`` modules, which are imported only when a hook
reads or writes relation data: building pydantic models costs about 100 ms, and a
converged ``update-status`` touches no databag at all.

Every field is JSON-encoded under its own key, with a ``version`` key; see
:mod:`.endpoint` for reading and writing, and each interface's README for its fields.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

import pydantic

from .secret_ids import is_secret_uri
from .urls import HTTP_SCHEMES, SOCKS5_SCHEMES, url_problem

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
