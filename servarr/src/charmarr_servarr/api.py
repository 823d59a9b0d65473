"""The Servarr APIs (Radarr/Sonarr v3, Prowlarr v1): a client, payload builders, entry sync.

Radarr and Sonarr differ only by the constants in :class:`MediaManager` (:data:`RADARR`,
:data:`SONARR`); Prowlarr is :data:`PROWLARR`. Everything here is workload-side and knows
nothing of Juju: the charms decide *what* they want, this module says how the apps spell it.

Masked fields: on GET the apps show ``password``/``apiKey``/``authToken`` as
:data:`MASKED`; a PUT that sends :data:`MASKED` keeps the stored value. So an entry is
never compared against a masked value: :func:`sync_entries` compares the plain fields it
manages and, for credentials, a hash of what it last applied (kept by the caller outside
any databag, see :class:`Desired`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from charmarr_common import cleanup
from charmarr_common.errors import CharmarrError
from charmarr_common.http import HttpClient, Response, WorkloadHttpError

MASKED = "********"
"""How the Servarr apps show a credential field on GET (and keep it on PUT)."""


@dataclass(frozen=True)
class ServarrApp:
    """The constants of one Servarr application."""

    name: str
    """Short lowercase name: container, service and secret-label prefix (``radarr``)."""
    title: str
    """Display name and implementation name in other apps (``Radarr``)."""
    port: int
    api: str
    """API prefix, ``/api/v3`` or ``/api/v1``."""
    binary: str
    """The app's executable in the linuxserver image."""


@dataclass(frozen=True)
class MediaManager(ServarrApp):
    """Radarr or Sonarr: the whole difference between the two charms."""

    kind: Literal["radarr", "sonarr"] = "radarr"
    category_field: str = "movieCategory"
    """The download-client field that holds the category."""
    root_folder: str = "/data/movies"
    library: str = "Movie"
    """The Plex library type its Plex connection needs (Radarr: Movie, Sonarr: TV)."""
    sync_categories: tuple[int, ...] = ()
    """Newznab categories Prowlarr syncs to this app."""


RADARR = MediaManager(
    name="radarr",
    title="Radarr",
    port=7878,
    api="/api/v3",
    binary="/app/radarr/bin/Radarr",
    kind="radarr",
    category_field="movieCategory",
    root_folder="/data/movies",
    sync_categories=(2000, 2010, 2020, 2030, 2040, 2045, 2050, 2060, 2070, 2080, 2090),
)
SONARR = MediaManager(
    name="sonarr",
    title="Sonarr",
    port=8989,
    api="/api/v3",
    binary="/app/sonarr/bin/Sonarr",
    kind="sonarr",
    category_field="tvCategory",
    root_folder="/data/tv",
    library="TV",
    sync_categories=(5000, 5010, 5020, 5030, 5040, 5045, 5050, 5090),
)
PROWLARR = ServarrApp(
    name="prowlarr",
    title="Prowlarr",
    port=9696,
    api="/api/v1",
    binary="/app/prowlarr/bin/Prowlarr",
)
MEDIA_MANAGERS: Mapping[str, MediaManager] = {"radarr": RADARR, "sonarr": SONARR}
"""By ``kind`` as published on ``media-indexer``."""

DOWNLOAD_CLIENTS = "downloadclient"
NOTIFICATIONS = "notification"
APPLICATIONS = "applications"
ROOT_FOLDERS = "rootfolder"
INDEXERS = "indexer"
HOST_CONFIG = "config/host"
INDEXER_SYNC = "ApplicationIndexerSync"
"""Prowlarr's command that pushes its indexers into every application."""


class RefusedError(CharmarrError):
    """The app refused a write (HTTP 400): ``failures`` are its own validation messages.

    A POST of a provider runs the provider's connection test even with ``forceSave``
    (Servarr ``ProviderControllerBase.CreateProvider``), so a refusal usually means the
    other end is not ready or not set up. Only each failure's ``errorMessage`` is kept:
    the apps also echo the ``attemptedValue``, which may be a credential.
    """

    def __init__(self, message: str, failures: tuple[str, ...], entry: str = ""):
        super().__init__(message)
        self.failures = failures
        self.entry = entry


