"""Pytest plugin for every Charmarr test suite (``-p charmarr_testing.pytest_plugin``).

The **secret-leak guard** wraps ``ops.testing.Context.run`` for every test. After each run
it gathers every secret content value (8+ characters) present in the input and output
states (owned, consumed and user secrets alike) and fails the test if one appears in a
``juju-log`` line, a unit or app status message (current or history), a local relation
databag, a Pebble layer (environment included), action results or an action failure
message, or the text of an uncaught exception.

A test that must show a credential (none should) opts out visibly with
``@pytest.mark.leaks_allowed``.

**Juju's secret semantics** (:mod:`.juju_semantics`) apply to every ``Context.run`` too:
a ``secret-set`` stays pending until the hook ends, only ``refresh``/``peek`` read it,
``secret-info-get`` keeps the committed revision. A test of ``ops.testing``'s own
behaviour opts out visibly with ``@pytest.mark.lenient_secrets``.

Fixtures: ``fake_network`` (a :class:`~.fakes.FakeNetwork` installed as the HTTP
transport; afterwards every request its Servarr fakes received is validated against the
apps' OpenAPI documents) and ``ungranted`` (make ``secret-get`` of given IDs fail as Juju
does for a secret that exists but was not granted).
"""

from __future__ import annotations

import tempfile
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import pytest

MIN_SECRET_LENGTH = 8


class SecretLeakError(AssertionError):
    """Secret content showed up where an operator or another app can read it."""


def _secret_values(states: Iterable[Any]) -> dict[str, str]:
    """Value -> a description of the secret it belongs to (never printed in full)."""
    values: dict[str, str] = {}
    for state in states:
        if state is None:
            continue
        for secret in state.secrets:
            for content in (secret.tracked_content, secret.latest_content):
                for key, value in (content or {}).items():
                    if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                        values[value] = f"{secret.label or secret.id}[{key}]"
    return values


