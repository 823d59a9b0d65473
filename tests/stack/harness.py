"""Juju, played in one process for the seven Charmarr charms (the whole-stack test harness).

:class:`Stack` keeps one ``ops.testing.State`` per unit and plays the parts of Juju the
charms depend on:

- **relations**: one ID shared by both sides; after a hook, the leader's output
  ``local_app_data`` (and each unit's ``local_unit_data``) becomes the peer's
  ``remote_app_data`` (``remote_units_data``), and a change queues ``relation-changed``
  on every unit of the peer. ``integrate`` queues ``relation-created``, ``-joined`` and
  ``-changed`` on both sides; ``remove_relation`` queues ``-departed`` and ``-broken``.
- **secrets**: one :class:`SecretRecord` per secret holds its revisions, the owner's
  grants and every unit's tracked revision. An owner sees its secrets with
  ``owner="app"``; another application sees a secret only while the owner's grant to one
  of its live relations stands (or, for a user secret, after ``juju grant-secret``), as
  ``owner=None`` with the latest revision as ``latest_content`` and its own tracked
  revision as ``tracked_content``. An existing secret that is not granted answers
  ``permission denied`` as in Juju (``ungranted_secrets``). Within a hook secrets behave
  as in Juju (``juju_semantics``: a ``secret-set`` is pending until the hook ends). A new
  revision queues ``secret-changed`` on every consumer unit and on the owner's non-leader
  units; a revision nobody tracks any more queues ``secret-remove`` on the owner's leader.
- **hooks** run from one FIFO queue (duplicates of a pending hook are dropped) until it
  is empty, bounded in count and time; :meth:`Stack.converge` adds ``update-status``
  rounds until a round changes nothing (statuses, databags, secrets, workload writes).
- **workloads**: the in-process fakes, one per unit, on one :class:`StackNetwork`. Each
  answers at ``localhost:<port>`` to its own unit's hooks only (inside the pod). The
  in-cluster service address (``radarr.media.svc.cluster.local:7878``) is the app's
  Kubernetes Service (:class:`ServiceRouter`): it sends each request to a ready pod in
  turn, a pod being ready when its containers' Pebble ready checks pass
  (:func:`unit_ready`). A fake answers only while its Pebble service runs; a (re)start
  makes it load what the charm wrote (qBittorrent's conf, SABnzbd's ini), as the real
  daemon does.
- **units**: ``add_unit`` joins a non-leader to every relation; ``remove_unit`` takes a
  unit away (``relation-departed`` on the related units, a new leader elected).

Every hook also runs under checks that hold for the whole run: no secret value (of any
revision of any secret, owned, consumed or user) in any databag or status, and no
secret management (hook tool, new secret, new revision, grant) by a non-leader unit.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import importlib
import json
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gluetun_wired as wired_gluetun
import yaml
from charms_under_test import charm_dirs, context, load_charm, repo_root
from ops import testing

from charmarr_common.http import Request, Response, use_transport
from charmarr_servarr.api import PROWLARR, RADARR, SONARR, ServarrApp
from charmarr_testing.fake_gluetun import FakeGluetun
from charmarr_testing.fake_plex import PLEX_TV_ADDRESS, FakePlexServer, FakePlexTv
from charmarr_testing.fake_qbittorrent import FakeQBittorrent
from charmarr_testing.fake_sabnzbd import FakeSabnzbd
from charmarr_testing.fake_servarr import FakeServarr
from charmarr_testing.fakes import FakeNetwork
from charmarr_testing.juju_semantics import juju_secret_semantics, owner_secret_changed
from charmarr_testing.pytest_plugin import (
    MIN_SECRET_LENGTH,
    SecretLeakError,
    check_for_leaks,
    record_hook_tools,
    ungranted_secrets,
)

MODEL_NAME = "media"
MODEL = testing.Model(name=MODEL_NAME, uuid="7d3c1a52-9b1e-4f0a-8c2d-5e6f7a8b9c0d")
BUNDLE = repo_root(Path(__file__)) / "bundle.yaml"

QBT_CONF = Path("qBittorrent/config/qBittorrent.conf")
PLEX_PREFS = Path("Library/Application Support/Plex Media Server/Preferences.xml")
GLUETUN_AUTH = "control-server-auth.toml"

LEADER = "leader"
"""Unit number placeholder in a queued hook: the app's leader when the hook runs."""


class HookError(AssertionError):
    """A hook raised (an uncaught charm error) or the stack did not settle."""


# ---------------------------------------------------------------------------------------------
# Workloads on the network
# ---------------------------------------------------------------------------------------------


class Workload:
    """One unit's workload process: its fake answers only while the service runs."""

    def __init__(
        self, unit: str, name: str, fake: Any, on_boot: Callable[[Any], None] | None = None
    ):
        self.unit = unit
        self.name = name
        self.fake = fake
        self.on_boot = on_boot
        self.running = False
        self.boots = 0
        self.booted_plan: Any = None

    def __call__(self, request: Request) -> Response:
        if not self.running:
            raise ConnectionRefusedError(f"{self.unit} {self.name}: not running")
        return self.fake(request)

    def boot(self, plan: Any = None) -> None:
        """(Re)start: load what the charm wrote, as the daemon does at start."""
        self.running = True
        self.boots += 1
        self.booted_plan = plan
        if self.on_boot is not None:
            self.on_boot(self.fake)

    def stop(self) -> None:
        self.running = False


class StackNetwork(FakeNetwork):
    """A :class:`FakeNetwork` where ``localhost`` is the pod of the unit running a hook."""

    def __init__(self) -> None:
        super().__init__()
        self.local: dict[str, dict[int, Callable[[Request], Response]]] = {}
        self.current_unit: str | None = None

    def __call__(self, request: Request, timeout: float) -> Response:
        parts = urlsplit(request.url)
        if parts.hostname in ("localhost", "127.0.0.1"):
            self.requests.append(request)
            port = parts.port or 80
            app = self.local.get(self.current_unit or "", {}).get(port)
            if app is None:
                raise ConnectionRefusedError(f"nothing serves localhost:{port} in this pod")
            return app(request)
        return super().__call__(request, timeout)


