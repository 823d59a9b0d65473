"""The charm logic shared by Prowlarr, Radarr and Sonarr.

- ``config.xml`` handling: the API key lives in ``/config/config.xml`` ``<ApiKey>``; it is
  written with a real XML parser that keeps every other setting, before the app first
  starts, and never through the environment (``*__AUTH__APIKEY`` would override the file
  and show up in ``pebble plan``).
- config.xml also pins ``Port``, ``BindAddress`` and ``UrlBase`` (every integration
  depends on them) and is put back, with a restart, when they drift.
- The Pebble layer: the app runs directly as 1000:1000 with what the image's s6 init
  would have given it (``TMPDIR`` created, ``HOME``, working directory) and a readiness
  check on the anonymous ``/ping``.
- A write the app refuses (its connection test runs even with ``forceSave``) becomes a
  status with the app's own reasons: Waiting and retried when it is passing, Blocked with
  what to do when the user must act (a Plex library).
- :class:`ArrCharm`: the holistic reconcile (owned key secret, config.xml, layer, ports,
  health, per-relation wiring) with collect-status, and key rotation: new key ->
  config.xml -> restart -> bounded wait until an authenticated call with the new key works
  -> only then :class:`~.secrets.CredentialRotation` publishes the revision.
- :class:`MediaManagerCharm`: Radarr and Sonarr, which differ only by a
  :class:`~.servarr.MediaManager` table: media-indexer requirer (publish, check Prowlarr
  lists us), download clients, Plex notifications and the root folder.

What a charm applied to its workload's credential fields is tracked as proofs in
``/config/.charmarr-applied.json`` (see :func:`~.servarr.proof`): not a databag, no secret
content, and it lives and dies with the workload's own database. A proof names the secret
ID it was read from, so a full reconcile reads a consumed secret only when an entry must be
written or the hook is ``secret-changed`` (:class:`~.servarr.SecretSource`).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import ops
from ops import pebble

from charmarr_common.charm import CharmarrCharm, Report, RotationConfig
from charmarr_common.cleanup import managed_name
from charmarr_common.errors import CharmarrError, WaitingError
from charmarr_common.http import WorkloadHttpError
from charmarr_common.k8s import PodPatcher, ensure_media_volume
from charmarr_common.rotation import generate_token
from charmarr_common.safe_text import line_safe
from charmarr_common.service import WebIngress
from charmarr_common.workload import (
    answers,
    ensure_layer,
    layer_differs,
    poll,
    pull_text,
    push_if_changed,
    service_url,
    take_ownership,
)
from charmarr_interfaces.download_client import CREDENTIAL_KEYS, DownloadClientRequirer
from charmarr_interfaces.endpoint import Endpoint, InvalidRelationData, RemoteData
from charmarr_interfaces.media_indexer import API_KEY, MediaIndexerRequirer
from charmarr_interfaces.media_server import TOKEN, MediaServerRequirer
from charmarr_interfaces.secret_ids import (
    OwnedSecret,
    OwnedState,
    check_secret_id,
    read_consumed_secret,
)

from . import api as servarr

logger = logging.getLogger(__name__)

CONFIG_DIR = "/config"
CONFIG_XML = "/config/config.xml"
APPLIED_FILE = "/config/.charmarr-applied.json"
USER_ID = 1000
GROUP_ID = 1000


_URL_BASE_MEMO = "url-base"
"""The leader's memo of the ``UrlBase`` its last reconcile wrote to config.xml."""

_KEY_REFUSED = re.compile(r"invalid credentials|invalid api key", re.IGNORECASE)
"""How Radarr/Sonarr word an indexer test that Prowlarr refused for its key."""


class ConfigXmlError(CharmarrError):
    """``config.xml`` exists but cannot be used; the charm will not overwrite it."""


# ---------------------------------------------------------------------------------------------
# config.xml
# ---------------------------------------------------------------------------------------------


def _parse(text: str) -> Any:
    import xml.etree.ElementTree as ET

    # The file is the app's own config in our own container, not untrusted input.
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))  # noqa: S314
    try:
        root = ET.fromstring(text, parser=parser)  # noqa: S314
    except ET.ParseError as e:
        raise ConfigXmlError(
            f"{CONFIG_XML} is not valid XML (line {e.position[0]}): fix or move it away"
        ) from None
    if root.tag != "Config":
        raise ConfigXmlError(f"{CONFIG_XML} has no <Config> root: fix or move it away")
    return root


