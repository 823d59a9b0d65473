"""A stateful in-process fake of the Radarr, Sonarr (v3) and Prowlarr (v1) APIs.

It behaves as the real apps do where the charms depend on it:

- ``/ping`` is anonymous; everything else needs ``X-Api-Key`` (or ``?apikey=``) equal to
  the app's *current* key, else 401. The key can follow the ``config.xml`` the charm
  pushed (``config_path``), so a rotation is observable; ``frozen=True`` simulates an app
  that never picks up a new key.
- download clients, notifications, applications and root folders are kept with ids;
  provider names are unique (400 otherwise);
- credential fields (``password``, ``apiKey``, ``authToken``) are shown as ``********``
  on GET, and a PUT that sends ``********`` keeps the stored value;
- ``config/host`` holds the host config (API key, proxy settings).

``auth_log`` records every authenticated attempt in order, as ``(key, accepted)``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..http import Request, Response
from ..servarr import MASKED, PROWLARR, RADARR, SONARR, MediaManager, ServarrApp
from .fakes import FakeApp, json_response, text_response

SECRET_FIELDS = frozenset({"password", "apiKey", "authToken"})
PROVIDERS = frozenset({"downloadclient", "notification", "applications"})


def _key_from_xml(text: str) -> str | None:
    match = re.search(r"<ApiKey>\s*([^<\s]*)\s*</ApiKey>", text)
    return match.group(1) if match else None


class FakeServarr(FakeApp):
    """One Servarr app.

    Args:
        app: :data:`~charmarr_interfaces.servarr.RADARR`, ``SONARR`` or ``PROWLARR``.
        api_key: the key it accepts (until ``config_path`` says otherwise).
        config_path: the host path of ``/config/config.xml`` in the test's mount; when it
            holds an ``<ApiKey>``, that key is the current one.
        frozen: keep ``api_key`` whatever config.xml says (never accepts a new key).
    """

    def __init__(
        self,
        app: ServarrApp,
        api_key: str | None = None,
        *,
        config_path: Path | None = None,
        frozen: bool = False,
    ):
        super().__init__()
        self.app = app
        self._key = api_key
        self.config_path = config_path
        self.frozen = frozen
        self.auth_log: list[tuple[str | None, bool]] = []
        self.commands: list[str] = []
        self.store: dict[str, dict[int, dict[str, Any]]] = {
            "downloadclient": {},
            "notification": {},
            "applications": {},
            "rootfolder": {},
        }
        self._next_id = 1
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

    # -- the key -------------------------------------------------------------------------------

    @property
    def api_key(self) -> str | None:
        """The key the app accepts now."""
        if not self.frozen and self.config_path is not None and self.config_path.exists():
            key = _key_from_xml(self.config_path.read_text())
            if key:
                return key
        return self._key

    @api_key.setter
    def api_key(self, value: str | None) -> None:
        self._key = value

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

    # -- HTTP ----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request as the app would."""
        path = request.path.rstrip("/")
        if path == "/ping":
            return json_response({"status": "OK"})
        headers = {k.lower(): v for k, v in request.headers.items()}
        key = headers.get("x-api-key") or request.query.get("apikey")
        ok = key is not None and key == self.api_key
        self.auth_log.append((key, ok))
        if not ok:
            return text_response("Unauthorized", 401)
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
            self.commands.append(str(request.json().get("name")))
            return json_response({"id": len(self.commands), "name": self.commands[-1]}, 201)
        resource = parts[0]
        if resource not in self.store:
            return text_response("Not Found", 404)
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
                return self._update(resource, entry_id, request.json())
            if method == "DELETE":
                del self.store[resource][entry_id]
                return json_response({})
        return text_response("Method Not Allowed", 405)

    def _invalid(self, resource: str, body: Any, entry_id: int | None) -> str | None:
        if not isinstance(body, dict):
            return "body is not an object"
        if resource == "rootfolder":
            return None if isinstance(body.get("path"), str) and body["path"] else "path"
        if not isinstance(body.get("name"), str) or not body["name"]:
            return "name"
        if not isinstance(body.get("implementation"), str) or not isinstance(
            body.get("fields"), list
        ):
            return "implementation/fields"
        for other in self.store[resource].values():
            if other["name"] == body["name"] and other["id"] != entry_id:
                return "Should be unique"
        return None

    def _create(self, resource: str, body: Any) -> Response:
        problem = self._invalid(resource, body, None)
        if problem:
            return json_response([{"propertyName": problem, "errorMessage": "invalid"}], 400)
        if resource == "rootfolder" and body["path"] in self.named(resource):
            return json_response([{"propertyName": "path", "errorMessage": "exists"}], 400)
        stored = self.add(resource, body)
        return json_response(self._masked(stored), 201)

    def _update(self, resource: str, entry_id: int, body: Any) -> Response:
        problem = self._invalid(resource, body, entry_id)
        if problem:
            return json_response([{"propertyName": problem, "errorMessage": "invalid"}], 400)
        old = {f.get("name"): f.get("value") for f in self.store[resource][entry_id]["fields"]}
        stored = copy.deepcopy(body)
        stored["id"] = entry_id
        for item in stored["fields"]:
            if item.get("name") in SECRET_FIELDS and item.get("value") == MASKED:
                item["value"] = old.get(item["name"])
        self.store[resource][entry_id] = stored
        return json_response(self._masked(stored))

    def _masked(self, entry: dict[str, Any]) -> dict[str, Any]:
        shown = copy.deepcopy(entry)
        for item in shown.get("fields", []):
            if item.get("name") in SECRET_FIELDS and item.get("value"):
                item["value"] = MASKED
        return shown

    def _host(self, request: Request, rest: list[str]) -> Response:
        if request.method == "GET" and len(rest) <= 1:
            shown = dict(self.host, apiKey=self.api_key)
            shown["password"] = MASKED
            if shown["proxyPassword"]:
                shown["proxyPassword"] = MASKED
            return json_response(shown)
        if request.method == "PUT" and len(rest) == 1 and rest[0] == str(self.host["id"]):
            body = request.json()
            if not isinstance(body, dict):
                return json_response([{"errorMessage": "invalid"}], 400)
            for name in ("password", "proxyPassword"):
                if body.get(name) == MASKED:
                    body[name] = self.host[name]
            new_key = body.pop("apiKey", None)
            if new_key and new_key != self.api_key:
                self._key, self.frozen, self.config_path = new_key, True, None
            self.host.update({k: v for k, v in body.items() if k in self.host})
            return json_response(dict(self.host, apiKey=self.api_key))
        return text_response("Method Not Allowed", 405)


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
# ops.testing states of a deployed *arr charm
# ---------------------------------------------------------------------------------------------