def _check_port(check: Any) -> int | None:
    """The port a Pebble check asks on localhost (HTTP or TCP), if any."""
    if check.http and check.http.get("url"):
        return urlsplit(str(check.http["url"])).port or 80
    if check.tcp and check.tcp.get("port"):
        return int(check.tcp["port"])
    return None


def unit_ready(unit: Unit) -> bool:
    """Whether Kubernetes counts the unit's pod ready: every container passes Juju's probe.

    Juju's readiness probe asks each container's Pebble ``/v1/health?level=ready``
    (juju caas/kubernetes/provider/application), which fails while a check of level
    ready or alive is down (pebble internals/daemon/api_health.go); a container with no
    check passes. A check here is up while what it asks answers: the workload on its port
    in this pod, else its own container's services.
    """
    for container in unit.state.containers:
        plan = container.plan
        mine = [w for (box, _), w in unit.workloads.items() if box == container.name]
        for check in plan.checks.values():
            if str(getattr(check.level, "value", check.level)) not in ("ready", "alive"):
                continue
            port = _check_port(check)
            target = unit.ports.get(port) if port is not None else None
            if target is not None and target.unit == unit.name:
                up = target.running
            else:
                up = bool(mine) and all(w.running for w in mine)
            if not up:
                return False
    return True


class ServiceRouter:
    """The application's Kubernetes Service on one port: it sends each connection to one
    ready pod, in turn (kube-proxy picks among the ready endpoints; in turn keeps the test
    deterministic), and refuses it when no pod is ready."""

    def __init__(self, app: App, port: int):
        self.app = app
        self.port = port
        self.turn = 0

    def endpoints(self) -> list[Workload]:
        """The workloads behind the Service: each ready unit's on this port."""
        return [
            u.ports[self.port] for u in self.app.units if self.port in u.ports and unit_ready(u)
        ]

    def __call__(self, request: Request) -> Response:
        ready = self.endpoints()
        if not ready:
            raise ConnectionRefusedError(f"{self.app.name}:{self.port}: no ready endpoint")
        workload = ready[self.turn % len(ready)]
        self.turn += 1
        return workload(request)


# ---------------------------------------------------------------------------------------------
# The model: apps, units, relations, secrets
# ---------------------------------------------------------------------------------------------


@dataclass
class Unit:
    """One unit: its Context, its last State and its workload."""

    app: App
    number: int
    ctx: Any
    state: testing.State
    leader: bool
    workloads: dict[tuple[str, str], Workload]
    ports: dict[int, Workload]
    dirs: dict[str, Path]
    fake: Any
    """The unit's main workload fake."""

    @property
    def name(self) -> str:
        return f"{self.app.name}/{self.number}"

    @property
    def status(self) -> Any:
        return self.state.unit_status


@dataclass
class App:
    """One application."""

    name: str
    charm: str
    config: dict[str, Any]
    units: list[Unit] = field(default_factory=list)

    @property
    def leader(self) -> Unit:
        return next(u for u in self.units if u.leader)

    def unit(self, number: int) -> Unit:
        return next(u for u in self.units if u.number == number)

    @property
    def fake(self) -> Any:
        """The leader's workload fake (unit 0's if no leader)."""
        leaders = [u for u in self.units if u.leader]
        return (leaders or self.units)[0].fake


@dataclass
class Rel:
    """One relation between two applications, with the databags Juju holds for it."""

    id: int
    ends: dict[str, str]
    """app name -> its endpoint."""
    app_data: dict[str, dict[str, str]]
    unit_data: dict[str, dict[str, str]] = field(default_factory=dict)
    dying: bool = False
    broken_units: set[str] = field(default_factory=set)

    def other(self, app: str) -> str:
        return next(a for a in self.ends if a != app)

    @property
    def key(self) -> str:
        return " <-> ".join(f"{a}:{e}" for a, e in sorted(self.ends.items()))


@dataclass
class SecretRecord:
    """What Juju knows about one secret."""

    id: str
    owner: str | None
    """The owning app, or None for a user secret."""
    revisions: dict[int, dict[str, str]]
    latest: int
    label: str | None = None
    description: str | None = None
    rotate: Any = None
    grants: dict[int, set[str]] = field(default_factory=dict)
    """The owner's grants: relation ID -> application names."""
    users: set[str] = field(default_factory=set)
    """Apps a user secret was granted to (``juju grant-secret``)."""
    tracked: dict[str, int] = field(default_factory=dict)
    """Unit name -> the revision it tracks."""
    labels: dict[str, str] = field(default_factory=dict)
    """Consumer unit -> the label it gave the secret."""
    pruned: list[int] = field(default_factory=list)
    prune_queued: set[int] = field(default_factory=set)

    @property
    def content(self) -> dict[str, str]:
        """The latest content."""
        return dict(self.revisions[self.latest])


@dataclass(frozen=True)
class Hook:
    """One hook that ran."""

    unit: str
    kind: str
    args: tuple[Any, ...]
    status: str
    index: int
    requests: tuple[int, int] = (0, 0)
    """The slice of ``Stack.network.requests`` this hook sent."""

    @property
    def app(self) -> str:
        return self.unit.split("/")[0]


@dataclass(frozen=True)
class ActionOutcome:
    """The outcome of ``juju run <unit> <action>``."""

    results: dict[str, Any]
    failure: str | None


# ---------------------------------------------------------------------------------------------
# Per-charm units: containers, storage, workload fakes
# ---------------------------------------------------------------------------------------------


@dataclass
class _Kit:
    containers: list[testing.Container]
    storages: list[testing.Storage]
    workloads: dict[tuple[str, str], Workload]
    ports: dict[int, Workload]
    dirs: dict[str, Path]
    fake: Any


def _config_container(name: str, source: Path, **kwargs: Any) -> testing.Container:
    # The charms own /config (chown) before their workload's first start.
    kwargs.setdefault("execs", {testing.Exec(["chown"])})
    return testing.Container(
        name,
        can_connect=True,
        mounts={"config": testing.Mount(location="/config", source=source)},
        **kwargs,
    )


def _servarr_kit(unit: str, root: Path, app: ServarrApp) -> _Kit:
    config = root / "config"
    config.mkdir(parents=True)
    fake = FakeServarr(app, None, config_path=config / "config.xml")
    workload = Workload(unit, app.name, fake)
    container = _config_container(app.name, config)
    return _Kit(
        [container],
        [testing.Storage("config")],
        {(app.name, app.name): workload},
        {app.port: workload},
        {"config": config},
        fake,
    )