def read_api_key(text: str | None) -> str | None:
    """The ``<ApiKey>`` in a config.xml text (None if absent or empty)."""
    if not text or not text.strip():
        return None
    element = _parse(text).find("ApiKey")
    return (element.text or "").strip() or None if element is not None else None


def pinned_settings(app: servarr.ServarrApp, api_key: str, url_base: str = "") -> dict[str, str]:
    """The config.xml settings the charm owns: the key and where the app listens.

    Every call the charm and the related apps make goes to ``<Port>`` under ``url_base``;
    a port, bind address or URL base changed in the web UI would refuse them or answer
    with a redirect. ``url_base`` is the ingress's path prefix (``""`` without one): the
    app redirects every request outside it (Radarr ``UrlBaseMiddleware``) and reads
    config.xml at start only, so a change means a restart.
    """
    return {"ApiKey": api_key, "Port": str(app.port), "BindAddress": "*", "UrlBase": url_base}


def render_config_xml(current: str | None, settings: Mapping[str, str]) -> str:
    """``current`` with each of ``settings`` (element -> text) set; every other one kept.

    Returns ``current`` unchanged (byte for byte) when it already holds them, so the
    caller's compare-before-write sees no change even if the app reformatted the file.

    Raises:
        ConfigXmlError: ``current`` is not a Servarr config.xml.
    """
    import xml.etree.ElementTree as ET

    for tag, value in settings.items():
        # ElementTree escapes markup but writes control characters as they are: XML 1.0
        # forbids them, and the app would refuse the whole file.
        line_safe(value, what=f"<{tag}>", file=CONFIG_XML)
    if current is None or not current.strip():
        root = ET.Element("Config")
        for tag, value in settings.items():
            ET.SubElement(root, tag).text = value
        ET.indent(root, space="  ")
        return ET.tostring(root, encoding="unicode") + "\n"
    root = _parse(current)

    def text_of(tag: str) -> str | None:
        element = root.find(tag)
        return None if element is None else (element.text or "").strip()

    if all(text_of(tag) == value for tag, value in settings.items()):
        return current
    for tag, value in settings.items():
        element = root.find(tag)
        if element is None:
            element = ET.SubElement(root, tag)
            children = list(root)
            if len(children) > 1:
                element.tail, children[-2].tail = children[-2].tail, children[0].tail
        element.text = value
    declaration = ""
    stripped = current.lstrip()
    if stripped.startswith("<?xml"):
        declaration = stripped[: stripped.index("?>") + 2] + "\n"
    return declaration + ET.tostring(root, encoding="unicode") + "\n"


def temp_dir(app: servarr.ServarrApp) -> str:
    """The image's ``TMPDIR`` (``/run/<app>-temp``), which only its s6 init creates."""
    return f"/run/{app.name}-temp"


def pebble_layer(app: servarr.ServarrApp, url_base: str = "") -> pebble.LayerDict:
    """Run the app directly (no s6 init) as 1000:1000; ready when ``<url_base>/ping`` answers.

    The environment is what the linuxserver image and its s6 scripts give the app
    (``Dockerfile`` ``ENV``; ``init-<app>-config`` creates ``TMPDIR``, which the charm
    does before each start; the ``abc`` user's home is ``/config``), and the working
    directory is the one ``svc-<app>/run`` changes to. No credential: the key is in
    config.xml only.
    """
    return {
        "summary": f"{app.title} (Charmarr)",
        "services": {
            app.name: {
                "override": "replace",
                "summary": app.title,
                "command": f"{app.binary} -nobrowser -data={CONFIG_DIR}",
                "startup": "enabled",
                "user-id": USER_ID,
                "group-id": GROUP_ID,
                "working-dir": app.binary.rsplit("/", 1)[0],
                "environment": {
                    "HOME": CONFIG_DIR,
                    "TMPDIR": temp_dir(app),
                    "XDG_CONFIG_HOME": f"{CONFIG_DIR}/xdg",
                    "COMPlus_EnableDiagnostics": "0",
                },
            }
        },
        "checks": {
            f"{app.name}-ready": {
                "override": "replace",
                "level": "ready",
                "period": "10s",
                "threshold": 3,
                "http": {"url": f"http://localhost:{app.port}{url_base}/ping"},
            }
        },
    }  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# The base charm
# ---------------------------------------------------------------------------------------------


