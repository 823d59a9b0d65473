"""A stateful in-process fake of the Radarr, Sonarr (v3) and Prowlarr (v1) APIs.

It acts like the apps wherever the charms depend on them; each behaviour names the
upstream file it mirrors (Radarr/Sonarr/Prowlarr share the Servarr code base):

- ``/ping`` is anonymous; everything else needs ``X-Api-Key`` (or ``?apikey=``) equal to
  the app's *current* key, else 401. The key can follow the ``config.xml`` the charm
  pushed (``config_path``), so a rotation is observable; ``frozen=True`` simulates an app
  that never picks up a new key.
- ``config.xml`` also decides where the app listens: a ``Port`` other than the app's or a
  ``BindAddress`` other than ``*`` refuses the connection, and a ``UrlBase`` answers every
  request outside it with a 307 redirect.
- download clients, notifications, applications, indexers and root folders are kept with
  ids; provider names are unique (400 otherwise);
- a POST of an enabled provider runs its connection test even with ``forceSave=true``
  (only warnings are skipped), and a failed test is HTTP 400 with a JSON list of
  validation failures; a PUT with ``forceSave=true`` skips the test;
- credential fields (``password``, ``apiKey``, ``authToken``) are shown as ``********``
  on GET, and a PUT that sends ``********`` keeps the stored value;
- ``config/host`` holds the host config; a PUT ignores ``apiKey``, and ``proxyPassword``
  is shown in plain text;
- Prowlarr syncs its indexers into the Radarr/Sonarr it has as applications (on adding an
  application and on the ``ApplicationIndexerSync`` command), over the network, and skips
  an update when the remote indexer compares equal: a masked remote ``apiKey`` counts as
  equal unless the command says ``forceSync``; its Torznab endpoint ``/<id>/api`` takes
  the current key only.

``auth_log`` records every authenticated attempt in order, as ``(key, accepted)``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from charmarr_common.errors import CharmarrError
from charmarr_common.http import (
    HttpClient,
    Request,
    Response,
    WorkloadHttpError,
    WorkloadUnreachableError,
)

from .apps import FakeApp, json_response, text_response


@dataclass(frozen=True)
class Servarr:
    """What the fake knows of one Servarr app: facts of the app, never of a charm."""

    name: str
    title: str
    port: int
    api: str
    category_field: str = ""
    """The download-client field that holds the category (Radarr and Sonarr)."""
    sync_categories: tuple[int, ...] = ()
    """The Newznab categories Prowlarr syncs to the app by default."""


# mirrors each app's src/NzbDrone.Core/Configuration/ConfigFileProvider.cs (default Port),
# its API controllers' version (Radarr/Sonarr v3, Prowlarr v1) and Download/Clients/
# QBittorrent/QBittorrentSettings.cs (MovieCategory in Radarr, TvCategory in Sonarr); the
# sync categories mirror Prowlarr src/NzbDrone.Core/Applications/{Radarr,Sonarr}/*Settings.cs
RADARR = Servarr(
    "radarr", "Radarr", 7878, "/api/v3", "movieCategory",
    (2000, 2010, 2020, 2030, 2040, 2045, 2050, 2060, 2070, 2080, 2090),
)  # fmt: skip
SONARR = Servarr(
    "sonarr", "Sonarr", 8989, "/api/v3", "tvCategory",
    (5000, 5010, 5020, 5030, 5040, 5045, 5050, 5090),
)  # fmt: skip
PROWLARR = Servarr("prowlarr", "Prowlarr", 9696, "/api/v1")
APPS = {app.name: app for app in (RADARR, SONARR, PROWLARR)}
MASKED = "********"
"""What the apps show instead of a credential field's value (ProviderResource mapping)."""

SECRET_FIELDS = frozenset({"password", "apiKey", "authToken"})
PROVIDERS = frozenset({"downloadclient", "notification", "applications", "indexer"})
Failure = dict[str, Any]


def _xml_value(text: str, tag: str) -> str | None:
    match = re.search(rf"<{tag}>\s*([^<]*?)\s*</{tag}>|<{tag}\s*/>", text)
    if match is None:
        return None
    return match.group(1) or ""


def _key_from_xml(text: str) -> str | None:
    return _xml_value(text, "ApiKey") or None