def _qbittorrent_kit(unit: str, root: Path) -> _Kit:
    config = root / "config"
    config.mkdir(parents=True)
    fake = FakeQBittorrent(username="admin", password="")

    def boot(daemon: FakeQBittorrent) -> None:
        conf = config / QBT_CONF
        if conf.exists():
            daemon.boot(conf.read_text())

    workload = Workload(unit, "qbittorrent", fake, boot)
    return _Kit(
        [_config_container("qbittorrent", config)],
        [testing.Storage("config")],
        {("qbittorrent", "qbittorrent"): workload},
        {8080: workload},
        {"config": config},
        fake,
    )


def _sabnzbd_kit(unit: str, root: Path) -> _Kit:
    load_charm("sabnzbd")
    ini_mod = importlib.import_module("_sabnzbd.ini")
    config = root / "config"
    config.mkdir(parents=True)
    ini = config / "sabnzbd.ini"
    fake = FakeSabnzbd("", ini_path=ini)

    def boot(daemon: FakeSabnzbd) -> None:
        # SABnzbd reads sabnzbd.ini at start: its key and its [misc] settings.
        text = ini.read_text() if ini.exists() else None
        values = ini_mod.misc_values(text)
        daemon.api_key = values.get("api_key", "")
        daemon.misc["socks5_proxy_url"] = values.get("socks5_proxy_url", "")
        daemon.misc["host_whitelist"] = ",".join(ini_mod.misc_list(text, "host_whitelist"))

    workload = Workload(unit, "sabnzbd", fake, boot)
    return _Kit(
        [_config_container("sabnzbd", config)],
        [testing.Storage("config")],
        {("sabnzbd", "sabnzbd"): workload},
        {8080: workload},
        {"config": config, "ini": ini},
        fake,
    )


def _gluetun_kit(unit: str, root: Path) -> _Kit:
    containers, gluetun_dir, socks_dir = wired_gluetun.containers(root)
    fake = FakeGluetun(gluetun_dir / GLUETUN_AUTH)
    workload = Workload(unit, "gluetun", fake, FakeGluetun.start)
    socks = Workload(unit, "socks5", None)
    return _Kit(
        containers,
        [],
        {("gluetun", "gluetun"): workload, ("socks5", "socks5"): socks},
        {8000: workload, 9999: workload},
        {"secrets": gluetun_dir, "socks5": socks_dir},
        fake,
    )


def _plex_kit(unit: str, root: Path) -> _Kit:
    config = root / "config"
    config.mkdir(parents=True)
    fake = FakePlexServer(config / PLEX_PREFS)
    workload = Workload(unit, "plex", fake)
    return _Kit(
        [_config_container("plex", config, execs={testing.Exec(["chown"])})],
        [testing.Storage("config")],
        {("plex", "plex"): workload},
        {32400: workload},
        {"config": config, "prefs": config / PLEX_PREFS},
        fake,
    )


def _kit(charm: str, unit: str, root: Path) -> _Kit:
    servarr = {"prowlarr": PROWLARR, "radarr": RADARR, "sonarr": SONARR}
    if charm in servarr:
        return _servarr_kit(unit, root, servarr[charm])
    makers = {
        "qbittorrent": _qbittorrent_kit,
        "sabnzbd": _sabnzbd_kit,
        "gluetun": _gluetun_kit,
        "plex": _plex_kit,
    }
    return makers[charm](unit, root)


@functools.cache
def charm_options(charm: str) -> frozenset[str]:
    """The config options a charm declares."""
    meta = yaml.safe_load((charm_dirs()[charm] / "charmcraft.yaml").read_text())
    return frozenset(((meta.get("config") or {}).get("options") or {}).keys())


@functools.cache
def charm_storages(charm: str) -> frozenset[str]:
    meta = yaml.safe_load((charm_dirs()[charm] / "charmcraft.yaml").read_text())
    return frozenset((meta.get("storage") or {}).keys())


def bundle() -> dict[str, Any]:
    """bundle.yaml."""
    return yaml.safe_load(BUNDLE.read_text())


# ---------------------------------------------------------------------------------------------
# Pebble: services starting and stopping drive the workload fakes
# ---------------------------------------------------------------------------------------------

_ACTIVE: list[Stack] = []
_PEBBLE_CALLS = ("start_services", "stop_services", "restart_services", "replan_services")


@contextmanager
def _pebble_drives_workloads() -> Iterator[None]:
    from scenario.mocking import _MockPebbleClient  # pyright: ignore[reportPrivateUsage]

    originals = {name: _MockPebbleClient.__dict__.get(name) for name in _PEBBLE_CALLS}
    depth: list[str] = []

    def wrap(name: str) -> Callable[..., Any]:
        original = getattr(_MockPebbleClient, name)

        @functools.wraps(original)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if depth or not _ACTIVE:
                return original(self, *args, **kwargs)
            before = {s.name: s.is_running() for s in self.get_services()}
            depth.append(name)
            try:
                result = original(self, *args, **kwargs)
            finally:
                depth.pop()
            after = {s.name: s.is_running() for s in self.get_services()}
            plan = {n: s.to_dict() for n, s in self.get_plan().services.items()}
            names = list(args[0]) if args and name != "replan_services" else []
            _ACTIVE[-1].pebble_changed(
                self._container_name, name, names=names, before=before, after=after, plan=plan
            )
            return result

        return wrapper

    for name in _PEBBLE_CALLS:
        setattr(_MockPebbleClient, name, wrap(name))
    try:
        yield
    finally:
        for name, original in originals.items():
            if original is None:
                delattr(_MockPebbleClient, name)
            else:
                setattr(_MockPebbleClient, name, original)


@contextmanager
def libyaml() -> Iterator[None]:
    """``yaml.safe_load``/``safe_dump`` through libyaml: ops.testing writes and reads the
    charm's metadata on every run, which is most of a hook's cost in pure Python."""
    load, dump = yaml.safe_load, yaml.safe_dump
    if not getattr(yaml, "__with_libyaml__", False):
        yield
        return

    def safe_load(stream: Any) -> Any:
        return yaml.load(stream, Loader=yaml.CSafeLoader)

    def safe_dump(data: Any, stream: Any = None, **kwargs: Any) -> Any:
        return yaml.dump(data, stream, Dumper=yaml.CSafeDumper, **kwargs)

    yaml.safe_load, yaml.safe_dump = safe_load, safe_dump  # type: ignore[assignment]
    try:
        yield
    finally:
        yaml.safe_load, yaml.safe_dump = load, dump  # type: ignore[assignment]


