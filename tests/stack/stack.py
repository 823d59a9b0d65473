"""Juju, played in one process for the seven Charmarr charms: the commands and the hook queue.

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

Beside it: :mod:`records` (what Juju knows), :mod:`workloads` (pods and Services),
:mod:`kits` (each charm's pod and fake), :mod:`translate` (records <-> ``State``),
:mod:`compat` (every patch of ops.testing internals, pinned to the ops release) and
:mod:`guide` (what the README has an operator do).
"""

from __future__ import annotations

import copy
import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from charms_under_test import context
from compat import cached_pbkdf2, libyaml, pebble_service_calls
from kits import bundle, charm_options, charm_storages
from kits import kit as make_kit
from ops import testing
from records import (
    LEADER,
    MODEL,
    MODEL_NAME,
    ActionOutcome,
    App,
    Hook,
    HookError,
    Rel,
    SecretRecord,
    Unit,
)
from translate import Translation
from workloads import ServiceRouter, StackNetwork

from charmarr_common.http import Request, use_transport
from charmarr_testing.fake_plex import PLEX_TV_ADDRESS, FakePlexTv
from charmarr_testing.juju_semantics import juju_secret_semantics
from charmarr_testing.pytest_plugin import (
    MIN_SECRET_LENGTH,
    SecretLeakError,
    check_for_leaks,
    record_hook_tools,
    ungranted_secrets,
)


def _xid(secret_id: str) -> str:
    return secret_id.rsplit("/", 1)[-1].removeprefix("secret:")


class Stack(Translation):
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
        self.external: set[str] = set()
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
            stack_ctx.enter_context(pebble_service_calls(stack.pebble_changed))
            stack_ctx.enter_context(cached_pbkdf2())
            stack_ctx.enter_context(libyaml())
            stack._denied = stack_ctx.enter_context(ungranted_secrets())
            stack_ctx.enter_context(juju_secret_semantics())
            yield stack

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
        kit = make_kit(app.charm, unit_name, self.root / f"{app.name}-{number}")
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
        """``juju deploy ./bundle.yaml``: every app with its options, then every relation.

        Charmhub charms (traefik-k8s) and their relations are left out: a test that wants
        one plays it (:meth:`deploy_external`, e.g. with ``charmarr_testing.ingress``).
        """
        data = bundle()
        for name, spec in data["applications"].items():
            if not str(spec["charm"]).startswith("./"):
                continue
            charm = Path(spec["charm"]).parent.name
            config = {**(spec.get("options") or {}), **(extra or {}).get(name, {})}
            self.deploy(name, charm, config=config, units=(scale or {}).get(name, 1))
        for a, b in data["relations"]:
            if {a.split(":")[0], b.split(":")[0]} <= set(self.apps):
                self.integrate(a, b)

    def deploy_external(self, name: str, charm: str) -> App:
        """A Charmhub app the test plays (its databags, via :attr:`after_hook`): no unit runs.

        Related units see it as one remote unit, 0, and get ``relation-joined`` and
        ``-changed`` from it when integrated; the test queues ``relation-changed`` (from
        unit 0) when it writes its side.
        """
        app = App(name, charm, {})
        self.apps[name] = app
        self.external.add(name)
        return app

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
            remotes = [u.number for u in other.units] or (
                [0] if other.name in self.external else []
            )
            for unit in self.apps[app].units:
                for number in remotes:
                    self._queue(unit.name, "relation-joined", rel.id, number)
                    self._queue(unit.name, "relation-changed", rel.id, number)
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


def _writes(fake: Any) -> list[Any]:
    """What a workload fake counts as writes to its app (API writes where it tells them)."""
    writes = getattr(fake, "api_writes", None)
    return list(writes if writes is not None else fake.writes)
