"""What one hook costs a charm: hook-tool calls, Pebble calls, workload HTTP, wall time.

Shared by the budget tests (``tests/budgets``), which fail CI when a deterministic count
goes over budget, and by ``tox -e bench`` (``tools/bench.py``), which prints them all.
Each charm is measured in steady state: its wired state (every relation, the workload
answering through fakes), converged by a few hooks, then one more hook. Nothing is reused
between runs: each ``Context.run`` gets a new ``Context`` (a reused one logs a Scenario
warning through ``juju-log`` that Juju never would).

Run as a script (``python -I hook_cost.py MODE PICKLE CHARM EVENT``) it is the fresh
process of the bench's full-hook timing: it loads a converged state written by
:func:`snapshot`, runs one hook of one charm and exits (see :func:`_fresh_main`).
"""

from __future__ import annotations

import atexit
import cProfile
import hashlib
import json
import os
import pickle
import pstats
import shutil
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ops
from charms_under_test import _charmcraft, context, wired_state  # pyright: ignore[reportPrivateUsage]
from ops import testing

from charmarr_common.http import use_transport
from charmarr_testing.fakes import FakeApp, FakeNetwork


def hook_environment() -> None:
    """Outside pytest (the bench, its fresh processes): the environment Juju and the kubelet
    give every hook, and the pod's service account, as ``charmarr_testing.pytest_plugin``
    sets them for the tests (the account in a folder left for the process's life)."""
    import tempfile

    import charmarr_common.k8s
    from charmarr_testing.fake_k8s import API_SERVICE, write_service_account
    from charmarr_testing.pytest_plugin import JUJU_API_ADDRESSES

    os.environ.setdefault("JUJU_API_ADDRESSES", JUJU_API_ADDRESSES)
    os.environ.setdefault("KUBERNETES_SERVICE_HOST", API_SERVICE)
    os.environ.setdefault("KUBERNETES_SERVICE_PORT", "443")
    pod = Path(tempfile.mkdtemp(prefix="charmarr-pod-"))
    atexit.register(shutil.rmtree, pod, ignore_errors=True)
    charmarr_common.k8s.SERVICE_ACCOUNT = write_service_account(pod / "serviceaccount")


FULL_RECONCILE_EVENTS = ("config-changed", "relation-changed")
"""Hooks that run the whole reconcile (every relation, secret and workload setting read)."""