def _surfaces(ctx: Any, state: Any, extra: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """(where, text) pairs an operator or another application can read."""
    for line in getattr(ctx, "juju_log", []):
        yield "juju-log", str(line.message)
    for entry in [
        *getattr(ctx, "unit_status_history", []),
        *getattr(ctx, "app_status_history", []),
    ]:
        yield "status history", str(getattr(entry, "message", ""))
    results = getattr(ctx, "action_results", None)
    if results:
        yield "action results", repr(results)
    if state is not None:
        yield "unit status", state.unit_status.message
        yield "app status", state.app_status.message
        for relation in state.relations:
            bags = [
                getattr(relation, "local_app_data", {}),
                getattr(relation, "local_unit_data", {}),
            ]
            for bag in bags:
                yield f"databag of {relation.endpoint}:{relation.id}", repr(dict(bag))
        for container in state.containers:
            for name, layer in container.layers.items():
                yield f"Pebble layer {container.name}/{name}", layer.to_yaml()
    yield from extra


def check_for_leaks(
    ctx: Any, state_in: Any, state_out: Any, extra: Iterable[tuple[str, str]] = ()
) -> None:
    """Raise :class:`SecretLeakError` if a secret value from either state leaked."""
    values = _secret_values([state_in, state_out])
    if not values:
        return
    for where, text in _surfaces(ctx, state_out or state_in, extra):
        for value, owner in values.items():
            if value in text:
                raise SecretLeakError(
                    f"secret content of {owner} ({value[:2]}…, {len(value)} chars) leaked "
                    f"into {where}"
                )


def _exception_texts(error: BaseException) -> list[tuple[str, str]]:
    texts = [("exception", "".join(traceback.format_exception_only(type(error), error)))]
    cause = error.__cause__ or error.__context__
    if cause is not None:
        texts.append(("exception", "".join(traceback.format_exception_only(type(cause), cause))))
    return texts


SEEN_STATUSES: set[tuple[str, str]] = set()
"""(level, message) of every status a Charmarr charm ended a hook with in this session."""


def record_statuses(ctx: Any, state: Any) -> None:
    """Remember the statuses a charm under ``charms/`` ended a hook with."""
    spec = getattr(ctx, "_charm_spec", None)  # the public ``charm_spec`` is deprecated
    charm_type = getattr(spec, "charm_type", None)
    if state is None or not getattr(charm_type, "__module__", "").startswith("_charmarr_charm_"):
        return
    for status in (state.unit_status, state.app_status):
        if status.name != "unknown":
            SEEN_STATUSES.add((status.name, status.message))


def unexplained_statuses(seen: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (level, message) pairs the guide's status catalogue does not explain."""
    from charmarr_common.statuses import explain

    return sorted((level, message) for level, message in seen if not explain(level, message))


_TEMP: dict[str, Any] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    """Give the session a temp folder of its own, to see what the tests leave behind.

    pytest's own ``tmp_path`` directories stay where pytest keeps them (its retention
    policy); everything else made with :mod:`tempfile` (here or in a subprocess, through
    ``TMPDIR``) lands in the session's folder, which must be empty at the end.
    """
    import os
    import tempfile

    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        factory.getbasetemp()
    _TEMP.update(previous=tempfile.tempdir, env=os.environ.get("TMPDIR"))
    _TEMP["root"] = tempfile.mkdtemp(prefix="charmarr-test-session-")
    # It stands in for /tmp: the real-daemon tests run the workloads as their image's user
    # (uid 1000) on folders in it, so it must be traversable as /tmp is (sticky, 1777).
    os.chmod(_TEMP["root"], 0o1777)  # noqa: S103 - a /tmp stand-in, sticky as /tmp is
    tempfile.tempdir = os.environ["TMPDIR"] = _TEMP["root"]


def _left_in_temp() -> list[str]:
    """Remove the session's temp folder; what the tests left in it (scratch dirs aside)."""
    import os
    import shutil
    import tempfile

    from .scratch import remove_scratch

    root = _TEMP.pop("root", None)
    if root is None:
        return []
    remove_scratch()
    tempfile.tempdir = _TEMP.get("previous")
    if _TEMP.get("env") is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = _TEMP["env"]
    import gc

    gc.collect()  # ops.testing removes a Context's scenario-* folder when it is collected...
    # ...or at exit (weakref.finalize) for a Context still alive: those are its to remove.
    left = sorted(name for name in os.listdir(root) if not name.startswith("scenario-"))
    shutil.rmtree(root, ignore_errors=True)
    return left


_FROM_WORKERS: list[list[Any]] = []
"""Problems the pytest-xdist workers found at their session's end (on the controller)."""


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run on a status the guide does not explain, or on a leftover temp entry.

    A status counts at its level: the catalogue's entry must have the same one. Under
    pytest-xdist each worker checks what it saw and hands its problems to the controller
    (``workeroutput``), which reports them and fails the run.
    """
    problems: list[list[Any]] = []
    missing = unexplained_statuses(SEEN_STATUSES)
    if missing:
        lines = [f"{level}: {message}" for level, message in missing]
        lines.append("add them to common/src/charmarr_common/statuses.py (and README.md's table)")
        problems.append(["statuses the guide does not explain", lines])
    left = _left_in_temp()
    if left:
        lines = [*left, "remove them in the test, or make them with testing.scratch"]
        problems.append(["left in the temp folder by the tests", lines])
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["charmarr_problems"] = problems
        return
    problems += _FROM_WORKERS
    if not problems:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for title, lines in problems:
        if reporter is not None:
            reporter.write_sep("=", title, red=True)
            for line in lines:
                reporter.write_line(line)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist: keep what a finished worker found for the controller's report."""
    _FROM_WORKERS.extend(getattr(node, "workeroutput", {}).get("charmarr_problems", []))


def _guard(original: Callable[..., Any]) -> Callable[..., Any]:
    from ops.testing import ActionFailed

    def run(self: Any, event: Any, state: Any) -> Any:
        try:
            out = original(self, event, state)
        except ActionFailed as e:
            check_for_leaks(self, state, e.state, [("action failure", e.message)])
            record_statuses(self, e.state)
            raise
        except Exception as e:
            check_for_leaks(self, state, None, _exception_texts(e))
            raise
        check_for_leaks(self, state, out)
        record_statuses(self, out)
        return out

    run.__wrapped__ = original  # type: ignore[attr-defined]
    return run


@pytest.fixture(autouse=True)
def _secret_leak_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Applied to every test: wrap ``Context.run`` with the leak guard."""
    if request.node.get_closest_marker("leaks_allowed"):
        yield
        return
    try:
        from scenario.context import Context
    except ImportError:  # pragma: no cover - ops[testing] not installed
        yield
        return
    monkeypatch.setattr(Context, "run", _guard(Context.run))
    yield


JUJU_API_ADDRESSES = "10.152.183.44:17070"
"""The controller every test's unit agent talks to: a Service in the cluster, as on MicroK8s."""


@pytest.fixture(autouse=True, scope="session")
def _hook_environment():
    """For the whole session: the environment Juju and the kubelet give every hook.

    Juju sets ``JUJU_API_ADDRESSES`` from the agent's configuration (worker/uniter/runner/
    context/context.go); the kubelet sets ``KUBERNETES_SERVICE_HOST``/``PORT`` in every
    container, and mounts the pod's service account (token and the cluster's CA) where
    ``charmarr_common.k8s`` reads it. ``ops.testing`` gives none of them; the kill switch
    needs them all. Session-wide, so that session fixtures (the deployed stack) see it too.
    """
    import charmarr_common.k8s

    from .fake_k8s import API_SERVICE, write_service_account

    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as pod:
        patch.setenv("JUJU_API_ADDRESSES", JUJU_API_ADDRESSES)
        patch.setenv("KUBERNETES_SERVICE_HOST", API_SERVICE)
        patch.setenv("KUBERNETES_SERVICE_PORT", "443")
        account = write_service_account(Path(pod) / "serviceaccount")
        patch.setattr(charmarr_common.k8s, "SERVICE_ACCOUNT", account)
        yield


@pytest.fixture(autouse=True)
def _juju_secrets(request: pytest.FixtureRequest):
    """Applied to every test: ``Context.run`` keeps secrets as Juju does within a hook."""
    from .juju_semantics import juju_secret_semantics

    lenient = request.node.get_closest_marker("lenient_secrets") is not None
    with nullcontext() if lenient else juju_secret_semantics():
        yield


@pytest.fixture(autouse=True)
def _no_waiting(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """Charms wait for workloads with ``workload.poll``; against fakes, waiting is pointless.

    Real-workload tests (marked ``workload``) keep real waiting. Each test gets a fresh
    hook-wide poll budget, as each hook (one process) does in production.
    """
    from charmarr_common import workload

    monkeypatch.setattr(workload, "_poll_deadline", None)
    if request.node.get_closest_marker("workload") is None:
        monkeypatch.setattr(workload, "_sleep", lambda _seconds: None)
    yield


@pytest.fixture
def fake_network():
    """A :class:`FakeNetwork` installed as the HTTP transport for the test."""
    from charmarr_common.http import use_transport

    from .fakes import FakeNetwork

    network = FakeNetwork()
    with use_transport(network):
        yield network
    # Every request a Servarr fake received must match the app's official API description
    # (../shared/reference/openapi; absent outside the project's checkout).
    from .openapi import reference_dir, validate_network

    if reference_dir().is_dir():
        validate_network(network)


def _xid(secret_id: str) -> str:
    return secret_id.rsplit("/", 1)[-1].removeprefix("secret:")


@contextmanager
def ungranted_secrets(*secret_ids: str) -> Iterator[set[str]]:
    """Make ``secret-get``/``secret-info-get`` of these IDs fail with "permission denied".

    ``ops.testing`` has no notion of a secret that exists but was not granted; Juju answers
    it with a ModelError, which is what this simulates. Add IDs to the yielded set later.
    """
    from ops import ModelError
    from scenario.mocking import _MockModelBackend  # pyright: ignore[reportPrivateUsage]

    denied = {_xid(s) for s in secret_ids}
    original_get = _MockModelBackend.secret_get
    original_info = _MockModelBackend.secret_info_get

    def secret_get(self: Any, *, id: str | None = None, label: str | None = None, **kw: Any):
        if id is not None and _xid(id) in denied:
            raise ModelError("ERROR permission denied")
        return original_get(self, id=id, label=label, **kw)

    def secret_info_get(self: Any, *, id: str | None = None, label: str | None = None):
        if id is not None and _xid(id) in denied:
            raise ModelError("ERROR permission denied")
        return original_info(self, id=id, label=label)

    _MockModelBackend.secret_get = secret_get  # type: ignore[method-assign]
    _MockModelBackend.secret_info_get = secret_info_get  # type: ignore[method-assign]
    try:
        yield denied
    finally:
        _MockModelBackend.secret_get = original_get  # type: ignore[method-assign]
        _MockModelBackend.secret_info_get = original_info  # type: ignore[method-assign]


@pytest.fixture
def ungranted():
    """A set of secret IDs whose ``secret-get`` fails as "not granted" during the test."""
    with ungranted_secrets() as denied:

        class _Adder:
            def __call__(self, *secret_ids: str) -> None:
                denied.update(_xid(s) for s in secret_ids)

        yield _Adder()


DAEMONS_HINT = (
    "run tools/workload-daemons.sh (Debian bookworm, as root) and export "
    "CHARMARR_QBITTORRENT_NOX=$PWD/build/bin/qbittorrent-nox CHARMARR_SABNZBD=/usr/bin/sabnzbdplus"
)


def require_daemon(env: str, name: str) -> str:
    """The daemon a real-workload test runs: ``$<env>`` if set, else ``name`` on PATH.

    Skips with the install command when neither is there; with
    ``CHARMARR_REQUIRE_WORKLOADS=1`` (CI) it fails instead.
    """
    import os
    import shutil

    chosen = os.environ.get(env)
    path = shutil.which(chosen or name)
    if path:
        return path
    where = f"{env}={chosen}" if chosen else f"{name} (on PATH; or set {env})"
    message = f"{where} is not runnable: {DAEMONS_HINT}"
    if os.environ.get("CHARMARR_REQUIRE_WORKLOADS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def require_version(name: str, version: tuple[int, ...], minimum: tuple[int, ...]) -> None:
    """In CI, fail unless the daemon is at least the image's release line.

    Outside CI an older daemon (Debian bookworm's) still runs the tests.
    """
    import os

    if version < minimum and os.environ.get("CHARMARR_REQUIRE_WORKLOADS") == "1":
        wanted = ".".join(map(str, minimum))
        pytest.fail(f"{name} {'.'.join(map(str, version))} is older than the image's {wanted}")


def daemon_at_image_line(env: str, name: str, image_line: tuple[int, ...]) -> str:
    """The daemon a real-workload test runs (:func:`require_daemon`), at the image's line.

    Its version is the first ``X.Y.Z`` its ``--version`` prints (:func:`require_version`).
    """
    import re
    import subprocess

    path = require_daemon(env, name)
    out = subprocess.run(
        [path, "--version"], check=False, capture_output=True, text=True, timeout=60
    ).stdout
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", out)
    require_version(
        name, tuple(int(p) for p in found.groups()) if found else (0, 0, 0), image_line
    )
    return path


SECRET_MANAGEMENT_TOOLS = frozenset(
    {
        "secret-add",
        "secret-set",
        "secret-grant",
        "secret-revoke",
        "secret-remove",
        "secret-info-get",
    }
)
"""Hook tools only the owner's leader may call."""

_NOT_HOOK_TOOLS = frozenset({"get_pebble", "relation_remote_app_name", "update_relation_data"})


class HookToolCalls:
    """Counts the calls ``ops`` makes into the ``ops.testing`` model backend.

    Each backend method stands for one hook tool in production (``secret_get`` is
    ``secret-get``); the names are recorded in that form, in order.
    """

    def __init__(self) -> None:
        self.calls: list[str] = []

    def clear(self) -> None:
        """Forget the calls recorded so far."""
        self.calls.clear()

    def count(self, tool: str | None = None) -> int:
        """How many calls (of ``tool``, or in all)."""
        return len(self.calls) if tool is None else self.calls.count(tool)

    def by_tool(self) -> dict[str, int]:
        """Calls per tool."""
        result: dict[str, int] = {}
        for name in self.calls:
            result[name] = result.get(name, 0) + 1
        return result

    @property
    def management(self) -> list[str]:
        """The secret-management calls recorded."""
        return [c for c in self.calls if c in SECRET_MANAGEMENT_TOOLS]


@contextmanager
def record_hook_tools() -> Iterator[HookToolCalls]:
    """Record every model-backend call made while the block runs."""
    import functools

    from ops.model import _ModelBackend  # pyright: ignore[reportPrivateUsage]
    from scenario.mocking import _MockModelBackend  # pyright: ignore[reportPrivateUsage]

    record = HookToolCalls()
    originals: dict[str, Any] = {}
    names = {
        n
        for cls in (_MockModelBackend, _ModelBackend)
        for n, v in vars(cls).items()
        if callable(v) and not n.startswith("_") and n not in _NOT_HOOK_TOOLS
    }
    for name in names:
        original = getattr(_MockModelBackend, name)

        def wrapper(*args: Any, __name: str = name, __orig: Any = original, **kw: Any) -> Any:
            tool = __name.replace("_", "-")
            # ops caches leadership for 30 s in production; the testing backend does not.
            if tool != "is-leader" or tool not in record.calls:
                record.calls.append(tool)
            return __orig(*args, **kw)

        originals[name] = original
        setattr(_MockModelBackend, name, functools.wraps(original)(wrapper))
    try:
        yield record
    finally:
        for name, original in originals.items():
            setattr(_MockModelBackend, name, original)


@pytest.fixture
def hook_tools():
    """A :class:`HookToolCalls` recording every hook-tool call during the test."""
    with record_hook_tools() as record:
        yield record


PEBBLE_WRITES = frozenset(
    {
        "add_layer",
        "autostart_services",
        "exec",
        "make_dir",
        "notify",
        "push",
        "remove_identities",
        "remove_path",
        "replace_identities",
        "replan_services",
        "restart_services",
        "send_signal",
        "start_checks",
        "start_services",
        "stop_checks",
        "stop_services",
    }
)
"""Pebble API calls that change the container (files, plan, services, processes)."""


class PebbleCalls:
    """The Pebble API calls the charm made, in order (``get_plan``, ``push``, ...)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def clear(self) -> None:
        """Forget the calls recorded so far."""
        self.calls.clear()

    @property
    def writes(self) -> list[str]:
        """The calls that changed the container."""
        return [c for c in self.calls if c in PEBBLE_WRITES]

    @property
    def reads(self) -> list[str]:
        """The calls that only looked."""
        return [c for c in self.calls if c not in PEBBLE_WRITES]


@contextmanager
def record_pebble() -> Iterator[PebbleCalls]:
    """Record every Pebble API call made through ``ops.testing`` while the block runs."""
    from ops._private.harness import _TestingPebbleClient  # pyright: ignore[reportPrivateUsage]

    from .compat import around_pebble_calls

    record = PebbleCalls()
    names = [
        n for n, v in vars(_TestingPebbleClient).items() if callable(v) and not n.startswith("_")
    ]

    def count(name: str, client: Any, args: tuple[Any, ...], call: Callable[[], Any]) -> Any:
        record.calls.append(name)  # the charm's calls only, not the mock's calls to itself
        return call()

    with around_pebble_calls(names, count):
        yield record


@pytest.fixture
def pebble_calls():
    """A :class:`PebbleCalls` recording every Pebble API call during the test."""
    with record_pebble() as record:
        yield record
