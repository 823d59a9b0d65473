"""The charm logic shared by Prowlarr, Radarr and Sonarr.

- ``config.xml`` handling: the API key lives in ``/config/config.xml`` ``<ApiKey>``; it is
  written with a real XML parser that keeps every other setting, before the app first
  starts, and never through the environment (``*__AUTH__APIKEY`` would override the file
  and show up in ``pebble plan``).
- The Pebble layer: the app runs directly as 1000:1000 with a readiness check on the
  anonymous ``/ping``.
- :class:`ArrCharm`: the holistic reconcile (owned key secret, config.xml, layer, ports,
  health, per-relation wiring) with collect-status, and key rotation: new key ->
  config.xml -> restart -> bounded wait until an authenticated call with the new key works
  -> only then :class:`~.secrets.CredentialRotation` publishes the revision.
- :class:`MediaManagerCharm`: Radarr and Sonarr, which differ only by a
  :class:`~.servarr.MediaManager` table: media-indexer requirer (publish, check Prowlarr
  lists us), download clients, Plex notifications and the root folder.

What a charm applied to its workload's credential fields is tracked as fingerprints in
``/config/.charmarr-applied.json`` (see :func:`~.servarr.credential_hash`): not a databag,
no secret content, and it lives and dies with the workload's own database.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, ClassVar

import ops
from ops import pebble

from . import servarr
from .cleanup import managed_name
from .download_client import CREDENTIAL_KEYS, DownloadClientRequirer
from .http import WorkloadHttpError
from .k8s import PodPatcher, ensure_media_volume
from .media_indexer import API_KEY, MediaIndexerRequirer
from .media_server import TOKEN, MediaServerRequirer
from .reconcile import Convergence, observe_reconcile_events
from .relation import Endpoint, InvalidRelationData
from .secrets import (
    ROTATE_ACTION,
    ROTATION_OPTION,
    CharmarrError,
    CredentialRotation,
    OwnedSecret,
    OwnedState,
    WaitingError,
    generate_token,
    grant_and_publish_id,
    parse_rotation_interval,
    read_consumed_secret,
)
from .workload import (
    ensure_layer,
    poll,
    pull_text,
    push_if_changed,
    service_url,
    take_ownership,
)

logger = logging.getLogger(__name__)

CONFIG_DIR = "/config"
CONFIG_XML = "/config/config.xml"
APPLIED_FILE = "/config/.charmarr-applied.json"
USER_ID = 1000
GROUP_ID = 1000


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


def render_config_xml(current: str | None, api_key: str) -> str:
    """``current`` with ``<ApiKey>`` set to ``api_key``; every other setting kept.

    Returns ``current`` unchanged (byte for byte) when it already holds the key, so the
    caller's compare-before-write sees no change even if the app reformatted the file.

    Raises:
        ConfigXmlError: ``current`` is not a Servarr config.xml.
    """
    import xml.etree.ElementTree as ET

    if current is None or not current.strip():
        root = ET.Element("Config")
        ET.SubElement(root, "ApiKey").text = api_key
        ET.indent(root, space="  ")
        return ET.tostring(root, encoding="unicode") + "\n"
    root = _parse(current)
    element = root.find("ApiKey")
    if element is not None and (element.text or "").strip() == api_key:
        return current
    if element is None:
        element = ET.SubElement(root, "ApiKey")
        children = list(root)
        if len(children) > 1:
            element.tail, children[-2].tail = children[-2].tail, children[0].tail
    element.text = api_key
    declaration = ""
    stripped = current.lstrip()
    if stripped.startswith("<?xml"):
        declaration = stripped[: stripped.index("?>") + 2] + "\n"
    return declaration + ET.tostring(root, encoding="unicode") + "\n"


def pebble_layer(app: servarr.ServarrApp) -> pebble.LayerDict:
    """Run the app directly (no s6 init) as 1000:1000; ready when ``/ping`` answers."""
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
            }
        },
        "checks": {
            f"{app.name}-ready": {
                "override": "replace",
                "level": "ready",
                "period": "10s",
                "threshold": 3,
                "http": {"url": f"http://localhost:{app.port}/ping"},
            }
        },
    }  # type: ignore[return-value]


class _LatestOwnedSecret(OwnedSecret):
    """An owned secret read at its latest revision on every unit.

    Units of the owner track revisions like consumers do (Juju >= 3.3.1): without
    ``refresh`` a non-leader would keep writing an old key into config.xml after the leader
    rotated. The leader tracks every revision it publishes (``OwnedSecret.publish``), and a
    new leader was a non-leader that refreshed on each reconcile, so the leader needs no
    second ``secret-get``.
    """

    def get(self) -> OwnedState | None:
        try:
            secret = self._charm.model.get_secret(label=self.label)
        except ops.SecretNotFoundError:
            return None
        if self._charm.unit.is_leader():
            return OwnedState(secret=secret, content=secret.get_content())
        return OwnedState(secret=secret, content=secret.get_content(refresh=True))


# ---------------------------------------------------------------------------------------------
# The base charm
# ---------------------------------------------------------------------------------------------


class ArrCharm(ops.CharmBase):
    """What Prowlarr, Radarr and Sonarr have in common. Subclasses set :attr:`servarr`."""

    servarr: ClassVar[servarr.ServarrApp]
    rotation_attempts: ClassVar[int] = 60
    """How many times a rotation asks the restarted app to accept the new key."""
    rotation_poll: ClassVar[float] = 2.0
    """Seconds between those attempts (so at most about two minutes)."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.container = self.unit.get_container(self.servarr.name)
        self.label = f"{self.servarr.name}-api-key"
        self.key_secret = _LatestOwnedSecret(
            self,
            self.label,
            lambda: {API_KEY: generate_token()},
            description=f"{self.servarr.title} API key",
        )
        self.rotation = CredentialRotation(
            self,
            secrets=lambda label: self.key_secret if label == self.label else None,
            rotate=self._rotate_key,
            action_label=self.label,
        )
        self._problems: list[CharmarrError] = []
        self._notes: list[str] = []
        self._reconciled = False
        self._refresh = False
        self._open_port = True
        self._applied: dict[str, str] | None = None
        self._applied_text: str | None = None
        self.convergence = Convergence(
            self, container=self.servarr.name, service=self.servarr.name, probe=self._pings
        )
        observe_reconcile_events(self, self._on_event)
        framework.observe(self.on.secret_changed, self._on_secret_changed)
        framework.observe(self.on.collect_unit_status, self._on_collect_status)

    # -- events --------------------------------------------------------------------------------

    def _on_event(self, event: ops.EventBase) -> None:
        # The port never changes: open it on every event but the five-minute update-status.
        self._open_port = not isinstance(event, ops.UpdateStatusEvent)
        if not self.convergence.skip(event):
            self.reconcile()

    def _pings(self) -> bool:
        """The anonymous ``/ping`` answers."""
        try:
            self.local_client("").ping()
        except CharmarrError:
            return False
        return True

    def _on_secret_changed(self, _: ops.SecretChangedEvent) -> None:
        self._refresh = True
        self.reconcile()

    def _on_collect_status(self, event: ops.CollectStatusEvent) -> None:
        if self.convergence.add_kept_status(event):
            return
        self.reconcile()
        statuses = [p.status for p in self._problems]
        statuses.append(ops.ActiveStatus("; ".join(self._notes) or "ready"))
        self.convergence.add_statuses(event, statuses)

    # -- reconcile -----------------------------------------------------------------------------

    def reconcile(self) -> None:
        """Converge on the whole current state (once per hook)."""
        if self._reconciled:
            return
        self._reconciled = True
        self._problems, self._notes = [], []
        try:
            self._reconcile()
        except CharmarrError as e:
            self._problems.append(e)
        except pebble.ConnectionError:
            self._problems.append(WaitingError(f"waiting for Pebble in {self.container.name}"))
        except (pebble.Error, ops.ModelError) as e:
            logger.warning("reconcile stopped: %s", type(e).__name__)
            self._problems.append(
                WaitingError(
                    f"waiting for the {self.container.name} container ({type(e).__name__})"
                )
            )

    def _reconcile(self) -> None:
        policy: ops.SecretRotate | None = None
        try:
            policy = parse_rotation_interval(self.config.get(ROTATION_OPTION, "monthly"))
        except CharmarrError as e:
            self._problems.append(e)
        key_state = self.key_secret.ensure(policy)
        api_key = key_state.content.get(API_KEY, "")
        if not api_key:
            raise CharmarrError(f"{self.label} lacks {API_KEY}: juju run {self._leader_cmd}")
        if self._open_port:
            self.unit.set_ports(self.servarr.port)
        self._attempt(self._publish, key_state)
        self._attempt(self._ensure_pod)
        self._ensure_workload(api_key)
        client = self.local_client(api_key)
        self._check_workload(client)
        self._wire(client)
        self._save_applied()

    def _ensure_pod(self) -> None:
        """What this app needs from its own StatefulSet (nothing, for Prowlarr)."""

    @property
    def _leader_cmd(self) -> str:
        return f"{self.app.name}/leader {ROTATE_ACTION}"

    def _attempt(self, step: Callable[..., None], *args: Any) -> None:
        """Run one independent step; its failure becomes a status, the others still run."""
        try:
            step(*args)
        except CharmarrError as e:
            self._problems.append(e)

    def local_client(self, api_key: str) -> servarr.ServarrClient:
        """This unit's workload API."""
        return servarr.ServarrClient(
            f"http://localhost:{self.servarr.port}", self.servarr, api_key, name=self.servarr.name
        )

    @property
    def url(self) -> str:
        """The in-cluster URL other apps use for this one."""
        return service_url(self, self.servarr.port)

    # -- workload ------------------------------------------------------------------------------

    def _ensure_workload(self, api_key: str) -> None:
        """config.xml before the first start, the layer, a restart if the key changed."""
        current = pull_text(self.container, CONFIG_XML)
        if current is None:
            self._own_config_dir()
        wanted = render_config_xml(current, api_key)
        pushed = self._push_config(wanted, current)
        replanned = ensure_layer(self.container, self.servarr.name, pebble_layer(self.servarr))
        if pushed and not replanned:
            logger.info("API key in config.xml changed; restarting %s", self.servarr.name)
            self.container.restart(self.servarr.name)

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

    # -- hooks for subclasses ------------------------------------------------------------------

    def _publish(self, key: OwnedState) -> None:
        """Leader: grant the key secret and publish on the relations."""

    def _wire(self, client: servarr.ServarrClient) -> None:
        """Converge the workload's per-relation entries."""

    def _on_key_accepted(self, client: servarr.ServarrClient) -> None:
        """A rotation's new key works (before the revision is published)."""

    # -- rotation ------------------------------------------------------------------------------

    def _apply_key(self, api_key: str) -> None:
        current = pull_text(self.container, CONFIG_XML)
        self._push_config(render_config_xml(current, api_key), current)
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
            self._on_key_accepted(client)
            return {API_KEY: new}
        if old:
            try:
                self._apply_key(old)
            except (pebble.Error, ops.ModelError):
                logger.warning("could not restore the previous key of %s", name)
        raise CharmarrError(f"{name} did not accept the new API key; the current key stays")

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
        from .databags import DownloadClientRequirerData, IndexerRequirerData

        kind = self.servarr.kind
        for relation in self.indexer.relations:
            published = self.indexer.published_value(relation, "api_key_secret_id")
            secret_id = grant_and_publish_id(key, relation, published)
            if secret_id is not None:
                data = IndexerRequirerData(url=self.url, kind=kind, api_key_secret_id=secret_id)
                self.indexer.publish(relation, data)
        for relation in self.download_clients.relations:
            self.download_clients.publish(
                relation, DownloadClientRequirerData(kind=kind, category=self.app.name)
            )

    def _wire(self, client: servarr.ServarrClient) -> None:
        self._attempt(self._wire_root_folder, client)
        self._attempt(self._wire_download_clients, client)
        self._attempt(self._wire_media_servers, client)
        self._attempt(self._check_indexer)

    def _wire_root_folder(self, client: servarr.ServarrClient) -> None:
        root = self.servarr.root_folder
        folders = client.list(servarr.ROOT_FOLDERS)
        if any(str(f.get("path", "")).rstrip("/") == root for f in folders):
            return
        self.container.make_dir(root, make_parents=True, user_id=USER_ID, group_id=GROUP_ID)
        try:
            client.create(servarr.ROOT_FOLDERS, {"path": root}, force=False)
        except WorkloadHttpError as e:
            if e.http_status is not None and 400 <= e.http_status < 500:
                raise CharmarrError(
                    f"{self.servarr.name} refused root folder {root} (HTTP {e.http_status}); "
                    "is the media volume mounted at /data?"
                ) from None
            raise
        logger.info("root folder %s added", root)

    def _wire_download_clients(self, client: servarr.ServarrClient) -> None:
        wanted: dict[str, servarr.Desired] = {}
        keep: set[str] = set()
        endpoint = self.download_clients.endpoint
        for remote in self.download_clients.read():
            if isinstance(remote, InvalidRelationData):
                self._problems.append(CharmarrError(remote.message))
                keep.add(managed_name(remote.relation.app.name))
                continue
            name = managed_name(remote.app_name)
            data = remote.data
            try:
                credentials = read_consumed_secret(
                    self.model,
                    data.credentials_secret_id,
                    CREDENTIAL_KEYS[data.kind],
                    source=f"{remote.app_name} ({endpoint})",
                    refresh=self._refresh,
                )
            except CharmarrError as e:
                self._problems.append(e)
                keep.add(name)
                continue
            wanted[name] = servarr.download_client(
                self.servarr,
                name=name,
                kind=data.kind,
                url=data.url,
                category=self.app.name,
                credentials=credentials,
            )
        self._waiting_for_data(endpoint, self.live_names(self.download_clients), wanted, keep)
        servarr.sync_entries(client, servarr.DOWNLOAD_CLIENTS, wanted, self.applied(), keep=keep)
        if wanted:
            self._notes.append(f"{len(wanted)} download client{'s' * (len(wanted) > 1)}")

    def _wire_media_servers(self, client: servarr.ServarrClient) -> None:
        wanted: dict[str, servarr.Desired] = {}
        keep: set[str] = set()
        endpoint = self.media_servers.endpoint
        for remote in self.media_servers.read():
            if isinstance(remote, InvalidRelationData):
                self._problems.append(CharmarrError(remote.message))
                keep.add(managed_name(remote.relation.app.name))
                continue
            name = managed_name(remote.app_name)
            try:
                token = read_consumed_secret(
                    self.model,
                    remote.data.token_secret_id,
                    (TOKEN,),
                    source=f"{remote.app_name} ({endpoint})",
                    refresh=self._refresh,
                )[TOKEN]
            except CharmarrError as e:
                self._problems.append(e)
                keep.add(name)
                continue
            wanted[name] = servarr.plex_notification(
                self.servarr, name=name, url=remote.data.url, token=token
            )
        self._waiting_for_data(endpoint, self.live_names(self.media_servers), wanted, keep)
        servarr.sync_entries(client, servarr.NOTIFICATIONS, wanted, self.applied(), keep=keep)
        if wanted:
            self._notes.append(f"{len(wanted)} media server{'s' * (len(wanted) > 1)}")

    def _waiting_for_data(
        self, endpoint: str, live: set[str], wanted: dict[str, Any], keep: set[str]
    ) -> None:
        for name in sorted(live - set(wanted) - keep):
            keep.add(name)
            app = name.removesuffix(" (juju)")
            self._problems.append(WaitingError(f"waiting for {app} to publish on {endpoint}"))

    def _check_indexer(self) -> None:
        """Prowlarr lists this app (checked with Prowlarr's key, so its rotation shows)."""
        relations = self.indexer.relations
        if not relations:
            return
        endpoint = self.indexer.endpoint
        for remote in self.indexer.read():
            if isinstance(remote, InvalidRelationData):
                raise CharmarrError(remote.message)
            prowlarr = remote.app_name
            key = read_consumed_secret(
                self.model,
                remote.data.api_key_secret_id,
                (API_KEY,),
                source=f"{prowlarr} ({endpoint})",
                refresh=self._refresh,
            )[API_KEY]
            api = servarr.ServarrClient(remote.data.url, servarr.PROWLARR, key, name=prowlarr)
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
            self._notes.insert(0, f"registered with {prowlarr}")
            return
        app = relations[0].app.name if relations[0].app else "prowlarr"
        raise WaitingError(f"waiting for {app} to publish on {endpoint}")