@dataclass
class HookCost:
    """The cost of one hook of one charm."""

    charm: str
    event: str
    hook_tools: dict[str, int] = field(default_factory=dict)
    """Calls per hook tool, ``is-leader`` counted once (ops caches it for 30 s in a hook)."""
    is_leader_calls: int = 0
    """``is-leader`` as the charm asked it, before ops' cache."""
    pebble_reads: list[str] = field(default_factory=list)
    pebble_writes: list[str] = field(default_factory=list)
    http_requests: int = 0
    http_writes: list[str] = field(default_factory=list)
    secrets_in_state: int = 0
    pbkdf2_derivations: int = 0
    remote_app_lookups: int = 0
    """``relation-list --app`` processes ops spawns for a relation's remote app: only for a
    relation with no remote unit left (``ops.model.Relation`` takes the app from a unit's
    name otherwise), never for the event's (``JUJU_REMOTE_APP``). Counted in
    :attr:`hook_tools` too, as ``relation-list --app``."""
    seconds: float = 0.0
    status: str = ""
    relation: str = ""

    @property
    def hook_tool_total(self) -> int:
        """Estimated hook-tool processes, as Juju spawns them (one per call, is-leader once)."""
        return sum(self.hook_tools.values())

    @property
    def hook_tool_calls(self) -> int:
        """Hook-tool calls as ops' model asks them, every ``is-leader`` included."""
        return self.hook_tool_total - self.hook_tools.get("is-leader", 0) + self.is_leader_calls

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly."""
        return {
            "charm": self.charm,
            "event": self.event,
            "relation": self.relation,
            "hook_tools": self.hook_tools,
            "hook_tool_calls": self.hook_tool_calls,
            "hook_tool_processes": self.hook_tool_total,
            "is_leader_calls": self.is_leader_calls,
            "pebble_reads": len(self.pebble_reads),
            "pebble_writes": self.pebble_writes,
            "http_requests": self.http_requests,
            "http_writes": self.http_writes,
            "secrets_in_state": self.secrets_in_state,
            "pbkdf2_derivations": self.pbkdf2_derivations,
            "remote_app_lookups": self.remote_app_lookups,
            "seconds": round(self.seconds, 4),
            "status": self.status,
        }


def trigger(ctx: Any, name: str, state: testing.State) -> tuple[Any, str]:
    """The event ``name`` and, for ``relation-changed``, the relation it is on.

    A relation event fires on the first non-peer relation by endpoint and remote app, so
    every run picks the same one.
    """
    if name != "relation-changed":
        return getattr(ctx.on, name.replace("-", "_"))(), ""
    relations = sorted(
        (r for r in state.relations if isinstance(r, testing.Relation)),
        key=lambda r: (r.endpoint, r.remote_app_name),
    )
    if not relations:
        raise LookupError("the wired state has no relation to change")
    first = relations[0]
    unit = min(first.remote_units_data)
    return (
        ctx.on.relation_changed(first, remote_unit=unit),
        f"{first.endpoint}:{first.remote_app_name}/{unit}",
    )


def converged(charm: str, network: FakeNetwork, *, settle: int = 3, leader: bool = True) -> Any:
    """``charm``'s wired state after one config-changed and ``settle`` update-status hooks."""
    state, _ = wired_state(charm, network, leader=leader)
    for event in ["config-changed"] + ["update-status"] * settle:
        ctx = context(charm)
        state = ctx.run(trigger(ctx, event, state)[0], state)
    return state


@contextmanager
def count_is_leader() -> Iterator[list[int]]:
    """Count ``is-leader`` calls as ops' model makes them, before its 30 s cache."""
    from scenario.mocking import _MockModelBackend  # pyright: ignore[reportPrivateUsage]

    counter = [0]
    original = _MockModelBackend.is_leader

    def counting(self: Any) -> bool:
        counter[0] += 1
        return original(self)

    _MockModelBackend.is_leader = counting  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        _MockModelBackend.is_leader = original  # type: ignore[method-assign]


@contextmanager
def count_remote_app_lookups(event_relation: int | None) -> Iterator[list[int]]:
    """Count the remote-app lookups ops makes with ``relation-list --app`` in production.

    ``ops.model.Relation.__init__`` asks for the remote app only when ``relation-list``
    named no remote unit; ``_ModelBackend.relation_remote_app_name`` answers the event's
    relation from ``JUJU_REMOTE_APP`` and spawns ``relation-list --app`` for any other
    (ops 3.9, ``ops/model.py``). Scenario's backend also calls it for its own bookkeeping
    (to build unit names in ``relation_list``, to name a grantee): those calls are no
    process in production and are not counted.
    """
    from scenario.mocking import _MockModelBackend  # pyright: ignore[reportPrivateUsage]

    counter = [0]
    original = _MockModelBackend.relation_remote_app_name

    def counting(self: Any, relation_id: int, *args: Any, **kwargs: Any) -> str | None:
        caller = sys._getframe(1).f_globals.get("__name__")  # pyright: ignore[reportPrivateUsage]
        if relation_id != event_relation and caller == "ops.model":
            counter[0] += 1
        return original(self, relation_id, *args, **kwargs)

    _MockModelBackend.relation_remote_app_name = counting  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        _MockModelBackend.relation_remote_app_name = original  # type: ignore[method-assign]