def validation_failures(response: Response, secrets: Iterable[str] = ()) -> tuple[str, ...]:
    """The ``errorMessage`` of each validation failure in a 400 body, secrets scrubbed."""
    try:
        body = response.json()
    except ValueError:
        body = None
    items = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
    messages: list[str] = []
    for item in items:
        text = item.get("errorMessage") or item.get("message") if isinstance(item, dict) else None
        if not isinstance(text, str) or not text.strip():
            continue
        for secret in secrets:
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        text = " ".join(text.split())[:200]
        if text not in messages:
            messages.append(text)
    return tuple(messages)


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------


class ServarrClient:
    """One Servarr app's API, authenticated with its API key (``X-Api-Key``).

    Every method raises :class:`~.http.WorkloadUnreachableError` (Waiting) when nothing
    answers and :class:`~.http.WorkloadHttpError` on an unexpected status or a body that is
    not what the API documents.
    """

    def __init__(
        self, base_url: str, app: ServarrApp, api_key: str, *, name: str, timeout: float = 5.0
    ):
        self.app = app
        self.name = name
        self._http = HttpClient(
            base_url, name=name, headers={"X-Api-Key": api_key}, timeout=timeout
        )
        self._anonymous = HttpClient(base_url, name=name, timeout=timeout)

    def ping(self) -> None:
        """Anonymous ``GET /ping``: the app is up (``{"status": "OK"}``)."""
        response = self._anonymous.request("GET", "/ping")
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or str(answer.get("status", "")).lower() != "ok":
            # Something answers but it is not the app (yet): wait, as for a starting app.
            raise WorkloadHttpError(f"{self.name} answered /ping unexpectedly", 503)

    def status(self) -> dict[str, Any]:
        """``GET system/status``: proves the API key works."""
        answer = self._http.get_json(f"{self.app.api}/system/status")
        if not isinstance(answer, dict):
            raise WorkloadHttpError(f"{self.name} answered system/status unexpectedly")
        return answer

    def list(self, resource: str) -> list[dict[str, Any]]:
        """``GET <resource>``: entries with an integer ``id`` (others are ignored)."""
        path = f"{self.app.api}/{resource}"
        answer = self._http.get_json(path)
        if not isinstance(answer, list):
            raise WorkloadHttpError(f"{self.name} answered {path} with something not a list")
        return [e for e in answer if isinstance(e, dict) and isinstance(e.get("id"), int)]

    def create(
        self,
        resource: str,
        payload: Mapping[str, Any],
        *,
        force: bool = True,
        secrets: Iterable[str] = (),
    ) -> Any:
        """``POST <resource>`` (``forceSave`` skips warnings; the connection test still runs).

        Raises:
            RefusedError: HTTP 400, with the app's validation messages (``secrets``, the
                payload's credential values, are scrubbed from them).
        """
        params = {"forceSave": "true"} if force else None
        path = f"{self.app.api}/{resource}"
        response = self._write("POST", path, params, payload, secrets)
        return self._http.json_of(response, path)

    def update(
        self,
        resource: str,
        entry_id: int,
        payload: Mapping[str, Any],
        *,
        secrets: Iterable[str] = (),
    ) -> None:
        """``PUT <resource>/<id>?forceSave=true`` (no connection test); 400 is RefusedError."""
        path = f"{self.app.api}/{resource}/{entry_id}"
        self._write("PUT", path, {"forceSave": "true"}, payload, secrets)

    def _write(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        payload: Mapping[str, Any],
        secrets: Iterable[str],
    ) -> Response:
        expect = (200, 201, 202, 204, 400)
        response = self._http.request(
            method, path, params=params, json=dict(payload), expect=expect
        )
        if response.status == 400:
            failures = validation_failures(response, secrets)
            name = str(payload.get("name") or payload.get("path") or "")
            said = "; ".join(failures) or "no reason given"
            raise RefusedError(f"{self.name} refused {name}: {said}", failures, name)
        return response

    def test(self, resource: str, entry: Mapping[str, Any]) -> None:
        """``POST <resource>/test``: the app tests a stored entry (masked fields as stored).

        Raises:
            RefusedError: the test failed, with the app's messages.
        """
        self._write("POST", f"{self.app.api}/{resource}/test", None, entry, ())

    def delete(self, resource: str, entry_id: int) -> None:
        """``DELETE <resource>/<id>``."""
        self._http.request("DELETE", f"{self.app.api}/{resource}/{entry_id}")

    def host_config(self) -> dict[str, Any]:
        """``GET config/host``."""
        path = f"{self.app.api}/{HOST_CONFIG}"
        answer = self._http.get_json(path)
        if not isinstance(answer, dict) or not isinstance(answer.get("id"), int):
            raise WorkloadHttpError(f"{self.name} answered {path} unexpectedly")
        return answer

    def put_host_config(self, config: Mapping[str, Any]) -> None:
        """``PUT config/host/<id>`` with the whole host config."""
        path = f"{self.app.api}/{HOST_CONFIG}/{config['id']}"
        self._http.request("PUT", path, json=dict(config))

    def command(self, name: str, **options: Any) -> None:
        """``POST command``: the body is the command, so options go beside its ``name``.

        E.g. ``command(INDEXER_SYNC, forceSync=True)``: Prowlarr deserializes the whole body
        into ``ApplicationIndexerSyncCommand``.
        """
        self._http.request("POST", f"{self.app.api}/command", json={"name": name, **options})


