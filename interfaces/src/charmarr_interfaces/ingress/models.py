"""The ``ingress`` v2 databags (pydantic; imported only when a hook reads or writes one).

Canonical's protocol, not Charmarr's: there is no ``version`` key, a few keys are spelled
with dashes, and a field at its default value is left out of the databag, as traefik-k8s's
``ingress`` library writes it (``DatabagModel.dump`` with ``exclude_defaults=True``,
traefik-k8s ``lib/charms/traefik_k8s/v2/ingress.py``). See this package's README.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Annotated, Literal
from urllib.parse import urlsplit

import pydantic

from ..urls import HTTP_SCHEMES, url_problem

__all__ = [
    "IngressProviderAppData",
    "IngressRequirerAppData",
    "IngressRequirerUnitData",
    "IngressUrl",
    "Scheme",
    "base_path_problem",
    "databag_keys",
    "encode",
    "parse_provider_app_data",
]

Scheme = Literal["http", "https", "h2c"]
"""How the ingress reaches the app (traefik-k8s accepts these three)."""

MAX_RAW = 8192
"""Longest raw ``ingress`` value read (a URL is at most :data:`..urls.MAX_URL` long)."""

_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]+$")


class _Databag(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(
        frozen=True, extra="ignore", populate_by_name=True, defer_build=True
    )


def _check_port(value: int) -> int:
    # mirrors traefik-k8s lib/charms/traefik_k8s/v2/ingress.py validate_port (0 < port < 65535)
    if not 0 < value < 65535:
        raise ValueError("port out of TCP range (1-65534)")
    return value


def _check_ip(value: str | None) -> str | None:
    if value is not None:
        ipaddress.ip_address(value)  # ValueError names the bad address
    return value


def _check_name(value: str) -> str:
    # Juju model and application names; they become the path prefix <model>-<app>.
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", value):
        raise ValueError("not a Juju model or application name")
    return value


def base_path_problem(path: str) -> str | None:
    """Why ``path`` cannot be an app's base path (``UrlBase``, ``url_base``), or None.

    It ends up in config.xml and sabnzbd.ini, so only unreserved URL characters
    (RFC 3986) in ``/``-separated segments, and no ``.`` or ``..`` segment.
    """
    segments = path.strip("/").split("/") if path.strip("/") else []
    for segment in segments:
        if not _SEGMENT.match(segment) or segment in (".", ".."):
            return "the URL's path is not a plain base path (letters, digits, . _ ~ - and /)"
    return None


def _check_url(value: str) -> str:
    problem = url_problem(value, HTTP_SCHEMES) or base_path_problem(urlsplit(value).path)
    if problem:
        raise ValueError(problem)
    return value


class IngressRequirerAppData(_Databag):
    """What the requirer's leader publishes in its application databag."""

    model: Annotated[str, pydantic.AfterValidator(_check_name)]
    name: Annotated[str, pydantic.AfterValidator(_check_name)]
    port: Annotated[int, pydantic.AfterValidator(_check_port)]
    strip_prefix: bool = pydantic.Field(
        default=False,
        validation_alias=pydantic.AliasChoices("strip-prefix", "strip_prefix"),
        serialization_alias="strip-prefix",
    )
    redirect_https: bool = pydantic.Field(
        default=False,
        validation_alias=pydantic.AliasChoices("redirect-https", "redirect_https"),
        serialization_alias="redirect-https",
    )
    scheme: Scheme = "http"
    is_port_open: bool = False


class IngressRequirerUnitData(_Databag):
    """What every requirer unit publishes in its own unit databag."""

    host: Annotated[str, pydantic.StringConstraints(min_length=1, max_length=253)]
    ip: Annotated[str | None, pydantic.AfterValidator(_check_ip)] = None


class IngressUrl(_Databag):
    """The provider's answer, held JSON-encoded under the ``ingress`` key."""

    url: Annotated[str, pydantic.AfterValidator(_check_url)]


class IngressProviderAppData(_Databag):
    """What the provider's leader publishes in its application databag."""

    ingress: IngressUrl | None = None


def databag_keys(model: type[pydantic.BaseModel]) -> set[str]:
    """Every key ``model`` may write, as spelled in the databag."""
    return {f.serialization_alias or name for name, f in model.model_fields.items()}


def encode(data: _Databag) -> dict[str, str]:
    """Each field JSON-encoded under its (dashed) key; fields at their default left out.

    The same bytes traefik-k8s's library writes, so a provider sees no difference.
    """
    values = data.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return {key: json.dumps(values[key]) for key in sorted(values)}


def parse_provider_app_data(raw: Mapping[str, str]) -> IngressUrl | tuple[str, str] | None:
    """The provider's URL; ``(field, reason)`` when it is unusable; None before it answers.

    Never raises: garbage JSON, a JSON bomb, a URL with control characters, a non-http
    scheme or a huge value each come back as a reason.
    """
    value = raw.get("ingress")
    if not value:
        return None
    if len(value) > MAX_RAW:
        return "ingress", f"longer than {MAX_RAW} characters"
    try:
        decoded = json.loads(value)
    except (ValueError, RecursionError):
        return "ingress", "not valid JSON"
    if not isinstance(decoded, dict):
        return "ingress", 'not a JSON object holding "url"'
    try:
        return IngressUrl.model_validate(decoded)
    except pydantic.ValidationError as e:
        error = e.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        return f"ingress.{where}", error["msg"].removeprefix("Value error, ")