MODEL_NAME = "media"
"""The model the builders' URLs point into (``<app>-0.<app>-endpoints.media.svc...``)."""


def config_xml(api_key: str, port: int) -> str:
    """A config.xml as the app leaves it after its first start."""
    return (
        "<Config>\n  <LogLevel>info</LogLevel>\n  <UrlBase></UrlBase>\n"
        f"  <Port>{port}</Port>\n  <BindAddress>*</BindAddress>\n"
        f"  <ApiKey>{api_key}</ApiKey>\n  <AuthenticationMethod>Forms</AuthenticationMethod>\n"
        "  <Branch>master</Branch>\n</Config>\n"
    )


def owned_key_secret(app: ServarrApp, api_key: str) -> Any:
    """The charm's own ``<app>-api-key`` secret, as it exists after the first deploy."""
    import ops
    from ops import testing

    return testing.Secret(
        {"api-key": api_key},
        owner="app",
        label=f"{app.name}-api-key",
        description=f"{app.title} API key",
        rotate=ops.SecretRotate.MONTHLY,
    )


def servarr_container(app: ServarrApp, config_dir: Path, *, deployed: bool = True) -> Any:
    """The workload container with /config mounted from ``config_dir``.

    ``deployed``: the charm's layer is planned and the service active.
    """
    from ops import pebble, testing

    from ..arr import pebble_layer

    kwargs: dict[str, Any] = {}
    if deployed:
        kwargs["layers"] = {app.name: pebble.Layer(pebble_layer(app))}  # type: ignore[arg-type]
        kwargs["service_statuses"] = {app.name: pebble.ServiceStatus.ACTIVE}
    return testing.Container(
        app.name,
        can_connect=True,
        mounts={"config": testing.Mount(location="/config", source=config_dir)},
        execs={testing.Exec(["chown"])},
        **kwargs,
    )