class ArrCharm(CharmarrCharm):
    """What Prowlarr, Radarr and Sonarr have in common. Subclasses set :attr:`servarr`."""

    servarr: ClassVar[servarr.ServarrApp]
    config_type = RotationConfig
    ready = "ready"
    rotation_attempts: ClassVar[int] = 60
    """How many times a rotation asks the restarted app to accept the new key."""
    rotation_poll: ClassVar[float] = 2.0
    """Seconds between those attempts (so at most about two minutes)."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.workload = self.servarr.name
        self.ports = (self.servarr.port,)
        self.container = self.unit.get_container(self.servarr.name)
        self.label = f"{self.servarr.name}-api-key"
        self.key_secret = OwnedSecret(
            self,
            self.label,
            lambda: {API_KEY: generate_token()},
            description=f"{self.servarr.title} API key",
        )
        self.rotate_with(rotate=self._rotate_key, action_label=self.label)
        self._applied: dict[str, str] | None = None
        self._applied_text: str | None = None
        self._api_key = ""
        self.converge_with(service=self.servarr.name, probe=self._pings)
        self.ingress = WebIngress(self, port=self.servarr.port, internal_url=lambda: self.url)

    def owned_secrets(self) -> list[OwnedSecret]:
        """The API key."""
        return [self.key_secret]

    def standby_layers(self) -> dict[str, tuple[str, pebble.LayerDict]]:
        """The app's service and its ``/ping`` check."""
        layer = pebble_layer(self.servarr, self.ingress.base_path)
        return {self.servarr.name: (self.servarr.name, layer)}

    def pebble_problem(self, error: Exception) -> CharmarrError:
        """Pebble not answering yet: the container is starting."""
        if isinstance(error, pebble.ConnectionError):
            return WaitingError(f"waiting for Pebble in {self.container.name}")
        return super().pebble_problem(error)

    def _pings(self) -> bool:
        """The anonymous ``/ping`` answers (under the URL base the last reconcile wrote).

        Only a converged leader asks, so its memo holds that base: no ``relation-ids`` of
        the ingress endpoint in a converged ``update-status``.
        """
        base = self.leader_memo.values.get(_URL_BASE_MEMO)
        return answers(self.local_client("", base).ping)

    # -- reconcile -----------------------------------------------------------------------------

    def reconcile(self) -> None:
        """The holistic reconcile, then the ingress request (a standby's unit data too)."""
        super().reconcile()
        self.ingress.publish()

    def converge(self, report: Report) -> None:
        """The key secret and its publication, the pod, the workload, then the wiring."""
        current = self._read_config_xml()
        held = self._held_key(current)
        key_state = self.ensure_owned(self.key_secret, API_KEY, held=held)
        api_key = key_state.content[API_KEY]
        report.attempt(self._publish, key_state)
        report.attempt(self._ensure_pod)
        self._ensure_workload(api_key, current)
        self._api_key = api_key
        client = self.local_client(api_key)
        self._check_workload(client)
        self._wire(client, report)
        self._save_applied()
        report.add(*self.ingress.problems())
        note = self.ingress.note()
        if note:
            report.note(note)

    def _ensure_pod(self) -> None:
        """What this app needs from its own StatefulSet (nothing, for Prowlarr)."""

    def local_client(self, api_key: str, url_base: str | None = None) -> servarr.ServarrClient:
        """This unit's workload API (under ``url_base``; by default the ingress's path)."""
        path = self.ingress.base_path if url_base is None else url_base
        base = f"http://localhost:{self.servarr.port}{path}"
        return servarr.ServarrClient(base, self.servarr, api_key, name=self.servarr.name)

    @property
    def url(self) -> str:
        """The in-cluster URL other apps use for this one (under the ingress's base path)."""
        return service_url(self, self.servarr.port) + self.ingress.base_path

    # -- workload ------------------------------------------------------------------------------

    def _read_config_xml(self) -> str | pebble.Error | None:
        """config.xml's text (None: no such file), or why Pebble could not give it.

        Read before the key secret, whose creation and publication do not wait for Pebble.
        """
        try:
            return pull_text(self.container, CONFIG_XML)
        except pebble.Error as e:
            return e

    @staticmethod
    def _held_key(current: str | pebble.Error | None) -> dict[str, str] | None:
        """The key config.xml holds, for the leader's memo to vouch for (no secret-get)."""
        if current is None or isinstance(current, pebble.Error):
            return None
        try:
            key = read_api_key(current)
        except ConfigXmlError:
            return None
        return {API_KEY: key} if key else None

    def _ensure_workload(self, api_key: str, current: str | pebble.Error | None) -> None:
        """config.xml before the first start, the layer, a restart if the key changed."""
        if isinstance(current, pebble.Error):
            raise current
        if current is None:
            self._own_config_dir()
        base = self.ingress.base_path
        wanted = render_config_xml(current, pinned_settings(self.servarr, api_key, base))
        pushed = self._push_config(wanted, current)
        layer = pebble_layer(self.servarr, base)
        plan = self.container.get_plan()
        # A replan restarts the service only if its own entry changed (not for a check).
        restarted = layer_differs(plan, {"services": layer.get("services", {})})
        ensure_layer(
            self.container,
            self.servarr.name,
            layer,
            before_replan=self._make_temp_dir,
            plan=plan,
        )
        if pushed and not restarted:
            logger.info("config.xml changed (key, port, bind address or URL base); restarting")
            self.container.restart(self.servarr.name)
        self.leader_memo.values[_URL_BASE_MEMO] = base

    def _make_temp_dir(self) -> None:
        """The image's TMPDIR, before a (re)start: a new container does not have it."""
        self.container.make_dir(
            temp_dir(self.servarr), make_parents=True, user_id=USER_ID, group_id=GROUP_ID
        )

    def _push_config(self, wanted: str, current: str | None) -> bool:
        return push_if_changed(
            self.container,
            CONFIG_XML,
            wanted,
            current=current,
            user_id=USER_ID,
            group_id=GROUP_ID,
        )

    def _own_config_dir(self) -> None:
        """First start: let the app (1000:1000) write its database next to config.xml."""
        take_ownership(self.container, CONFIG_DIR, USER_ID, GROUP_ID)

    def _check_workload(self, client: servarr.ServarrClient) -> None:
        name = self.servarr.name
        client.ping()
        try:
            client.status()
        except WorkloadHttpError as e:
            if e.http_status in (401, 403):
                raise CharmarrError(
                    f"{name} rejects the API key in {CONFIG_XML}; check that no "
                    f"{name.upper()}__AUTH__APIKEY is set, then restart the unit"
                ) from None
            raise

    # -- applied-credential fingerprints ---------------------------------------------------------

    def applied(self) -> dict[str, str]:
        """Fingerprints of the credentials applied to this unit's workload (loaded once)."""
        if self._applied is None:
            self._applied_text = pull_text(self.container, APPLIED_FILE)
            try:
                data = json.loads(self._applied_text or "{}")
            except ValueError:
                data = {}
            entries = data.get("applied") if isinstance(data, dict) else None
            self._applied = {
                str(k): str(v) for k, v in (entries if isinstance(entries, dict) else {}).items()
            }
        return self._applied

    def _save_applied(self) -> None:
        if self._applied is None:
            return
        text = json.dumps({"version": 1, "applied": dict(sorted(self._applied.items()))}, indent=1)
        if self._applied_text is None and not self._applied:
            return
        push_if_changed(
            self.container,
            APPLIED_FILE,
            text + "\n",
            current=self._applied_text,
            user_id=USER_ID,
            group_id=GROUP_ID,
        )
        self._applied_text = text + "\n"

    # -- relation helpers ----------------------------------------------------------------------

    def live_names(self, endpoint: Endpoint[Any]) -> set[str]:
        """The managed names of every live relation's remote app on ``endpoint``."""
        return {managed_name(r.app.name) for r in endpoint.relations if r.app is not None}

    def _with_secrets(
        self,
        endpoint: Endpoint[Any],
        secret_of: Callable[[Any], tuple[str, tuple[str, ...]]],
        keep: set[str],
        report: Report,
    ) -> Iterator[tuple[RemoteData[Any], servarr.SecretSource]]:
        """Each related app's data with the secret it shares, read only if needed.

        ``secret_of(data)`` names the secret ID and its required keys. A relation whose
        data or secret ID is unusable becomes a problem, and its managed entry is kept
        (added to ``keep``) until it is usable; so does one whose secret cannot be read
        when it must be (:attr:`~.servarr.SyncResult.unreadable`).
        """
        for remote in endpoint.read():
            if isinstance(remote, InvalidRelationData):
                report.add(CharmarrError(remote.message))
                keep.add(managed_name(remote.relation.app.name))
                continue
            secret_id, keys = secret_of(remote.data)
            where = f"{remote.app_name} ({endpoint.endpoint})"
            try:
                check_secret_id(secret_id, source=where)
            except CharmarrError as e:
                report.add(e)
                keep.add(managed_name(remote.app_name))
                continue
            yield remote, self.consumed_secret(secret_id, keys, where)

    def consumed_secret(
        self, secret_id: str, keys: tuple[str, ...], where: str, *, depends_on: str = ""
    ) -> servarr.SecretSource:
        """A secret a related app granted, to read only when its content is needed.

        ``depends_on``: a plain input the applied result depends on too (a URL), part of
        the proof's basis. While a new revision may be out (:attr:`refresh`) it is always
        read, with refresh.
        """
        read = functools.partial(
            read_consumed_secret, self.model, secret_id, keys, source=where, refresh=self.refresh
        )
        basis = f"{secret_id} {depends_on}" if depends_on else secret_id
        return servarr.SecretSource(basis=basis, read=read, fresh=self.refresh)

    def _waiting_for_data(
        self, endpoint: Endpoint[Any], wanted: dict[str, Any], keep: set[str], report: Report
    ) -> None:
        """A Waiting problem for each live relation whose app has not published yet.

        Its managed entry is kept (added to ``keep``) until it does.
        """
        for name in sorted(self.live_names(endpoint) - set(wanted) - keep):
            keep.add(name)
            app = name.removesuffix(" (juju)")
            report.add(WaitingError(f"waiting for {app} to publish on {endpoint.endpoint}"))

    # -- hooks for subclasses ------------------------------------------------------------------

    def _publish(self, key: OwnedState) -> None:
        """Leader: grant the key secret and publish on the relations."""

    def _wire(self, client: servarr.ServarrClient, report: Report) -> None:
        """Converge the workload's per-relation entries."""

    def _on_key_accepted(self, client: servarr.ServarrClient, api_key: str) -> None:
        """A rotation's new key works (before the revision is published)."""

    def _report_refused(
        self,
        result: servarr.SyncResult,
        what: str,
        report: Report,
        action: Callable[[servarr.RefusedError], str | None] = lambda _: None,
    ) -> None:
        """Each entry the app refused becomes a status with the app's own reasons.

        ``action`` names what the user must do for a refusal (Blocked); without one the
        cause is taken as passing (a peer starting, a category on its way): Waiting, and
        the next hook tries again (a reconcile that did not end Active is never skipped).
        A secret that could not be read for an entry is reported as it is.
        """
        report.add(*result.unreadable)
        for error in result.refused:
            reasons = "; ".join(error.failures) or "no reason given"
            text = f"{self.servarr.name} refused {what} {error.entry}: {reasons}"
            todo = action(error)
            if todo:
                report.add(CharmarrError(f"{text}; {todo}"))
            else:
                report.add(WaitingError(f"{text}; retrying"))

    # -- rotation ------------------------------------------------------------------------------

    def _apply_key(self, api_key: str) -> None:
        current = pull_text(self.container, CONFIG_XML)
        self._push_config(
            render_config_xml(
                current, pinned_settings(self.servarr, api_key, self.ingress.base_path)
            ),
            current,
        )
        self.container.restart(self.servarr.name)

    def _rotate_key(self, label: str, current: dict[str, str]) -> dict[str, str]:
        """New key -> config.xml -> restart -> wait until it works -> hand it back."""
        del label
        name = self.servarr.name
        old = current.get(API_KEY)
        # Rotate only a healthy workload: one that does not answer with the current key
        # would not confirm the new one either, and a restart would not help it.
        try:
            self.local_client(old or "").status()
        except CharmarrError as e:
            raise WaitingError(f"{name} is not ready ({e.message}); rotation postponed") from None
        new = generate_token()
        try:
            self._apply_key(new)
        except (pebble.Error, ops.ModelError):
            raise WaitingError(f"cannot reach the {name} container to rotate its key") from None
        client = self.local_client(new)
        if self._wait_for(client):
            self._on_key_accepted(client, new)
            return {API_KEY: new}
        # CredentialRotation's restore (this charm's reconcile) writes the published key back.
        raise CharmarrError(f"{name} did not accept the new API key")

    def _wait_for(self, client: servarr.ServarrClient) -> bool:
        """Bounded wait (count and time) until the restarted app accepts ``client``'s key."""

        def accepted() -> bool | None:
            try:
                client.status()
            except CharmarrError:
                return None
            return True

        return bool(poll(accepted, attempts=self.rotation_attempts, delay=self.rotation_poll))