@contextmanager
def count_pbkdf2() -> Iterator[list[int]]:
    """Count ``hashlib.pbkdf2_hmac`` derivations (each is 100,000 SHA-512 rounds for qBittorrent)."""
    counter = [0]
    original = hashlib.pbkdf2_hmac

    def counting(*args: Any, **kwargs: Any) -> bytes:
        counter[0] += 1
        return original(*args, **kwargs)

    hashlib.pbkdf2_hmac = counting  # type: ignore[assignment]
    try:
        yield counter
    finally:
        hashlib.pbkdf2_hmac = original


def snapshot(charm: str, *, settle: int = 3, leader: bool = True) -> bytes:
    """``charm``'s converged state and its workload fakes, pickled.

    Each unpickling is a fresh copy, so several hooks (or a fresh process) can start from
    the same converged state without sharing anything mutable.
    """
    network = FakeNetwork()
    with use_transport(network):
        state = converged(charm, network, settle=settle, leader=leader)
    return pickle.dumps((charm, state, network))


def measure(
    charm: str,
    event: str = "update-status",
    *,
    settle: int = 3,
    leader: bool = True,
    start: bytes | None = None,
) -> HookCost:
    """Converge ``charm`` from its wired state, then measure one ``event`` in a new Context.

    With ``leader`` False the unit is a standby (``charmarr_common.standby``). ``start``
    is a :func:`snapshot` to start from instead of converging again.
    """
    from charmarr_testing.pytest_plugin import record_hook_tools, record_pebble

    _, state, network = pickle.loads(start or snapshot(charm, settle=settle, leader=leader))
    with use_transport(network):
        fakes = [app for app in network.apps.values() if isinstance(app, FakeApp)]
        seen = {id(app): len(app.requests) for app in fakes}
        before = len(network.requests)
        cost = HookCost(charm, event, secrets_in_state=len(state.secrets))
        ctx = context(charm)
        hook, cost.relation = trigger(ctx, event, state)
        relation = getattr(hook, "relation", None)
        with (
            record_hook_tools() as tools,
            count_is_leader() as is_leader,
            count_remote_app_lookups(relation.id if relation else None) as remote_apps,
            record_pebble() as pebble,
            count_pbkdf2() as pbkdf2,
        ):
            start = time.perf_counter()
            out = ctx.run(hook, state)
            cost.seconds = time.perf_counter() - start
        cost.hook_tools = tools.by_tool()
        cost.is_leader_calls = is_leader[0]
        cost.pbkdf2_derivations = pbkdf2[0]
        cost.remote_app_lookups = remote_apps[0]
        if remote_apps[0]:
            cost.hook_tools["relation-list --app"] = remote_apps[0]
        cost.pebble_reads = pebble.reads
        cost.pebble_writes = pebble.writes
        cost.http_requests = len(network.requests) - before
        for app in fakes:
            new = app.requests[seen[id(app)] :]
            cost.http_writes += [f"{r.method} {r.path}" for r in new if app.changes_state(r)]
        cost.status = f"{out.unit_status.name}: {out.unit_status.message}"
    return cost


# ---------------------------------------------------------------------------------------------
# One hook in a fresh interpreter (the bench's full-hook timing)
# ---------------------------------------------------------------------------------------------


class _Idle(ops.CharmBase):
    """A charm that observes nothing: what ops.testing costs without any charm code."""


def _idle_context(charm: str) -> testing.Context[ops.CharmBase]:
    raw = _charmcraft(charm)
    meta = {k: v for k, v in raw.items() if k not in ("config", "actions")}
    return testing.Context(
        _Idle, meta=meta, config=raw.get("config") or {"options": {}}, actions=raw.get("actions")
    )


_RUNTIME_PACKAGES = ("charmarr_interfaces", "charmarr_common", "charmarr_servarr")
_HARNESS_PREFIXES = ("ops.testing", "ops._private.harness", "scenario", "_charmarr_charm_")