@contextmanager
def cached_pbkdf2() -> Iterator[None]:
    """Memoise PBKDF2 (a pure function; 0.08 s a call) so qBittorrent hooks stay fast."""
    original = hashlib.pbkdf2_hmac
    cached = functools.lru_cache(maxsize=256)(original)

    def pbkdf2_hmac(hash_name: str, password: bytes, salt: bytes, iterations: int, dklen=None):
        return cached(hash_name, bytes(password), bytes(salt), iterations, dklen)

    hashlib.pbkdf2_hmac = pbkdf2_hmac  # type: ignore[assignment]
    try:
        yield
    finally:
        hashlib.pbkdf2_hmac = original  # type: ignore[assignment]


# ---------------------------------------------------------------------------------------------
# The stack
# ---------------------------------------------------------------------------------------------


def _xid(secret_id: str) -> str:
    return secret_id.rsplit("/", 1)[-1].removeprefix("secret:")


class Stack:
    """Juju for the Charmarr charms, in one process. Use :meth:`open`."""

    def __init__(self, root: Path):
        self.root = root
        self.apps: dict[str, App] = {}
        self.relations: dict[int, Rel] = {}
        self.secrets: dict[str, SecretRecord] = {}
        self.network = StackNetwork()
        self.plex_tv = FakePlexTv()
        self.network.add(PLEX_TV_ADDRESS, self.plex_tv)
        self.queue: deque[tuple[str, str, tuple[Any, ...]]] = deque()
        self.hooks: list[Hook] = []
        self.after_hook: list[Callable[[Hook], None]] = []
        self.violations: list[str] = []
        self.secret_values: dict[str, str] = {}
        self.max_hooks = 600
        self.timeout = 45.0
        self._next_relation_id = 1
        self._denied: set[str] = set()
        self._running: Unit | None = None

    @classmethod
    @contextmanager
    def open(cls, root: Path, *, template: Stack | None = None) -> Iterator[Stack]:
        """A stack with its transport, Pebble hooks and ``permission denied`` installed.

        ``template``: start from a copy of that stack (its files must have been restored
        under ``root``, where they were: see :func:`snapshot` and :func:`restore`).
        """
        if template is None:
            stack = cls(root)
        else:
            assert template.root == root, "a copy lives where its template's files were"
            shared = {id(u.ctx): u.ctx for a in template.apps.values() for u in a.units}
            stack = copy.deepcopy(template, shared)
        with ExitStack() as stack_ctx:
            stack_ctx.enter_context(use_transport(stack.network))
            stack_ctx.enter_context(_pebble_drives_workloads())
            stack_ctx.enter_context(cached_pbkdf2())
            stack_ctx.enter_context(libyaml())
            stack._denied = stack_ctx.enter_context(ungranted_secrets())
            stack_ctx.enter_context(juju_secret_semantics())
            _ACTIVE.append(stack)
            try:
                yield stack
            finally:
                _ACTIVE.remove(stack)

    # -- lookups -------------------------------------------------------------------------------

    def app(self, name: str) -> App:
        return self.apps[name]

    def unit(self, name: str) -> Unit:
        app, number = name.split("/")
        return self.apps[app].unit(int(number))

    def relation(self, a: str, b: str) -> Rel:
        """The live relation between apps ``a`` and ``b``."""
        found = [r for r in self.relations.values() if set(r.ends) == {a, b} and not r.dying]
        assert len(found) == 1, f"{len(found)} relations between {a} and {b}"
        return found[0]

    def owned(self, app: str, label: str) -> SecretRecord:
        """The secret ``app`` owns under ``label``."""
        for record in self.secrets.values():
            if record.owner == app and record.label == label:
                return record
        raise KeyError(f"{app} owns no secret {label!r}")

    def owned_labels(self, app: str) -> set[str]:
        return {r.label or r.id for r in self.secrets.values() if r.owner == app}

    def can_see(self, app: str, record: SecretRecord) -> bool:
        """Whether ``app`` may read ``record`` (owner, grant on a live relation, user grant)."""
        if record.owner == app:
            return True
        if record.owner is None:
            return app in record.users
        return any(app in apps and rid in self.relations for rid, apps in record.grants.items())

    # -- Juju commands -------------------------------------------------------------------------

    def deploy(
        self, name: str, charm: str | None = None, *, config: dict[str, Any] | None = None,
        units: int = 1,
    ) -> App:  # fmt: skip
        """``juju deploy``: the units and their first hooks (queued).

        Options the charm does not declare are left out (the bundle check in tests/lint
        holds bundle.yaml against the charms), so the bundle deploys as the charms are.
        """
        charm = charm or name
        options = charm_options(charm)
        config = {k: v for k, v in (config or {}).items() if k in options}
        app = App(name, charm, config)
        self.apps[name] = app
        for number in range(units):
            self._add_unit(app, number, leader=number == 0)
        return app

    def _add_unit(self, app: App, number: int, *, leader: bool) -> Unit:
        unit_name = f"{app.name}/{number}"
        kit = _kit(app.charm, unit_name, self.root / f"{app.name}-{number}")
        storages = [s for s in kit.storages if s.name in charm_storages(app.charm)]
        state = testing.State(
            leader=leader, model=MODEL, containers=kit.containers, storages=storages
        )
        ctx = context(app.charm, app_name=app.name, unit_id=number)
        unit = Unit(app, number, ctx, state, leader, kit.workloads, kit.ports, kit.dirs, kit.fake)
        app.units.append(unit)
        self.network.local[unit_name] = dict(kit.ports)
        for port in kit.ports:
            address = f"{app.name}.{MODEL_NAME}.svc.cluster.local:{port}"
            if address not in self.network.apps:
                self.network.add(address, ServiceRouter(app, port))
        for storage in storages:
            self._queue(unit_name, "storage-attached", storage.name)
        self._queue(unit_name, "install")
        if leader:
            self._queue(unit_name, "leader-elected")
        self._queue(unit_name, "config-changed")
        self._queue(unit_name, "start")
        for container in kit.containers:
            self._queue(unit_name, "pebble-ready", container.name)
        return unit

    def add_unit(self, app_name: str) -> Unit:
        """``juju add-unit``: a non-leader unit joins every relation of its app."""
        app = self.apps[app_name]
        unit = self._add_unit(app, max(u.number for u in app.units) + 1, leader=False)
        for rel in self.relations.values():
            if app_name not in rel.ends or rel.dying:
                continue
            other = self.apps[rel.other(app_name)]
            self._queue(unit.name, "relation-created", rel.id)
            for remote in other.units:
                self._queue(unit.name, "relation-joined", rel.id, remote.number)
                self._queue(unit.name, "relation-changed", rel.id, remote.number)
                self._queue(remote.name, "relation-joined", rel.id, unit.number)
                self._queue(remote.name, "relation-changed", rel.id, unit.number)
        return unit

    def remove_unit(self, name: str) -> None:
        """The unit goes (``juju scale-application`` down, or its pod lost for good).

        Its workloads stop and its pod leaves the network; every unit of a related app gets
        ``relation-departed``. If it was the leader, Juju elects another unit, which gets
        ``leader-elected``. The departing unit's own teardown hooks are not played.
        """
        unit = self.unit(name)
        app = unit.app
        for workload in unit.workloads.values():
            workload.stop()
        app.units.remove(unit)
        self.network.local.pop(name, None)
        self.queue = deque(entry for entry in self.queue if entry[0] != name)
        for rel in self.relations.values():
            if app.name not in rel.ends or rel.dying:
                continue
            rel.unit_data.pop(name, None)
            for remote in self.apps[rel.other(app.name)].units:
                self._queue(remote.name, "relation-departed", rel.id, unit.number)
        if unit.leader and app.units:
            self.elect(app.name, app.units[0].number)

    def deploy_bundle(
        self,
        *,
        extra: dict[str, dict[str, Any]] | None = None,
        scale: dict[str, int] | None = None,
    ) -> None:
        """``juju deploy ./bundle.yaml``: every app with its options, then every relation."""
        data = bundle()
        for name, spec in data["applications"].items():
            charm = Path(spec["charm"]).parent.name
            config = {**(spec.get("options") or {}), **(extra or {}).get(name, {})}
            self.deploy(name, charm, config=config, units=(scale or {}).get(name, 1))
        for a, b in data["relations"]:
            self.integrate(a, b)

    def integrate(self, a: str, b: str) -> Rel:
        """``juju integrate app:endpoint app:endpoint``."""
        (app_a, end_a), (app_b, end_b) = a.split(":"), b.split(":")
        rel = Rel(self._next_relation_id, {app_a: end_a, app_b: end_b}, {app_a: {}, app_b: {}})
        self._next_relation_id += 1
        self.relations[rel.id] = rel
        for app in (app_a, app_b):
            for unit in self.apps[app].units:
                self._queue(unit.name, "relation-created", rel.id)
        for app in (app_a, app_b):
            other = self.apps[rel.other(app)]
            for unit in self.apps[app].units:
                for remote in other.units:
                    self._queue(unit.name, "relation-joined", rel.id, remote.number)
                    self._queue(unit.name, "relation-changed", rel.id, remote.number)
        return rel

    def remove_relation(self, rel: Rel) -> None:
        """``juju remove-relation``: departed and broken on both sides."""
        rel.dying = True
        for app in rel.ends:
            other = self.apps[rel.other(app)]
            for unit in self.apps[app].units:
                for remote in other.units:
                    self._queue(unit.name, "relation-departed", rel.id, remote.number)
                self._queue(unit.name, "relation-broken", rel.id)

    def configure(self, app: str, **options: Any) -> None:
        """``juju config app key=value`` (None unsets)."""
        config = self.apps[app].config
        for name, value in options.items():
            key = name.replace("_", "-")
            assert key in charm_options(self.apps[app].charm), f"{app} has no option {key}"
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value
        for unit in self.apps[app].units:
            self._queue(unit.name, "config-changed")

    def add_user_secret(self, content: dict[str, str]) -> str:
        """``juju add-secret``: the URI."""
        secret_id = testing.Secret(dict(content)).id
        self.secrets[secret_id] = SecretRecord(secret_id, None, {1: dict(content)}, 1)
        self._remember_values(content)
        return secret_id

    def grant_secret(self, secret_id: str, app: str) -> None:
        """``juju grant-secret``: fires no hook."""
        self.secrets[secret_id].users.add(app)

    def update_user_secret(self, secret_id: str, content: dict[str, str]) -> int:
        """``juju update-secret``: a new revision; ``secret-changed`` on the consumers."""
        record = self.secrets[secret_id]
        record.latest += 1
        record.revisions[record.latest] = dict(content)
        self._remember_values(content)
        self._secret_changed(record)
        return record.latest

    def secret_rotate(self, app: str, label: str) -> SecretRecord:
        """Juju's rotation schedule came due for the secret ``label`` of ``app``."""
        record = self.owned(app, label)
        self._queue(f"{app}/{LEADER}", "secret-rotate", record.id)
        return record

    def run_action(self, unit: str, action: str, **params: Any) -> ActionOutcome:
        """``juju run unit action`` (``app/leader`` works), now; hooks it causes are queued."""
        app_name, number = unit.split("/")
        target = self.apps[app_name].leader if number == LEADER else self.unit(unit)
        return self._run(target, "action", (action, tuple(sorted(params.items()))))

    def elect(self, app: str, number: int) -> None:
        """Leadership moves to ``app/number``; it gets ``leader-elected``."""
        for unit in self.apps[app].units:
            unit.leader = unit.number == number
        self._queue(f"{app}/{number}", "leader-elected")

    def update_status(self, *apps: str) -> None:
        """Queue ``update-status`` on every unit (of ``apps`` if given)."""
        for app in self.apps.values():
            if apps and app.name not in apps:
                continue
            for unit in app.units:
                self._queue(unit.name, "update-status")

    # -- running hooks -------------------------------------------------------------------------

    def _queue(self, unit: str, kind: str, *args: Any) -> None:
        entry = (unit, kind, tuple(args))
        if entry not in self.queue:
            self.queue.append(entry)

    def settle(self) -> int:
        """Run queued hooks until none is left; the number of hooks run."""
        start, count = time.monotonic(), 0
        while self.queue:
            if count >= self.max_hooks or time.monotonic() - start > self.timeout:
                pending = list(self.queue)[:8]
                raise HookError(f"not settled after {count} hooks; next: {pending}")
            unit_name, kind, args = self.queue.popleft()
            app_name, number = unit_name.split("/")
            app = self.apps.get(app_name)
            if app is None:
                continue
            unit = app.leader if number == LEADER else app.unit(int(number))
            self._run(unit, kind, args)
            count += 1
        return count

    def converge(self, rounds: int = 6) -> None:
        """Settle, then ``update-status`` rounds until one changes nothing."""
        self.settle()
        for _ in range(rounds):
            before = self.fingerprint()
            self.update_status()
            self.settle()
            if self.fingerprint() == before:
                return
        raise HookError(
            f"the stack still changes after {rounds} update-status rounds: "
            + "; ".join(
                f"{u}: {s}" for u, s in self.statuses().items() if not s.startswith("active")
            )
        )

    def fingerprint(self) -> str:
        """Everything an update-status round could change."""
        statuses = {
            u.name: (str(u.state.unit_status), str(u.state.app_status))
            for a in self.apps.values()
            for u in a.units
        }
        bags = {rel.id: rel.app_data for rel in self.relations.values()}
        secrets = {
            r.id: (r.latest, sorted((k, sorted(v)) for k, v in r.grants.items()))
            for r in self.secrets.values()
        }
        writes = {
            u.name: [len(_writes(w.fake)) for w in u.workloads.values() if w.fake is not None]
            for a in self.apps.values()
            for u in a.units
        }
        return json.dumps([statuses, bags, secrets, writes], sort_keys=True, default=str)

    def _run(self, unit: Unit, kind: str, args: tuple[Any, ...]) -> ActionOutcome:
        state = self._state_for(unit)
        event = self._event(unit, state, kind, args)
        if event is None:
            return ActionOutcome({}, "skipped")
        ctx = unit.ctx
        for record_list in (
            ctx.juju_log,
            ctx.unit_status_history,
            ctx.app_status_history,
            ctx.removed_secret_revisions,
        ):
            record_list.clear()
        self._denied.clear()
        self._denied.update(
            _xid(r.id) for r in self.secrets.values() if not self.can_see(unit.app.name, r)
        )
        self.network.current_unit = unit.name
        self._running = unit
        first_request = len(self.network.requests)
        failure: str | None = None
        tools = record_hook_tools() if not unit.leader else nullcontext(None)
        try:
            with tools as calls:
                try:
                    out = ctx.run(event, state)
                except testing.ActionFailed as e:
                    out, failure = e.state, e.message
        except Exception as e:
            raise HookError(f"{unit.name} {kind} {args}: {type(e).__name__}: {e}") from e
        finally:
            self.network.current_unit = None
            self._running = None
        if calls is not None and calls.management:
            self.violations.append(f"{unit.name} {kind}: non-leader called {calls.management}")
        if getattr(testing.Context.run, "__wrapped__", None) is None:
            # Outside a test's own leak guard (a session-wide template): the same check.
            check_for_leaks(ctx, state, out, [("action failure", failure or "")])
        results = dict(ctx.action_results or {}) if kind == "action" else {}
        unit.state = out
        self._absorb(unit, state, out, kind, args)
        span = (first_request, len(self.network.requests))
        status = f"{out.unit_status.name}: {out.unit_status.message}"
        hook = Hook(unit.name, kind, args, status, len(self.hooks), span)
        self.hooks.append(hook)
        self._check_no_leaks(hook)
        for callback in list(self.after_hook):
            callback(hook)
        return ActionOutcome(results, failure)

    def _event(self, unit: Unit, state: testing.State, kind: str, args: tuple[Any, ...]) -> Any:
        on = unit.ctx.on
        simple = {
            "install": on.install,
            "start": on.start,
            "config-changed": on.config_changed,
            "update-status": on.update_status,
            "leader-elected": on.leader_elected,
            "upgrade-charm": on.upgrade_charm,
        }
        if kind in simple:
            return simple[kind]()
        if kind == "pebble-ready":
            return on.pebble_ready(state.get_container(args[0]))
        if kind == "storage-attached":
            return on.storage_attached(next(s for s in state.storages if s.name == args[0]))
        if kind == "action":
            return on.action(args[0], params=dict(args[1]))
        if kind.startswith("relation-"):
            rel = next((r for r in state.relations if r.id == args[0]), None)
            if rel is None:
                return None
            if kind == "relation-created":
                return on.relation_created(rel)
            if kind == "relation-joined":
                return on.relation_joined(rel, remote_unit=args[1])
            if kind == "relation-changed":
                return on.relation_changed(rel, remote_unit=args[1])
            if kind == "relation-departed":
                return on.relation_departed(rel, remote_unit=args[1], departing_unit=args[1])
            if kind == "relation-broken":
                return on.relation_broken(rel)
        if kind.startswith("secret-"):
            secret = next((s for s in state.secrets if s.id == args[0]), None)
            if secret is None:
                return None
            if kind == "secret-changed":
                # Juju sends it to the owner's other units too; ctx.on refuses those.
                owned = secret.owner is not None
                return owner_secret_changed(secret) if owned else on.secret_changed(secret)
            if kind == "secret-rotate":
                return on.secret_rotate(secret)
            if kind == "secret-remove":
                return on.secret_remove(secret, revision=args[1])
        raise ValueError(f"unknown hook {kind}")

    # -- state in ------------------------------------------------------------------------------

    def _state_for(self, unit: Unit) -> testing.State:
        app = unit.app.name
        relations = []
        for rel in self.relations.values():
            if app not in rel.ends or unit.name in rel.broken_units:
                continue
            other = rel.other(app)
            kwargs: dict[str, Any] = {}
            if unit.name in rel.unit_data:
                kwargs["local_unit_data"] = dict(rel.unit_data[unit.name])
            relations.append(
                testing.Relation(
                    endpoint=rel.ends[app],
                    interface=rel.ends[app],
                    id=rel.id,
                    remote_app_name=other,
                    local_app_data=dict(rel.app_data[app]),
                    remote_app_data=dict(rel.app_data[other]),
                    remote_units_data={
                        u.number: dict(rel.unit_data.get(u.name, {}))
                        for u in self.apps[other].units
                    },
                    **kwargs,
                )
            )
        secrets = [
            self._secret_for(unit, record)
            for record in self.secrets.values()
            if self.can_see(app, record)
        ]
        return dataclasses.replace(
            unit.state,
            leader=unit.leader,
            config=dict(unit.app.config),
            relations=relations,
            secrets=secrets,
        )

    def _secret_for(self, unit: Unit, record: SecretRecord) -> testing.Secret:
        if record.owner == unit.app.name:
            tracked = record.tracked.get(unit.name, record.latest)
        else:
            tracked = record.tracked.setdefault(unit.name, record.latest)
        if tracked not in record.revisions:
            tracked = record.tracked[unit.name] = record.latest
        owned = record.owner == unit.app.name
        secret = testing.Secret(
            dict(record.revisions[tracked]),
            latest_content=dict(record.revisions[record.latest]),
            id=record.id,
            owner="app" if owned else None,
            remote_grants={k: set(v) for k, v in record.grants.items()} if owned else {},
            label=record.label if owned else record.labels.get(unit.name),
            description=record.description if owned else None,
            rotate=record.rotate if owned else None,
        )
        object.__setattr__(secret, "_tracked_revision", tracked)
        object.__setattr__(secret, "_latest_revision", record.latest)
        return secret

    # -- state out -----------------------------------------------------------------------------

    def _absorb(
        self,
        unit: Unit,
        state: testing.State,
        out: testing.State,
        kind: str,
        args: tuple[Any, ...],
    ) -> None:
        app = unit.app.name
        for relation in out.relations:
            rel = self.relations.get(relation.id)
            if rel is None:
                continue
            other = self.apps[rel.other(app)]
            changed = False
            local = dict(relation.local_app_data)
            if local != rel.app_data[app]:
                if unit.leader:
                    rel.app_data[app] = local
                    changed = True
                else:
                    self.violations.append(f"{unit.name} {kind}: non-leader wrote its app databag")
            unit_bag = dict(relation.local_unit_data)
            if unit_bag != rel.unit_data.get(unit.name):
                first = unit.name not in rel.unit_data
                rel.unit_data[unit.name] = unit_bag
                changed = changed or not first
            if changed and not rel.dying:
                for remote in other.units:
                    self._queue(remote.name, "relation-changed", rel.id, unit.number)
        if kind == "relation-broken":
            rel = self.relations[args[0]]
            rel.broken_units.add(unit.name)
            everyone = {u.name for a in rel.ends for u in self.apps[a].units}
            if everyone <= rel.broken_units:
                del self.relations[rel.id]
                for record in self.secrets.values():
                    record.grants.pop(rel.id, None)
        self._absorb_secrets(unit, state, out, kind, args)
        self._queue_prunes()

    def _absorb_secrets(
        self,
        unit: Unit,
        state: testing.State,
        out: testing.State,
        kind: str,
        args: tuple[Any, ...],
    ) -> None:
        app = unit.app.name
        out_secrets = {s.id: s for s in out.secrets}
        for secret in state.secrets:
            record = self.secrets.get(secret.id)
            if record is not None and record.owner == app and secret.id not in out_secrets:
                if not unit.leader:
                    self.violations.append(f"{unit.name} {kind}: non-leader removed a secret")
                del self.secrets[secret.id]
        for secret in out.secrets:
            self._remember_values(secret.latest_content)
            self._remember_values(secret.tracked_content)
            record = self.secrets.get(secret.id)
            if record is None:
                if secret.owner is None:
                    continue
                if not unit.leader:
                    self.violations.append(f"{unit.name} {kind}: non-leader created a secret")
                revision = secret._latest_revision  # pyright: ignore[reportPrivateUsage]
                record = SecretRecord(
                    secret.id,
                    app,
                    {revision: dict(secret.latest_content)},
                    revision,
                    label=secret.label,
                    description=secret.description,
                    rotate=secret.rotate,
                    grants={k: set(v) for k, v in secret.remote_grants.items()},
                )
                record.tracked[unit.name] = secret._tracked_revision  # pyright: ignore[reportPrivateUsage]
                self.secrets[secret.id] = record
                continue
            tracked = secret._tracked_revision  # pyright: ignore[reportPrivateUsage]
            if record.owner == app:
                latest = secret._latest_revision  # pyright: ignore[reportPrivateUsage]
                # Grants on a relation that is gone went with it (Juju revokes them).
                grants = {
                    k: set(v) for k, v in secret.remote_grants.items() if k in self.relations
                }
                meta = (secret.label, secret.rotate)
                if not unit.leader:
                    if (
                        latest != record.latest
                        or grants != record.grants
                        or meta
                        != (
                            record.label,
                            record.rotate,
                        )
                    ):
                        self.violations.append(f"{unit.name} {kind}: non-leader managed a secret")
                else:
                    # ops.testing counts a metadata change (set_info) as a revision; Juju
                    # makes a revision only for new content.
                    if latest != record.latest and secret.latest_content != record.content:
                        for revision in range(record.latest + 1, latest + 1):
                            record.revisions[revision] = dict(secret.latest_content)
                        record.latest = latest
                        self._secret_changed(record)
                    record.grants = grants
                    record.label, record.rotate = meta
                    record.description = secret.description
                record.tracked[unit.name] = tracked
            else:
                record.tracked[unit.name] = tracked
                if secret.label:
                    record.labels[unit.name] = secret.label
        if kind == "secret-remove":
            record = self.secrets.get(args[0])
            removed = set(unit.ctx.removed_secret_revisions)
            if record is not None and args[1] in removed:
                record.revisions.pop(args[1], None)
                record.pruned.append(args[1])

    def _secret_changed(self, record: SecretRecord) -> None:
        """A new revision: every consumer unit, and the owner's non-leader units (PR 15127)."""
        for app in self.apps.values():
            if app.name == record.owner:
                for unit in app.units:
                    if not unit.leader:
                        self._queue(unit.name, "secret-changed", record.id)
                continue
            if not self.can_see(app.name, record):
                continue
            for unit in app.units:
                self._queue(unit.name, "secret-changed", record.id)

    def _queue_prunes(self) -> None:
        for record in self.secrets.values():
            if record.owner is None:
                continue
            tracked = {
                revision
                for unit_name, revision in record.tracked.items()
                if self._unit_exists(unit_name) and self.can_see(unit_name.split("/")[0], record)
            }
            for revision in sorted(record.revisions):
                if revision == record.latest or revision in tracked:
                    continue
                if revision in record.prune_queued:
                    continue
                record.prune_queued.add(revision)
                self._queue(f"{record.owner}/{LEADER}", "secret-remove", record.id, revision)

    def _unit_exists(self, name: str) -> bool:
        app, number = name.split("/")
        return app in self.apps and any(u.number == int(number) for u in self.apps[app].units)

    # -- Pebble --------------------------------------------------------------------------------

    def pebble_changed(
        self,
        container: str,
        call: str,
        *,
        names: list[str],
        before: dict[str, bool],
        after: dict[str, bool],
        plan: dict[str, Any],
    ) -> None:
        """A service started, stopped or restarted in the running unit's container."""
        unit = self._running
        if unit is None:
            return
        for (box, service), workload in unit.workloads.items():
            if box != container:
                continue
            was, now = before.get(service, False), after.get(service, False)
            if call == "restart_services" and service in names:
                workload.boot(plan.get(service))
            elif call == "start_services" and service in names and not (was and workload.running):
                workload.boot(plan.get(service))
            elif call == "stop_services" and service in names:
                workload.stop()
            elif call == "replan_services":
                if now and (not was or workload.booted_plan != plan.get(service)):
                    workload.boot(plan.get(service))
                elif not now:
                    workload.stop()

    # -- leak guard over the whole run ---------------------------------------------------------

    def _remember_values(self, content: dict[str, str] | None) -> None:
        for key, value in (content or {}).items():
            if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                self.secret_values.setdefault(value, key)

    def _check_no_leaks(self, hook: Hook) -> None:
        for record in self.secrets.values():
            for content in record.revisions.values():
                self._remember_values(content)
        surfaces: list[tuple[str, str]] = []
        for rel in self.relations.values():
            for app, bag in rel.app_data.items():
                surfaces.append((f"{app} app databag on {rel.key}", json.dumps(bag)))
            for unit, bag in rel.unit_data.items():
                surfaces.append((f"{unit} unit databag on {rel.key}", json.dumps(bag)))
        for app in self.apps.values():
            for unit in app.units:
                surfaces.append((f"{unit.name} status", str(unit.state.unit_status)))
                surfaces.append((f"{app.name} app status", str(unit.state.app_status)))
        for where, text in surfaces:
            for value, key in self.secret_values.items():
                if value in text:
                    raise SecretLeakError(
                        f"after {hook.unit} {hook.kind}: a secret value ({key}, "
                        f"{len(value)} chars) is in {where}"
                    )

    # -- what the tests look at ----------------------------------------------------------------

    def statuses(self) -> dict[str, str]:
        """``juju status``: unit -> "name: message"."""
        return {
            u.name: f"{u.state.unit_status.name}: {u.state.unit_status.message}"
            for a in self.apps.values()
            for u in a.units
        }

    def hooks_since(self, index: int) -> list[Hook]:
        return self.hooks[index:]

    def requests_of(self, hook: Hook) -> list[Request]:
        """The HTTP requests a hook sent (to any workload)."""
        return self.network.requests[hook.requests[0] : hook.requests[1]]


