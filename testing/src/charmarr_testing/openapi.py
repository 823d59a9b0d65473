"""Validate the requests a charm sent to Radarr, Sonarr or Prowlarr against the apps' OpenAPI.

The documents are the apps' own (``<repo>/../shared/reference/openapi/*.json``); when that
directory is absent the calling test is skipped, never silently passed. They are loaded with
``Config(spec_validator_cls=None)``: upstream has one unresolvable path parameter that the
strict spec check rejects (design.md section 6).

Usage, at the end of a test::

    validate_requests(fake.requests, "radarr")
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from charmarr_common.http import Request

SPECS = {"radarr": "radarr-v3", "sonarr": "sonarr-v3", "prowlarr": "prowlarr-v1"}
"""App name -> OpenAPI document (without ``.json``)."""


def reference_dir() -> Path:
    """``<repo root>/../shared/reference/openapi``: the nearest ``shared/`` beside a parent."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "shared" / "reference" / "openapi"
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("../shared/reference/openapi is not beside the repository")


@cache
def _spec(document: str) -> Any:
    from openapi_core import Config, OpenAPI

    path = reference_dir() / f"{document}.json"
    return OpenAPI.from_file_path(str(path), config=Config(spec_validator_cls=None))  # pyright: ignore[reportArgumentType]


ANONYMOUS = frozenset({"/ping"})
"""Routes the apps serve without a key although the documents' global security covers them."""


COMMAND_OPTIONS = {"/api/v1/command": frozenset({"forceSync"})}
"""Command options the apps read although the documents do not list them.

The documented body is ``CommandResource`` (no extra properties), but the controller
deserializes the raw body into the named command class, so ``ApplicationIndexerSync``'s
``forceSync`` is honoured (mirrors Prowlarr src/Prowlarr.Api.V1/Commands/CommandController.cs
StartCommand and src/NzbDrone.Core/Applications/ApplicationIndexerSyncCommand.cs). Only these
names are let through; any other extra property still fails validation.
"""


def _documented_body(path: str, body: bytes | None) -> bytes:
    options = COMMAND_OPTIONS.get(path)
    if not options or not body:
        return body or b""
    import json

    try:
        value = json.loads(body)
    except ValueError:
        return body
    if not isinstance(value, dict):
        return body
    return json.dumps({k: v for k, v in value.items() if k not in options}).encode()


def _mock(request: Request) -> Any:
    from openapi_core.testing import MockRequest

    parts = urlsplit(request.url)
    headers = dict(request.headers)
    if parts.path in ANONYMOUS:
        headers.setdefault("X-Api-Key", "anonymous")
    return MockRequest(
        f"{parts.scheme}://{parts.netloc}",
        request.method.lower(),
        parts.path,
        args=request.query,
        headers=headers,
        data=_documented_body(parts.path, request.body),
        content_type=headers.get("Content-Type", "application/json"),
    )


def validate_request(request: Request, app: str) -> None:
    """Raise AssertionError if ``request`` does not match ``app``'s OpenAPI document."""
    spec = _spec(SPECS[app])
    try:
        spec.validate_request(_mock(request))
    except Exception as e:
        cause = e.__cause__ or e
        raise AssertionError(
            f"{request.method} {urlsplit(request.url).path} does not match the {app} API: "
            f"{type(e).__name__}: {cause}"
        ) from None


def validate_requests(requests: Iterable[Request], app: str) -> int:
    """Validate every request (path, method, parameters, security, body); return the count.

    Skips the calling test when the shared reference directory is absent.
    """
    import pytest

    if not reference_dir().is_dir():
        pytest.skip(f"no OpenAPI reference at {reference_dir()} (../shared is absent)")
    count = 0
    for request in requests:
        validate_request(request, app)
        count += 1
    return count


def validate_network(network: Any) -> int:
    """Validate the requests that reached each Servarr fake's API; return the count.

    As the API saw them: below the app's ``UrlBase`` (see ``FakeServarr.api_requests``).
    """
    from .fake_servarr import FakeServarr

    fakes = {id(app): app for app in network.apps.values() if isinstance(app, FakeServarr)}
    return sum(validate_requests(fake.api_requests, fake.app.name) for fake in fakes.values())