def servarr_state(
    app: ServarrApp,
    network: Any,
    *,
    relations: Iterable[Any] = (),
    leader: bool = True,
    deployed: bool = True,
    api_key: str | None = None,
    config_dir: Path | None = None,
    config: dict[str, Any] | None = None,
) -> tuple[Any, FakeServarr]:
    """The input state of an *arr charm and its workload fake, served on ``network``.

    ``relations``: :class:`~.builders.Remote` objects (their granted secrets are added).
    ``deployed``: the key secret exists, config.xml holds it, the service runs; otherwise
    a fresh unit (no secret, empty /config, nothing planned).
    """
    import tempfile

    from ops import testing

    from ..secrets import generate_token

    directory = config_dir or Path(tempfile.mkdtemp(prefix=f"charmarr-{app.name}-"))
    key = api_key or generate_token()
    secrets: list[Any] = []
    if deployed:
        (directory / "config.xml").write_text(config_xml(key, app.port))
        secrets.append(owned_key_secret(app, key))
    fake = FakeServarr(app, key if deployed else None, config_path=directory / "config.xml")
    network.add(f"localhost:{app.port}", fake)
    remotes = list(relations)
    for remote in remotes:
        secrets.extend(remote.secrets)
    if isinstance(app, MediaManager):
        # Radarr and Sonarr mount the shared media volume (the fake cluster has this PVC).
        config = {"media-volume": "charmarr-media", **(config or {})}
    state = testing.State(
        leader=leader,
        config=config or {},
        model=testing.Model(name=MODEL_NAME),
        containers={servarr_container(app, directory, deployed=deployed)},
        storages={testing.Storage("config")},
        relations={r.relation for r in remotes},
        secrets=secrets,
    )
    return state, fake


def serve_at(network: Any, url: str, fake: FakeServarr) -> FakeServarr:
    """Serve ``fake`` at the host:port of ``url``."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    network.add(f"{parts.hostname}:{parts.port}", fake)
    return fake


def media_manager_world(
    app: ServarrApp, network: Any, *, leader: bool = True, app_name: str | None = None
) -> tuple[Any, FakeServarr]:
    """Radarr or Sonarr with Prowlarr (which lists it), qBittorrent, SABnzbd and Plex related.

    ``app_name``: the charm's application name (``ops.testing`` uses the charm's name).
    """
    from ..cleanup import managed_name
    from . import builders

    prowlarr_key = "0" * 31 + "1"
    indexer = builders.media_indexer_from_prowlarr(api_key=prowlarr_key)
    prowlarr = FakeServarr(PROWLARR, prowlarr_key)
    prowlarr.add(
        "applications",
        {
            "name": managed_name(app_name or f"{app.name}-k8s"),
            "implementation": app.title,
            "fields": [],
        },
    )
    serve_at(network, str(json_loads(indexer.relation.remote_app_data["url"])), prowlarr)
    remotes = [
        indexer,
        builders.download_client_from_client(kind="qbittorrent"),
        builders.download_client_from_client(kind="sabnzbd"),
        builders.media_server_from_plex(),
    ]
    return servarr_state(app, network, relations=remotes, leader=leader)


def json_loads(value: str) -> Any:
    """Decode one JSON-encoded databag value."""
    import json

    return json.loads(value)