def failure(prop: str, message: str, attempted: Any = None) -> Failure:
    """One validation failure as the apps serialize it (FluentValidation's ValidationFailure)."""
    return {
        "propertyName": prop,
        "errorMessage": message,
        "attemptedValue": attempted,
        "severity": "error",
        "isWarning": False,
    }


def values_of(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry's fields as ``{name: value}``."""
    return {f.get("name"): f.get("value") for f in entry.get("fields") or []}


class FakeServarr(FakeApp):
    """One Servarr app.

    Args:
        app: which app (:data:`RADARR`, :data:`SONARR`, :data:`PROWLARR`, or anything
            with that ``name``); the fake takes the rest from its own :data:`APPS`.
        api_key: the key it accepts (until ``config_path`` says otherwise).
        config_path: the host path of ``/config/config.xml`` in the test's mount; when it
            holds an ``<ApiKey>``, that key is the current one.
        frozen: keep ``api_key`` whatever config.xml says (never accepts a new key).
    """

    def __init__(
        self,
        app: Any,
        api_key: str | None = None,
        *,
        config_path: Path | None = None,
        frozen: bool = False,
    ):
        super().__init__()
        self.app = APPS[app.name]
        self._key = api_key
        self.config_path = config_path
        self.frozen = frozen
        self.auth_log: list[tuple[str | None, bool]] = []
        self.api_writes: list[Request] = []
        """The state-changing requests the app accepted (a refused POST changes nothing)."""
        self.api_requests: list[Request] = []
        """What reached the API, as it sees it (below UrlBase): what OpenAPI validation checks."""
        self.commands: list[str] = []
        self.command_bodies: list[dict[str, Any]] = []
        self.store: dict[str, dict[int, dict[str, Any]]] = {
            "downloadclient": {},
            "notification": {},
            "applications": {},
            "indexer": {},
            "rootfolder": {},
        }
        self._next_id = 1
        self.indexers: dict[int, dict[str, Any]] = {}
        """Prowlarr's own indexers (``add_indexer``), by id."""
        self.mappings: dict[int, dict[int, int]] = {}
        """Prowlarr: application id -> {indexer id -> the remote indexer's id}."""
        self.sync_log: list[tuple[str, str]] = []
        """Prowlarr: (application, "added"/"updated"/"skipped"/"failed: ...") per indexer."""
        self.host: dict[str, Any] = {
            "id": 1,
            "bindAddress": "*",
            "port": app.port,
            "authenticationMethod": "forms",
            "username": "admin",
            "password": "user-password",
            "proxyEnabled": False,
            "proxyType": "http",
            "proxyHostname": "",
            "proxyPort": 8080,
            "proxyUsername": "",
            "proxyPassword": "",
            "proxyBypassFilter": "",
            "proxyBypassLocalAddresses": True,
            "urlBase": "",
            "instanceName": app.title,
        }

    # -- the key and config.xml ----------------------------------------------------------------

    def _config_text(self) -> str:
        if self.config_path is not None and self.config_path.exists():
            return self.config_path.read_text()
        return ""

    @property
    def api_key(self) -> str | None:
        """The key the app accepts now."""
        if not self.frozen:
            key = _key_from_xml(self._config_text())
            if key:
                return key
        return self._key

    @api_key.setter
    def api_key(self, value: str | None) -> None:
        self._key = value

    def __call__(self, request: Request) -> Response:
        """Answer, and remember which state-changing requests the app accepted."""
        response = super().__call__(request)
        if self.changes_state(request) and response.status < 400:
            self.api_writes.append(request)
        return response

    def changes_state(self, request: Request) -> bool:
        """Writes, but not a connection test (a POST that stores nothing)."""
        return super().changes_state(request) and not request.path.rstrip("/").endswith("/test")

    def accepted(self, key: str) -> bool:
        """Whether a request with ``key`` was accepted so far."""
        return (key, True) in self.auth_log

    # -- test helpers --------------------------------------------------------------------------

    def add(self, resource: str, entry: dict[str, Any]) -> dict[str, Any]:
        """Store an entry as if a user created it; returns it with its id."""
        stored = copy.deepcopy(entry)
        stored["id"] = self._next_id
        self._next_id += 1
        self.store[resource][stored["id"]] = stored
        return stored

    def named(self, resource: str) -> dict[str, dict[str, Any]]:
        """Stored entries (unmasked) by name (root folders by path)."""
        key = "path" if resource == "rootfolder" else "name"
        return {str(e.get(key)): e for e in self.store[resource].values()}

    def field(self, resource: str, name: str, field_name: str) -> Any:
        """The stored (unmasked) value of one field of the entry ``name``."""
        for item in self.named(resource)[name].get("fields", []):
            if item.get("name") == field_name:
                return item.get("value")
        raise KeyError(field_name)

    def add_indexer(self, name: str, *, protocol: str = "torrent") -> int:
        """Prowlarr: an indexer the user configured (synced to every application)."""
        indexer_id = max(self.indexers, default=0) + 1
        self.indexers[indexer_id] = {"name": name, "protocol": protocol, "enable": True}
        return indexer_id

    # -- HTTP ----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request as the app would."""
        text = self._config_text()
        port, bind = _xml_value(text, "Port"), _xml_value(text, "BindAddress")
        # mirrors Servarr src/NzbDrone.Host/Bootstrap.cs: Kestrel listens on <BindAddress>:<Port>
        if port and port != str(self.app.port):
            raise ConnectionRefusedError(f"{self.app.name} listens on {port}")
        host = urlsplit(request.url).hostname or ""
        if bind and bind not in ("*", "0.0.0.0") and host not in (bind, "localhost"):  # noqa: S104
            raise ConnectionRefusedError(f"{self.app.name} listens on {bind} only")
        path = request.path.rstrip("/")
        base = "/" + (_xml_value(text, "UrlBase") or "").strip("/")
        if base != "/":
            # mirrors Servarr src/NzbDrone.Http/Middleware/UrlBaseMiddleware.cs (307 outside it)
            if not (path + "/").startswith(base + "/"):
                return Response(307, b"", {"location": base + request.path})
            path = path[len(base) :]
        # mirrors Servarr src/NzbDrone.Host/Startup.cs UsePathBase(UrlBase): the API sees the
        # path below the base, where the OpenAPI documents define it.
        parts = urlsplit(request.url)
        below = parts.path[len(base) :] if base != "/" else parts.path
        self.api_requests.append(replace(request, url=parts._replace(path=below or "/").geturl()))
        if path == "/ping":
            return json_response({"status": "OK"})
        headers = {k.lower(): v for k, v in request.headers.items()}
        key = headers.get("x-api-key") or request.query.get("apikey")
        ok = key is not None and key == self.api_key
        self.auth_log.append((key, ok))
        if not ok:
            return text_response("Unauthorized", 401)
        newznab = re.fullmatch(r"/(\d+)/api", path)
        if newznab and self.app == PROWLARR:
            return self._newznab(int(newznab[1]))
        prefix = self.app.api + "/"
        if not path.startswith(prefix):
            return text_response("Not Found", 404)
        parts = path[len(prefix) :].split("/")
        return self._route(request, parts)

    def _route(self, request: Request, parts: list[str]) -> Response:
        method = request.method
        if parts == ["system", "status"] and method == "GET":
            return json_response({"appName": self.app.title, "version": "5.0.0"})
        if parts[:2] == ["config", "host"]:
            return self._host(request, parts[2:])
        if parts == ["command"] and method == "POST":
            return self._command(request.json())
        if parts == ["indexer", "test"] and method == "POST" and self.app != PROWLARR:
            body = request.json()
            stored = self.store["indexer"].get(body.get("id") or 0)
            failures = self._test_indexer(self._unmask(body, stored))
            return json_response(failures, 400) if failures else json_response({})
        resource = parts[0]
        if resource not in self.store or (resource == "indexer" and self.app == PROWLARR):
            return text_response("Not Found", 404)
        force = request.query.get("forceSave", "").lower() == "true"
        if len(parts) == 1:
            if method == "GET":
                return json_response([self._masked(e) for e in self.store[resource].values()])
            if method == "POST":
                return self._create(resource, request.json())
        elif len(parts) == 2 and parts[1].isdigit():
            entry_id = int(parts[1])
            if entry_id not in self.store[resource]:
                return text_response("Not Found", 404)
            if method == "GET":
                return json_response(self._masked(self.store[resource][entry_id]))
            if method == "PUT":
                return self._update(resource, entry_id, request.json(), force=force)
            if method == "DELETE":
                del self.store[resource][entry_id]
                if resource == "applications":
                    self.mappings.pop(entry_id, None)
                return json_response({})
        return text_response("Method Not Allowed", 405)

    def _invalid(self, resource: str, body: Any, entry_id: int | None) -> Failure | None:
        if not isinstance(body, dict):
            return failure("", "body is not an object")
        if resource == "rootfolder":
            return (
                None
                if isinstance(body.get("path"), str) and body["path"]
                else failure("Path", "'Path' must not be empty.")
            )
        if not isinstance(body.get("name"), str) or not body["name"]:
            return failure("Name", "'Name' must not be empty.")
        if not isinstance(body.get("implementation"), str) or not isinstance(
            body.get("fields"), list
        ):
            return failure("Implementation", "'Implementation' must not be empty.")
        for other in self.store[resource].values():
            if other["name"] == body["name"] and other["id"] != entry_id:
                # mirrors Servarr src/NzbDrone.Core/ThingiProvider/ProviderRepository (unique Name)
                return failure("Name", "Should be unique", body["name"])
        return None

    def _create(self, resource: str, body: Any) -> Response:
        problem = self._invalid(resource, body, None)
        if problem:
            return json_response([problem], 400)
        if resource == "rootfolder" and body["path"] in self.named(resource):
            return json_response([failure("Path", "Path is already configured")], 400)
        # mirrors src/Radarr.Api.V3/ProviderControllerBase.cs CreateProvider: an enabled
        # provider is tested even with forceSave (which only skips warnings)
        if resource in PROVIDERS and self._enabled(resource, body):
            failures = self.test(resource, body)
            if failures:
                return json_response(failures, 400)
        stored = self.add(resource, body)
        if resource == "applications" and self._enabled(resource, body):
            # mirrors Prowlarr src/NzbDrone.Core/Applications/ApplicationService.cs
            # HandleAsync(ProviderAddedEvent<IApplication>): sync every indexer to it
            self.sync([stored["id"]])
        return json_response(self._masked(stored), 201)

    def _update(self, resource: str, entry_id: int, body: Any, *, force: bool) -> Response:
        problem = self._invalid(resource, body, entry_id)
        if problem:
            return json_response([problem], 400)
        stored = self._unmask(body, self.store[resource][entry_id])
        stored["id"] = entry_id
        # mirrors src/Radarr.Api.V3/ProviderControllerBase.cs UpdateProvider: tested unless
        # forceSave
        if resource in PROVIDERS and not force and self._enabled(resource, stored):
            failures = self.test(resource, stored)
            if failures:
                return json_response(failures, 400)
        self.store[resource][entry_id] = stored
        return json_response(self._masked(stored))

    @staticmethod
    def _enabled(resource: str, body: dict[str, Any]) -> bool:
        if resource == "applications":
            return body.get("syncLevel", "fullSync") != "disabled"
        if resource == "notification":
            return any(body.get(k) for k in ("onGrab", "onDownload", "onUpgrade", "onRename"))
        return bool(body.get("enable", True))

    @staticmethod
    def _unmask(body: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        # mirrors Servarr src/NzbDrone.Core/ThingiProvider (PrivacyLevel fields sent back as
        # ******** keep the stored value)
        stored = copy.deepcopy(body)
        previous = values_of(old or {})
        for item in stored.get("fields") or []:
            if item.get("name") in SECRET_FIELDS and item.get("value") == MASKED:
                item["value"] = previous.get(item["name"])
        return stored

    def _masked(self, entry: dict[str, Any]) -> dict[str, Any]:
        shown = copy.deepcopy(entry)
        for item in shown.get("fields", []):
            if item.get("name") in SECRET_FIELDS and item.get("value"):
                item["value"] = MASKED
        return shown

    def _host(self, request: Request, rest: list[str]) -> Response:
        if request.method == "GET" and len(rest) <= 1:
            # mirrors Prowlarr src/Prowlarr.Api.V1/Config/HostConfigResource.cs: the proxy
            # password is returned as stored
            shown = dict(self.host, apiKey=self.api_key)
            shown["password"] = MASKED
            return json_response(shown)
        if request.method == "PUT" and len(rest) == 1 and rest[0] == str(self.host["id"]):
            body = request.json()
            if not isinstance(body, dict):
                return json_response([failure("", "invalid")], 400)
            if body.get("password") == MASKED:
                body["password"] = self.host["password"]
            # mirrors src/NzbDrone.Core/Configuration/ConfigFileProvider.cs
            # SaveConfigDictionary: ApiKey is never saved from the API
            body.pop("apiKey", None)
            self.host.update({k: v for k, v in body.items() if k in self.host})
            return json_response(dict(self.host, apiKey=self.api_key))
        return text_response("Method Not Allowed", 405)

    def _command(self, body: Any) -> Response:
        body = body if isinstance(body, dict) else {}
        name = str(body.get("name"))
        self.commands.append(name)
        self.command_bodies.append(body)
        if name == "ApplicationIndexerSync" and self.app == PROWLARR:
            # mirrors Prowlarr src/NzbDrone.Core/Applications/ApplicationIndexerSyncCommand.cs
            # (the body is the command: forceSync defaults to false)
            self.sync(None, force=body.get("forceSync") is True)
        return json_response({"id": len(self.commands), "name": name, "status": "queued"}, 201)

    # -- connection tests ----------------------------------------------------------------------

    def test(self, resource: str, entry: dict[str, Any]) -> list[Failure]:
        """The provider's own connection test, over the network (empty: it passed)."""
        implementation = entry.get("implementation")
        values = values_of(entry)
        if resource == "notification" and implementation == "PlexServer":
            return self._test_plex(values)
        if resource == "downloadclient" and implementation == "QBittorrent":
            return self._test_qbittorrent(values)
        if resource == "downloadclient" and implementation == "Sabnzbd":
            return self._test_sabnzbd(values)
        if resource == "applications" and implementation in ("Radarr", "Sonarr"):
            return self._test_application(implementation, values)
        if resource == "indexer":
            return self._test_indexer(entry)
        return []

    @staticmethod
    def _url(values: dict[str, Any]) -> str:
        scheme = "https" if values.get("useSsl") else "http"
        base = str(values.get("urlBase") or "").rstrip("/")
        return f"{scheme}://{values.get('host')}:{values.get('port')}{base}"

    def _test_plex(self, values: dict[str, Any]) -> list[Failure]:
        # mirrors Radarr src/NzbDrone.Core/Notifications/Plex/Server/PlexServerService.cs Test
        # (Sonarr: the same file, with TV libraries); the messages of every test here are
        # those of src/NzbDrone.Core/Localization/Core/en.json at v5.26.2
        kind, label = ("movie", "Movie") if self.app == RADARR else ("show", "TV")
        client = HttpClient(self._url(values), name="plex")
        try:
            answer = client.request(
                "GET",
                "/library/sections",
                headers={"X-Plex-Token": str(values.get("authToken") or "")},
                expect=(200, 401),
            )
        except WorkloadUnreachableError:
            return [failure("Host", "Unable to connect to Plex Media Server")]
        if answer.status == 401:
            return [failure("AuthToken", "Authentication Token is invalid")]
        types = re.findall(r'<Directory[^>]*\stype="([^"]+)"', answer.text)
        if kind not in types:
            return [failure("Host", f"At least one {label} library is required")]
        return []

    def _test_qbittorrent(self, values: dict[str, Any]) -> list[Failure]:
        # mirrors Radarr src/NzbDrone.Core/Download/Clients/QBittorrent/QBittorrent.cs
        # TestConnection
        client = HttpClient(self._url(values), name="qbittorrent")
        try:
            answer = client.request(
                "POST",
                "/api/v2/auth/login",
                form={"username": values.get("username"), "password": values.get("password")},
                expect=(200, 403),
            )
        except WorkloadUnreachableError:
            return [failure("Host", "Unable to connect to qBittorrent")]
        if answer.status != 200 or answer.text.strip() != "Ok.":
            return [failure("Username", "Authentication Failure")]
        return []

    def _test_sabnzbd(self, values: dict[str, Any]) -> list[Failure]:
        # mirrors Radarr src/NzbDrone.Core/Download/Clients/Sabnzbd/Sabnzbd.cs
        # TestConnectionAndVersion, TestAuthentication, TestCategory
        assert self.app.category_field, "only Radarr and Sonarr have download clients"
        category = values.get(self.app.category_field)
        client = HttpClient(self._url(values), name="sabnzbd")
        query = {"mode": "get_config", "section": "categories", "output": "json"}
        try:
            answer = client.request(
                "GET", "/api", params={**query, "apikey": values.get("apiKey")}, expect=(200, 403)
            )
        except WorkloadUnreachableError:
            return [failure("Host", "Unable to connect to SABnzbd")]
        try:
            data = answer.json()
        except ValueError:
            data = None
        if answer.status != 200 or not isinstance(data, dict) or "config" not in data:
            return [failure("APIKey", "API Key Incorrect")]
        categories = data["config"].get("categories") or []
        names = {c.get("name") for c in categories if isinstance(c, dict)}
        if category and category not in names:
            prop = self.app.category_field[0].upper() + self.app.category_field[1:]
            return [failure(prop, "Category does not exist", category)]
        return []

    def _test_application(self, implementation: str, values: dict[str, Any]) -> list[Failure]:
        # mirrors Prowlarr src/NzbDrone.Core/Applications/Radarr/Radarr.cs Test (and
        # Sonarr/Sonarr.cs): the app must answer with the key Prowlarr holds
        target = RADARR if implementation == "Radarr" else SONARR
        client = HttpClient(
            str(values.get("baseUrl") or ""),
            name=target.name,
            headers={"X-Api-Key": str(values.get("apiKey") or "")},
        )
        try:
            client.request("GET", f"{target.api}/system/status")
        except WorkloadUnreachableError:
            return [
                failure(
                    "BaseUrl",
                    f"Unable to complete application test, cannot connect to {implementation}",
                )
            ]
        except WorkloadHttpError as e:
            if e.http_status == 401:
                return [failure("ApiKey", "API Key is invalid")]
            return [failure("BaseUrl", f"{implementation} answered HTTP {e.http_status}")]
        return []

    def _test_indexer(self, entry: dict[str, Any]) -> list[Failure]:
        # mirrors Radarr src/NzbDrone.Core/Indexers/HttpIndexerBase.cs TestConnection (v5.26)
        values = values_of(entry)
        url = str(values.get("baseUrl") or "").rstrip("/")
        client = HttpClient(url, name="indexer")
        detail = "check the log above the ValidationFailure for more details."
        try:
            answer = client.request(
                "GET",
                str(values.get("apiPath") or "/api"),
                params={"t": "caps", "apikey": values.get("apiKey")},
                expect=(200, 401, 403, 404),
            )
        except WorkloadUnreachableError:
            return [failure("", f"Unable to connect to indexer, {detail}")]
        if answer.status in (401, 403):
            reason = f"HTTP request failed: [{answer.status}:Unauthorized]"
            return [failure("", f"Unable to connect to indexer, invalid credentials. {reason}")]
        if answer.status != 200:
            return [failure("", f"Unable to connect to indexer, {detail}")]
        return []

    # -- Prowlarr: the indexer sync ------------------------------------------------------------

    def _newznab(self, indexer_id: int) -> Response:
        # mirrors Prowlarr src/Prowlarr.Api.V1/Indexers/NewznabController.cs (caps)
        if indexer_id not in self.indexers:
            return text_response("Not Found", 404)
        caps = (
            '<?xml version="1.0"?>\n<caps><searching><search available="yes"/></searching></caps>'
        )
        return Response(200, caps.encode(), {"content-type": "application/xml"})

    def _remote_indexer(self, application: dict[str, Any], indexer_id: int) -> dict[str, Any]:
        """What Prowlarr wants the app to hold for one of its indexers."""
        # mirrors Prowlarr src/NzbDrone.Core/Applications/Radarr/Radarr.cs BuildRadarrIndexer
        values = values_of(application)
        target = RADARR if application["implementation"] == "Radarr" else SONARR
        indexer = self.indexers[indexer_id]
        implementation = "Newznab" if indexer["protocol"] == "usenet" else "Torznab"
        fields = {
            "baseUrl": f"{str(values.get('prowlarrUrl') or '').rstrip('/')}/{indexer_id}/",
            "apiPath": "/api",
            "apiKey": self.api_key,
            "categories": list(values.get("syncCategories") or target.sync_categories),
        }
        return {
            "name": f"{indexer['name']} (Prowlarr)",
            "enableRss": indexer["enable"],
            "enableAutomaticSearch": indexer["enable"],
            "enableInteractiveSearch": indexer["enable"],
            "priority": 25,
            "implementation": implementation,
            "configContract": f"{implementation}Settings",
            "protocol": indexer["protocol"],
            "tags": [],
            "fields": [{"name": k, "value": v} for k, v in fields.items()],
        }

    @staticmethod
    def _equal(wanted: dict[str, Any], remote: dict[str, Any]) -> bool:
        # mirrors Prowlarr src/NzbDrone.Core/Applications/Radarr/RadarrIndexer.cs Equals: a
        # masked remote apiKey compares equal
        mine, theirs = values_of(wanted), values_of(remote)
        keys = ("name", "implementation", "enableRss", "enableAutomaticSearch", "priority")
        key_equal = mine.get("apiKey") == theirs.get("apiKey") or theirs.get("apiKey") == MASKED
        return (
            all(wanted.get(k) == remote.get(k) for k in keys)
            and key_equal
            and all(mine.get(k) == theirs.get(k) for k in ("baseUrl", "apiPath", "categories"))
        )

    def sync(self, application_ids: Iterable[int] | None, *, force: bool = False) -> None:
        """Prowlarr's indexer sync to its full-sync applications (errors logged per app)."""
        # mirrors Prowlarr src/NzbDrone.Core/Applications/ApplicationService.cs SyncIndexers
        apps = self.store["applications"]
        for app_id in list(apps if application_ids is None else application_ids):
            application = apps.get(app_id)
            if application is None or application.get("syncLevel") == "disabled":
                continue
            name = str(application["name"])
            try:
                self._sync_one(app_id, application, force)
            except CharmarrError as e:
                # mirrors ApplicationService.ExecuteAction: logged, the command still completes
                self.sync_log.append((name, f"failed: {e.message}"))

    def _sync_one(self, app_id: int, application: dict[str, Any], force: bool) -> None:
        values = values_of(application)
        target = RADARR if application["implementation"] == "Radarr" else SONARR
        client = HttpClient(
            str(values.get("baseUrl") or ""),
            name=target.name,
            headers={"X-Api-Key": str(values.get("apiKey") or "")},
        )
        path = f"{target.api}/indexer"
        mapping = self.mappings.setdefault(app_id, {})
        name = str(application["name"])
        for indexer_id in sorted(self.indexers):
            wanted = self._remote_indexer(application, indexer_id)
            remote_id = mapping.get(indexer_id)
            if remote_id is not None:
                response = client.request("GET", f"{path}/{remote_id}", expect=(200, 404))
                if response.status == 200:
                    remote = client.json_of(response, path)
                    # mirrors Prowlarr Radarr.cs UpdateIndexer: skipped when equal, unless
                    # forceSync
                    if self._equal({**wanted, "id": remote_id}, remote) and not force:
                        self.sync_log.append((name, "skipped"))
                        continue
                    body = {**wanted, "id": remote_id}
                    client.request(
                        "PUT", f"{path}/{remote_id}", params={"forceSave": "true"}, json=body
                    )
                    self.sync_log.append((name, "updated"))
                    continue
            created = client.json_of(
                client.request("POST", path, params={"forceSave": "true"}, json=wanted), path
            )
            mapping[indexer_id] = int(created["id"])
            self.sync_log.append((name, "added"))


def fake_radarr(api_key: str | None = None, **kwargs: Any) -> FakeServarr:
    """A fake Radarr (v3)."""
    return FakeServarr(RADARR, api_key, **kwargs)


def fake_sonarr(api_key: str | None = None, **kwargs: Any) -> FakeServarr:
    """A fake Sonarr (v3)."""
    return FakeServarr(SONARR, api_key, **kwargs)


def fake_prowlarr(api_key: str | None = None, **kwargs: Any) -> FakeServarr:
    """A fake Prowlarr (v1)."""
    return FakeServarr(PROWLARR, api_key, **kwargs)


# ---------------------------------------------------------------------------------------------
# Counting what a hook did to the workload container
# ---------------------------------------------------------------------------------------------

PEBBLE_METHODS = (
    "get_plan",
    "pull",
    "push",
    "add_layer",
    "replan",
    "restart",
    "start",
    "stop",
    "exec",
    "make_dir",
    "list_files",
    "get_services",
    "can_connect",
)
PEBBLE_WRITES = ("push", "add_layer", "replan", "restart", "start", "stop", "exec", "make_dir")


@contextmanager
def pebble_calls() -> Iterator[list[str]]:
    """Record the name of every ``ops.Container`` Pebble method a charm calls."""
    import ops

    calls: list[str] = []
    originals: dict[str, Callable[..., Any]] = {}
    for name in PEBBLE_METHODS:
        original = getattr(ops.Container, name)
        originals[name] = original

        def spy(self: Any, *args: Any, __name: str = name, __orig: Any = original, **kw: Any):
            calls.append(__name)
            return __orig(self, *args, **kw)

        setattr(ops.Container, name, spy)
    try:
        yield calls
    finally:
        for name, original in originals.items():
            setattr(ops.Container, name, original)


# ---------------------------------------------------------------------------------------------
# The app's own files and its peers on the fake network
# ---------------------------------------------------------------------------------------------


def config_xml(api_key: str, port: int) -> str:
    """A config.xml as the app leaves it after its first start."""
    return (
        "<Config>\n  <LogLevel>info</LogLevel>\n  <UrlBase></UrlBase>\n"
        f"  <Port>{port}</Port>\n  <BindAddress>*</BindAddress>\n"
        f"  <ApiKey>{api_key}</ApiKey>\n  <AuthenticationMethod>Forms</AuthenticationMethod>\n"
        "  <Branch>master</Branch>\n</Config>\n"
    )


def serve_peers(network: Any, remotes: Iterable[Any], *, category: str) -> None:
    """Serve a working app at each related app's URL that nothing serves yet.

    Radarr, Sonarr and Prowlarr test a connection before they save it, so a charm test
    needs the other end to answer: qBittorrent with the shared login, SABnzbd with the
    shared key and ``category``, Plex with the shared token and a Movie and a TV library,
    Radarr or Sonarr with the shared key. Prowlarr (media-indexer's provider) is left to
    the test.
    """
    from .fake_plex import FakePlexServer
    from .fake_qbittorrent import FakeQBittorrent
    from .fake_sabnzbd import FakeSabnzbd

    for remote in remotes:
        data = {k: json_loads(v) for k, v in remote.relation.remote_app_data.items()}
        url, kind = data.get("url"), data.get("kind")
        if not url or not remote.secrets:
            continue
        parts = urlsplit(str(url))
        address = f"{parts.hostname}:{parts.port}"
        if address in network.apps:
            continue
        content = remote.content()
        endpoint = remote.relation.endpoint
        peer: Any = None
        if endpoint == "download-client" and kind == "qbittorrent":
            peer = FakeQBittorrent(content["username"], content["password"])
        elif endpoint == "download-client" and kind == "sabnzbd":
            peer = FakeSabnzbd(content["api-key"])
            peer.add_user_category(category, f"/data/downloads/{category}")
        elif endpoint == "media-server":
            peer = FakePlexServer(None, token=content["token"])
            peer.add_library("movie", "Movies")
            peer.add_library("show", "TV Shows")
        elif endpoint == "media-indexer" and kind in ("radarr", "sonarr"):
            peer = FakeServarr(RADARR if kind == "radarr" else SONARR, content["api-key"])
        if peer is not None:
            network.add(address, peer)


def serve_at(network: Any, url: str, fake: FakeServarr) -> FakeServarr:
    """Serve ``fake`` at the host:port of ``url``."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    network.add(f"{parts.hostname}:{parts.port}", fake)
    return fake


def json_loads(value: str) -> Any:
    """Decode one JSON-encoded databag value."""
    import json

    return json.loads(value)