# ---------------------------------------------------------------------------------------------
# Radarr and Sonarr
# ---------------------------------------------------------------------------------------------


class MediaManagerCharm(ArrCharm):
    """Radarr or Sonarr: everything but the :class:`~.servarr.MediaManager` table."""

    servarr: ClassVar[servarr.MediaManager]  # pyright: ignore[reportIncompatibleVariableOverride]

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.indexer = MediaIndexerRequirer(self)
        self.download_clients = DownloadClientRequirer(self)
        self.media_servers = MediaServerRequirer(self)
        self._pod = PodPatcher(self)

    def _ensure_pod(self) -> None:
        """The shared media volume at /data: downloads to import, the library to fill."""
        ensure_media_volume(self._pod, self, self.container.name)

    def _publish(self, key: OwnedState) -> None:
        from charmarr_interfaces.download_client.models import DownloadClientRequirerData
        from charmarr_interfaces.media_indexer.models import IndexerRequirerData

        kind = self.servarr.kind
        for relation in self.indexer.relations:
            self.indexer.publish_secret_id(
                relation,
                "api_key_secret_id",
                key,
                lambda secret_id: IndexerRequirerData(
                    url=self.url, kind=kind, api_key_secret_id=secret_id
                ),
            )
        for relation in self.download_clients.relations:
            self.download_clients.publish(
                relation, DownloadClientRequirerData(kind=kind, category=self.app.name)
            )

    def _wire(self, client: servarr.ServarrClient, report: Report) -> None:
        report.attempt(self._wire_root_folder, client)
        report.attempt(self._wire_download_clients, client, report)
        report.attempt(self._wire_media_servers, client, report)
        report.attempt(self._check_indexer, client, report)

    def _wire_root_folder(self, client: servarr.ServarrClient) -> None:
        root = self.servarr.root_folder
        folders = client.list(servarr.ROOT_FOLDERS)
        if any(str(f.get("path", "")).rstrip("/") == root for f in folders):
            return
        self.container.make_dir(root, make_parents=True, user_id=USER_ID, group_id=GROUP_ID)
        try:
            client.create(servarr.ROOT_FOLDERS, {"path": root}, force=False)
        except servarr.RefusedError as e:
            reasons = "; ".join(e.failures) or "no reason given"
            raise CharmarrError(
                f"{self.servarr.name} refused root folder {root}: {reasons}; "
                "is the media volume mounted at /data?"
            ) from None
        except WorkloadHttpError as e:
            if e.http_status is not None and 400 <= e.http_status < 500:
                raise CharmarrError(
                    f"{self.servarr.name} refused root folder {root} (HTTP {e.http_status}); "
                    "is the media volume mounted at /data?"
                ) from None
            raise
        logger.info("root folder %s added", root)

    def _wire_download_clients(self, client: servarr.ServarrClient, report: Report) -> None:
        wanted: dict[str, servarr.Desired] = {}
        keep: set[str] = set()
        for remote, source in self._with_secrets(
            self.download_clients,
            lambda data: (data.credentials_secret_id, CREDENTIAL_KEYS[data.kind]),
            keep,
            report,
        ):
            name = managed_name(remote.app_name)
            wanted[name] = servarr.download_client(
                self.servarr,
                name=name,
                kind=remote.data.kind,
                url=remote.data.url,
                category=self.app.name,
                credentials=source,
            )
        self._waiting_for_data(self.download_clients, wanted, keep, report)
        result = servarr.sync_entries(
            client, servarr.DOWNLOAD_CLIENTS, wanted, self.applied(), keep=keep
        )
        self._report_refused(result, "download client", report)
        if wanted:
            report.note(f"{len(wanted)} download client{'s' * (len(wanted) > 1)}")

    def _wire_media_servers(self, client: servarr.ServarrClient, report: Report) -> None:
        wanted: dict[str, servarr.Desired] = {}
        keep: set[str] = set()
        for remote, source in self._with_secrets(
            self.media_servers, lambda data: (data.token_secret_id, (TOKEN,)), keep, report
        ):
            name = managed_name(remote.app_name)
            wanted[name] = servarr.plex_notification(
                self.servarr, name=name, url=remote.data.url, credentials=source
            )
        self._waiting_for_data(self.media_servers, wanted, keep, report)
        result = servarr.sync_entries(
            client, servarr.NOTIFICATIONS, wanted, self.applied(), keep=keep
        )
        self._report_refused(result, "the Plex connection", report, self._plex_action)
        if wanted:
            report.note(f"{len(wanted)} media server{'s' * (len(wanted) > 1)}")

    def _plex_action(self, error: servarr.RefusedError) -> str | None:
        """What the user must do when Plex has no library of this app's kind."""
        if not any("library" in f.lower() for f in error.failures):
            return None
        library = self.servarr.library
        return f"create a {library} library in Plex; it is added at the next update-status"

    def _check_synced_indexers(
        self, client: servarr.ServarrClient, prowlarr: str, url: str, key: str
    ) -> None:
        """The indexers Prowlarr synced here pass this app's own test.

        The app masks their key, so only its test (which calls Prowlarr with the stored
        key) shows whether Prowlarr's sync brought the current one.
        """
        base = url.rstrip("/") + "/"
        stale: list[str] = []
        for entry in client.list(servarr.INDEXERS):
            if not str(servarr.field_values(entry).get("baseUrl") or "").startswith(base):
                continue
            try:
                client.test(servarr.INDEXERS, entry)
            except servarr.RefusedError as e:
                # Radarr/Sonarr HttpIndexerBase.TestConnection: a 401 or 403 from Prowlarr
                if any(_KEY_REFUSED.search(f) for f in e.failures):
                    stale.append(str(entry.get("name")))
                else:  # the indexer itself is down: not a key problem
                    logger.info("indexer %s failed its test: %s", entry.get("name"), e.failures)
        if stale:
            raise WaitingError(
                f"{len(stale)} {prowlarr} indexer{'s' * (len(stale) > 1)} in "
                f"{self.servarr.name} hold an old {prowlarr} key; waiting for {prowlarr} to "
                "sync its current key"
            )

    def _check_indexer(self, client: servarr.ServarrClient, report: Report) -> None:
        """Prowlarr lists this app, and its synced indexers hold its current key.

        Checked with Prowlarr's key, once per key and URL (recorded like an applied
        credential): Prowlarr's rotation reaches this app as ``secret-changed``, which
        checks again.
        """
        relations = self.indexer.relations
        if not relations:
            applied = self.applied()
            for record in [k for k in applied if k.startswith(f"{servarr.INDEXERS}/")]:
                del applied[record]
            return
        endpoint = self.indexer.endpoint
        for remote in self.indexer.read():
            if isinstance(remote, InvalidRelationData):
                raise CharmarrError(remote.message)
            prowlarr = remote.app_name
            where = f"{prowlarr} ({endpoint})"
            check_secret_id(remote.data.api_key_secret_id, source=where)
            url = remote.data.url
            record = f"{servarr.INDEXERS}/{prowlarr}"
            source = self.consumed_secret(
                remote.data.api_key_secret_id, (API_KEY,), where, depends_on=url
            )
            applied = self.applied()
            if not servarr.proven(applied.get(record), source):
                applied.pop(record, None)  # until the check passes, every hook checks
                content = source.read()
                self._check_registered(client, prowlarr, url, content[API_KEY])
                applied[record] = servarr.proof(record, {API_KEY: content[API_KEY]}, source.basis)
            report.note(f"registered with {prowlarr}", first=True)
            return
        app = relations[0].app.name if relations[0].app else "prowlarr"
        raise WaitingError(f"waiting for {app} to publish on {endpoint}")

    def _check_registered(
        self, client: servarr.ServarrClient, prowlarr: str, url: str, key: str
    ) -> None:
        """Prowlarr (at ``url``, with ``key``) lists this app and synced it its key."""
        api = servarr.ServarrClient(url, servarr.PROWLARR, key, name=prowlarr)
        try:
            applications = api.list(servarr.APPLICATIONS)
        except WorkloadHttpError as e:
            if e.http_status in (401, 403):
                raise WaitingError(
                    f"{prowlarr} rejected the key it shared; waiting for its new key"
                ) from None
            raise
        mine = managed_name(self.app.name)
        if not any(a.get("name") == mine for a in applications):
            raise WaitingError(f"waiting for {prowlarr} to register {self.app.name}")
        self._check_synced_indexers(client, prowlarr, url, key)