def _runtime_modules(before: set[str], charm: str) -> list[str]:
    """Modules the charm's hook needs, for the pure-runtime import: what the run loaded
    (minus ops.testing's own), plus the shared runtime modules the fakes had loaded first."""
    own = ("charm", f"_{charm}", *_RUNTIME_PACKAGES)
    names = [
        name
        for name in sys.modules
        if (name not in before and not name.startswith(_HARNESS_PREFIXES))
        or name.split(".")[0] in own
    ]
    return sorted(names)


def _built_models() -> list[str]:
    """``module:Class`` of every pydantic model in the shared packages built by now."""
    if "pydantic" not in sys.modules:
        return []
    from pydantic import BaseModel

    found = []
    for name, module in list(sys.modules.items()):
        if not name.startswith(_RUNTIME_PACKAGES) and not name.startswith("_"):
            continue
        for attr, value in vars(module).items():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == name
                and value.__pydantic_complete__
            ):
                found.append(f"{name}:{attr}")
    return sorted(found)


def _warm_runs(
    charm: str, event: str, state: Any, network: FakeNetwork, repeat: int = 9
) -> dict[str, float]:
    """Median wall and CPU of ``repeat`` more runs of the hook and of the idle charm.

    The fakes answer in this process: their CPU (``FakeNetwork.cpu_seconds``: the Servarr
    apps, Kubernetes' schema validation, ...) is the workloads', not the charm's, and is
    left out of the CPU figures (``fakes_cpu_s`` says how much that was).
    """
    marks: dict[str, float] = {}
    for key, make in (("warm_hook", context), ("warm_idle", _idle_context)):
        walls, cpus, fakes = [], [], []
        for _ in range(repeat):
            ctx = make(charm)
            hook = trigger(ctx, event, state)[0]
            served = network.cpu_seconds
            begin, begin_cpu = time.perf_counter(), time.process_time()
            ctx.run(hook, state)
            walls.append(time.perf_counter() - begin)
            fakes.append(network.cpu_seconds - served)
            cpus.append(time.process_time() - begin_cpu - fakes[-1])
        marks[f"{key}_s"] = statistics.median(walls)
        marks[f"{key}_cpu_s"] = statistics.median(cpus)
        marks[f"{key}_fakes_cpu_s"] = statistics.median(fakes)
    return marks


def _fresh_main(argv: list[str]) -> int:
    """One fresh process: ``MODE PICKLE EVENT``; prints JSON of its in-process marks.

    Modes: ``hook`` loads the state (ops.testing, the kit, the fakes), imports the charm,
    runs one hook in a new Context and exits; ``floor`` does the same with a charm that
    observes nothing (ops.testing's and the kit's share of ``hook``); ``probe`` runs the
    hook like ``hook``, then reports the modules and models it loaded and times more runs
    of it and of the idle charm in the warm process (the hook's own work); ``profile``
    runs the hook like ``hook`` under cProfile (charm import, models and run; not the
    kit) and prints the top functions by cumulative and by own time instead.
    """
    mode, path, event = argv
    hook_environment()
    charm, state, network = pickle.loads(Path(path).read_bytes())
    loaded = time.perf_counter()
    before = set(sys.modules)
    marks: dict[str, Any] = {}
    with use_transport(network):
        profiler = cProfile.Profile() if mode == "profile" else None
        if profiler:
            profiler.enable()
        ctx = _idle_context(charm) if mode == "floor" else context(charm)
        out = ctx.run(trigger(ctx, event, state)[0], state)
        marks["hook_s"] = time.perf_counter() - loaded
        marks["status"] = f"{out.unit_status.name}: {out.unit_status.message}"
        if profiler:
            profiler.disable()
            for order in ("cumulative", "tottime"):
                pstats.Stats(profiler).sort_stats(order).print_stats(25)
        if mode == "probe":
            marks["modules"] = _runtime_modules(before, charm)
            marks["models"] = _built_models()
            marks.update(_warm_runs(charm, event, state, network))
    print(json.dumps(marks))
    return 0


if __name__ == "__main__":
    sys.exit(_fresh_main(sys.argv[1:]))