# ---------------------------------------------------------------------------------------------
# Fields
# ---------------------------------------------------------------------------------------------


def field_values(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An entry's ``fields`` as ``{name: value}``."""
    fields = entry.get("fields")
    if not isinstance(fields, list):
        return {}
    return {
        f["name"]: f.get("value")
        for f in fields
        if isinstance(f, dict) and isinstance(f.get("name"), str)
    }


def _fields(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"name": name, "value": value} for name, value in values.items()]


def merge_fields(existing: Iterable[Any], values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The existing fields (with their metadata) with ``values`` set; new names appended."""
    merged: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in existing:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        updated = dict(item)
        if updated["name"] in values:
            updated["value"] = values[updated["name"]]
            seen.add(updated["name"])
        merged.append(updated)
    merged.extend({"name": k, "value": v} for k, v in values.items() if k not in seen)
    return merged


def split_url(url: str) -> tuple[str, int, bool, str]:
    """``(host, port, use_ssl, url_base)`` of an http(s) URL."""
    parts = urlsplit(url)
    ssl = parts.scheme == "https"
    return parts.hostname or "", parts.port or (443 if ssl else 80), ssl, parts.path.rstrip("/")


def credential_hash(name: str, secrets: Mapping[str, Any]) -> str:
    """A one-way fingerprint of the credentials applied to the entry ``name``.

    Stored by the charm (never in a databag) to tell whether the workload already holds the
    current credential, since the app masks it on GET. The credentials are random tokens, so
    a hash reveals nothing.
    """
    blob = json.dumps([name, dict(sorted(secrets.items()))], sort_keys=True).encode()
    return hashlib.sha256(b"charmarr-applied\0" + blob).hexdigest()[:32]


# ---------------------------------------------------------------------------------------------
# Credentials read only when an entry is written
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretSource:
    """Where an entry's credentials come from: a consumed secret, read only when needed.

    A consumer's ``secret-get`` answers the revision it tracks, and that changes only when
    it reads with ``refresh`` (on ``secret-changed``). So once the charm recorded a proof
    (:func:`proof`) that it applied the content it read for ``basis`` (the secret's ID,
    and whatever else the applied value depends on), every later hook for the same basis
    would read the same content: the entry needs no ``secret-get`` unless a plain field
    changed. A ``fresh`` source (this hook may bring a new revision) is always read.
    """

    basis: str
    """The secret's ID (plus any plain input the applied value depends on)."""
    read: Callable[[], Mapping[str, str]] = field(repr=False, compare=False)
    """The secret's content; raises a :class:`~charmarr_common.errors.CharmarrError`."""
    fresh: bool = False
    """Read whatever the proof says (the hook is ``secret-changed``)."""

    @classmethod
    def known(cls, content: Mapping[str, str]) -> SecretSource:
        """Content already in hand: always compared through its fingerprint."""
        return cls(basis="", read=lambda: content, fresh=True)


def proof(name: str, content: Mapping[str, Any], basis: str) -> str:
    """What the charm records once it applied ``content`` read for ``basis``."""
    return f"{credential_hash(name, content)}@{basis}"


def proven(recorded: str | None, source: SecretSource) -> bool:
    """Whether ``recorded`` proves the workload holds what ``source`` would read now."""
    return (
        not source.fresh
        and bool(source.basis)
        and recorded is not None
        and recorded.endswith(f"@{source.basis}")
    )


def _source(credentials: Mapping[str, str] | SecretSource) -> SecretSource:
    if isinstance(credentials, SecretSource):
        return credentials
    return SecretSource.known(dict(credentials))


# ---------------------------------------------------------------------------------------------
# Payload builders
# ---------------------------------------------------------------------------------------------


class Desired:
    """One managed entry as the charm wants it.

    ``plain`` is the entry without its credentials, compared by value; ``secret_fields``
    maps each credential field to its key in the secret, compared through the proof the
    caller recorded when it last applied them (the app masks them on GET). The secret is
    read only when the entry is written or the proof does not cover this hook.
    """

    def __init__(
        self,
        plain: dict[str, Any],
        secret_fields: Mapping[str, str] | None = None,
        source: SecretSource | None = None,
    ):
        self.plain = plain
        self.secret_fields = dict(secret_fields or {})
        self.source = source
        self._credentials: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"Desired({self.name!r})"

    @property
    def name(self) -> str:
        """The entry's display name."""
        return str(self.plain["name"])

    @property
    def plain_fields(self) -> dict[str, Any]:
        """Managed fields compared by value."""
        return field_values(self.plain)

    def credentials(self) -> dict[str, Any]:
        """The credential fields' values (the secret read once; may raise CharmarrError)."""
        if self._credentials is None:
            content = self.source.read() if self.source else {}
            self._credentials = {f: content[key] for f, key in self.secret_fields.items()}
        return self._credentials

    @property
    def payload(self) -> dict[str, Any]:
        """What a POST sends: the plain entry with its credentials."""
        return {**self.plain, "fields": merge_fields(self.plain["fields"], self.credentials())}

    @property
    def secret_values(self) -> tuple[str, ...]:
        """The credential values, to keep out of any message."""
        return tuple(str(v) for v in self.credentials().values() if v)

    @property
    def fingerprint(self) -> str:
        """The proof to record once the credentials are applied."""
        basis = self.source.basis if self.source else ""
        return proof(self.name, self.credentials(), basis)

    def applied_as(self, recorded: str | None) -> bool:
        """Whether ``recorded`` shows the workload holds these credentials."""
        if not self.secret_fields:
            return True
        if self.source is not None and proven(recorded, self.source):
            return True
        return recorded == self.fingerprint


DOWNLOAD_CLIENT_IMPLEMENTATIONS: Mapping[str, tuple[str, str]] = {
    "qbittorrent": ("QBittorrent", "torrent"),
    "sabnzbd": ("Sabnzbd", "usenet"),
}
"""Client kind -> (implementation, protocol)."""


def download_client(
    app: MediaManager,
    *,
    name: str,
    kind: str,
    url: str,
    category: str,
    credentials: Mapping[str, str] | SecretSource,
) -> Desired:
    """A QBittorrent or Sabnzbd download client in Radarr/Sonarr.

    ``credentials``: qBittorrent's ``username``/``password`` or SABnzbd's ``api-key``.
    """
    implementation, protocol = DOWNLOAD_CLIENT_IMPLEMENTATIONS[kind]
    host, port, ssl, base = split_url(url)
    values: dict[str, Any] = {"host": host, "port": port, "useSsl": ssl, "urlBase": base}
    values[app.category_field] = category
    if kind == "qbittorrent":
        secret_fields = {"username": "username", "password": "password"}
    else:
        secret_fields = {"apiKey": "api-key"}
    payload = {
        "name": name,
        "implementation": implementation,
        "configContract": f"{implementation}Settings",
        "protocol": protocol,
        "enable": True,
        "priority": 1,
        "removeCompletedDownloads": True,
        "removeFailedDownloads": True,
        "tags": [],
        "fields": _fields(values),
    }
    return Desired(payload, secret_fields, _source(credentials))


def plex_notification(
    app: MediaManager, *, name: str, url: str, credentials: Mapping[str, str] | SecretSource
) -> Desired:
    """A "Plex Media Server" connection that updates the library on import/upgrade/rename.

    ``credentials``: Plex's ``token``.
    """
    del app  # the same in Radarr and Sonarr
    host, port, ssl, _ = split_url(url)
    values = {"host": host, "port": port, "useSsl": ssl, "updateLibrary": True}
    payload = {
        "name": name,
        "implementation": "PlexServer",
        "configContract": "PlexServerSettings",
        "onGrab": False,
        "onDownload": True,
        "onUpgrade": True,
        "onRename": True,
        "includeHealthWarnings": False,
        "tags": [],
        "fields": _fields(values),
    }
    return Desired(payload, {"authToken": "token"}, _source(credentials))


def prowlarr_application(
    target: MediaManager,
    *,
    name: str,
    prowlarr_url: str,
    base_url: str,
    credentials: Mapping[str, str] | SecretSource,
) -> Desired:
    """A Prowlarr application that syncs indexers to Radarr/Sonarr (full sync).

    ``credentials``: the target's ``api-key``.
    """
    values = {
        "prowlarrUrl": prowlarr_url,
        "baseUrl": base_url,
        "syncCategories": list(target.sync_categories),
    }
    payload = {
        "name": name,
        "implementation": target.title,
        "configContract": f"{target.title}Settings",
        "syncLevel": "fullSync",
        "tags": [],
        "fields": _fields(values),
    }
    return Desired(payload, {"apiKey": "api-key"}, _source(credentials))


# ---------------------------------------------------------------------------------------------
# Sync of managed entries
# ---------------------------------------------------------------------------------------------


def differs(existing: Mapping[str, Any], desired: Desired, applied: str | None) -> bool:
    """Whether ``existing`` must be updated: a managed value differs or the credential changed.

    Masked values are never compared: credentials are judged by the proof the caller
    recorded when it last applied them (``applied``), reading the secret only when the
    proof does not cover this hook (:meth:`Desired.applied_as`).

    Raises:
        CharmarrError: the secret had to be read and could not be.
    """
    for key, value in desired.plain.items():
        if key in ("fields", "tags"):
            continue
        if existing.get(key) != value:
            return True
    current = field_values(existing)
    if any(current.get(k) != v for k, v in desired.plain_fields.items()):
        return True
    return not desired.applied_as(applied)


@dataclass
class SyncResult:
    """What :func:`sync_entries` did, by entry name."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    refused: list[RefusedError] = field(default_factory=list)
    """Entries the app would not save (created or updated on a later hook)."""
    unreadable: list[CharmarrError] = field(default_factory=list)
    """Why an entry's secret could not be read (the entry is kept as it is)."""

    @property
    def changed(self) -> bool:
        """Whether anything was written to the workload."""
        return bool(self.created or self.updated or self.deleted)


def sync_entries(
    client: ServarrClient,
    resource: str,
    wanted: Mapping[str, Desired],
    applied: MutableMapping[str, str],
    *,
    keep: Iterable[str] = (),
) -> SyncResult:
    """Create, update and delete the managed entries of ``resource``.

    Args:
        client: the app holding the entries.
        resource: e.g. :data:`DOWNLOAD_CLIENTS`.
        wanted: managed name -> desired entry, one per usable live relation.
        applied: ``"<resource>/<name>" ->`` the proof (:func:`proof`) of the credentials
            last applied; updated in place (the caller persists it, outside any databag).
        keep: managed names whose relation is live but unusable right now (invalid data,
            secret not granted yet): neither updated nor deleted.

    Entries whose name lacks the managed marker are the user's and are never touched. An
    entry the app refuses (:class:`RefusedError`) is left out of ``applied`` and listed in
    the result's ``refused``; one whose secret cannot be read is kept as it is and its
    reason listed in ``unreadable``; the others are still synced. Either way its proof is
    dropped, so the next hook reads its secret again.
    """
    kept = set(keep)
    result = SyncResult()

    def failed(desired: Desired, error: CharmarrError) -> None:
        # Its proof no longer covers what the next hook would read: it reads again.
        applied.pop(f"{resource}/{desired.name}", None)
        if isinstance(error, RefusedError):
            result.refused.append(error)
        else:  # its secret could not be read: the entry stays as it is
            result.unreadable.append(error)
            kept.add(desired.name)

    def must_update(entry: Mapping[str, Any], desired: Desired) -> bool:
        try:
            return differs(entry, desired, applied.get(f"{resource}/{desired.name}"))
        except CharmarrError as e:
            failed(desired, e)
            return False

    existing = client.list(resource)
    plan = cleanup.plan(
        wanted, existing, name_of=lambda e: str(e.get("name", "")), differs=must_update
    )
    for name, desired in plan.create.items():
        try:
            payload = desired.payload
        except CharmarrError as e:
            failed(desired, e)
            continue
        try:
            client.create(resource, payload, secrets=desired.secret_values)
        except RefusedError as e:
            failed(desired, e)
            continue
        _record(applied, resource, desired)
        result.created.append(name)
    for name, (entry, desired) in plan.update.items():
        body = {k: v for k, v in entry.items() if k != "fields"}
        body.update({k: v for k, v in desired.plain.items() if k != "fields"})
        body["id"] = entry["id"]
        try:
            values = {**desired.plain_fields, **desired.credentials()}
        except CharmarrError as e:
            failed(desired, e)
            continue
        body["fields"] = merge_fields(entry.get("fields") or [], values)
        try:
            client.update(resource, entry["id"], body, secrets=desired.secret_values)
        except RefusedError as e:
            failed(desired, e)
            continue
        _record(applied, resource, desired)
        result.updated.append(name)
    for name, entry in plan.delete.items():
        if name in kept:
            continue
        client.delete(resource, entry["id"])
        applied.pop(f"{resource}/{name}", None)
        result.deleted.append(name)
    for key in [k for k in applied if k.startswith(f"{resource}/")]:
        name = key[len(resource) + 1 :]
        if name not in wanted and name not in kept:
            applied.pop(key)
    return result


def _record(applied: MutableMapping[str, str], resource: str, desired: Desired) -> None:
    if desired.secret_fields:
        applied[f"{resource}/{desired.name}"] = desired.fingerprint


# ---------------------------------------------------------------------------------------------
# Host config: Prowlarr's HTTP proxy
# ---------------------------------------------------------------------------------------------

PROXY_BYPASS = "*.svc.cluster.local,*.cluster.local,localhost,127.0.0.1"
"""In-cluster names stay off the VPN so Prowlarr still reaches Radarr and Sonarr."""


@dataclass(frozen=True)
class Proxy:
    """An HTTP proxy for the app's outgoing traffic."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)

    def settings(self) -> dict[str, Any]:
        """The host-config values, password excluded."""
        return {
            "proxyEnabled": True,
            "proxyType": "http",
            "proxyHostname": self.host,
            "proxyPort": self.port,
            "proxyUsername": self.username,
            "proxyBypassFilter": PROXY_BYPASS,
            "proxyBypassLocalAddresses": True,
        }

    @property
    def fingerprint(self) -> str:
        """The hash of the proxy password, to tell if the app holds the current one."""
        return credential_hash("proxy", {"password": self.password})


NO_PROXY: Mapping[str, Any] = {
    "proxyEnabled": False,
    "proxyHostname": "",
    "proxyUsername": "",
    "proxyPassword": "",
}


def proxy_update(
    current: Mapping[str, Any], proxy: Proxy | None, applied: str | None
) -> dict[str, Any] | None:
    """The host config to PUT to make the proxy match ``proxy``, or None if it already does.

    ``applied`` is the fingerprint recorded when the charm last set a proxy (None if it never
    did); with ``proxy`` None a proxy is only removed if the charm set it. Prowlarr returns
    ``proxyPassword`` as stored (``HostConfigResource``), so a password changed in its UI is
    seen and put back; a masked one is judged by the fingerprint alone.
    """
    if proxy is None:
        if applied is None:
            return None
        return {**current, **NO_PROXY}
    wanted = proxy.settings()
    shown = current.get("proxyPassword")
    password_ok = shown in (MASKED, proxy.password) and applied == proxy.fingerprint
    if all(current.get(k) == v for k, v in wanted.items()) and password_ok:
        return None
    return {**current, **wanted, "proxyPassword": proxy.password}