WIREGUARD = {
    "private-key": "cGxhY2Vob2xkZXIta2V5LW9mLXRoaXJ0eS10d28tYj0=",
    "addresses": "10.64.0.2/32",
}
"""The operator's VPN account (a WireGuard key) for Gluetun's user secret."""


def deploy_charmarr(
    stack: Stack, *, grant: bool = True, scale: dict[str, int] | None = None
) -> dict[str, str]:
    """What the README tells an operator to do: user secrets, deploy the bundle, wait.

    ``juju add-secret`` a claim token (from plex.tv) and a WireGuard key, ``juju
    grant-secret`` them (unless ``grant`` is False), ``juju deploy ./bundle.yaml`` with
    ``vpn-provider``, ``credentials-secret`` and ``claim-token-secret`` set, and let the
    model converge. Returns the user secrets' URIs (``claim``, ``vpn``).
    """
    claim = stack.add_user_secret({"claim-token": stack.plex_tv.issue_claim_token()})
    vpn = stack.add_user_secret(WIREGUARD)
    if grant:
        stack.grant_secret(claim, "plex")
        stack.grant_secret(vpn, "gluetun")
    stack.deploy_bundle(
        extra={
            "gluetun": {
                "vpn-provider": "mullvad",
                "credentials-secret": vpn,
                "cluster-cidrs": "10.1.0.0/16,10.152.183.0/24",
            },
            "plex": {"claim-token-secret": claim},
        },
        scale=scale,
    )
    set_up_apps(stack)
    stack.converge()
    return {"claim": claim, "vpn": vpn}


def set_up_apps(stack: Stack) -> None:
    """What the guide has the operator do in the apps' web UIs: Plex's Movie and TV
    libraries (Radarr and Sonarr refuse a Plex connection without one) and an indexer in
    Prowlarr (which Prowlarr then syncs into Radarr and Sonarr)."""
    for unit in stack.apps["plex"].units if "plex" in stack.apps else []:
        unit.fake.add_library("movie", "Movies")
        unit.fake.add_library("show", "TV Shows")
    for unit in stack.apps["prowlarr"].units if "prowlarr" in stack.apps else []:
        unit.fake.add_indexer("Nyaa", protocol="torrent")
        unit.fake.add_indexer("NZBgeek", protocol="usenet")


def snapshot(root: Path, into: Path) -> None:
    """Keep a copy of a stack's files (the workloads' volumes)."""
    shutil.copytree(root, into, symlinks=True, dirs_exist_ok=True)


def restore(root: Path, snapshot_dir: Path) -> None:
    """Put a stack's files back as :func:`snapshot` kept them."""
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(snapshot_dir, root, symlinks=True)


def _writes(fake: Any) -> list[Any]:
    writes = getattr(fake, "api_writes", None)
    return list(writes if writes is not None else fake.writes)
