"""Every patch the stack makes to ops.testing (scenario) internals and to stdlib functions.

The harness needs three things ops.testing does not offer publicly: to see a charm's Pebble
service calls as they happen (a start boots the workload fake), and to read and set the
revision a ``testing.Secret`` tracks and its latest one (Juju keeps them per unit; the
harness carries them from one hook's output into the next hook's input). Those touch
private internals, so they live here, each saying what it touches, and are pinned to the
ops / ops-scenario releases they were written against (uv.lock): importing this module with
other releases fails at once with one message, instead of a wrong result deep in a test.
The two stdlib patches only make hooks cheaper (same results).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import yaml
from ops import testing

WRITTEN_FOR = {"ops": (3, 9), "ops-scenario": (8, 9)}
"""The (major, minor) release of each distribution these patches were checked against."""


class IncompatibleOpsError(RuntimeError):
    """The installed ops / ops-scenario is not the release these patches were written for."""


def _release(distribution: str) -> tuple[int, int] | None:
    try:
        version = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else None


def check_versions() -> None:
    """Fail unless the installed ops and ops-scenario are the releases in WRITTEN_FOR."""
    found = {name: _release(name) for name in WRITTEN_FOR}
    if found != WRITTEN_FOR:
        wanted = ", ".join(f"{n} {a}.{b}.x" for n, (a, b) in WRITTEN_FOR.items())
        have = ", ".join(
            f"{n} {'.'.join(map(str, v)) + '.x' if v else 'missing'}" for n, v in found.items()
        )
        raise IncompatibleOpsError(
            f"tests/stack/compat.py patches private ops.testing internals written for {wanted} "
            f"(uv.lock), but {have} is installed: check each patch in compat.py against the "
            "installed internals, then update WRITTEN_FOR"
        )


check_versions()


# ---------------------------------------------------------------------------------------------
# Private internals of ops.testing (scenario)
# ---------------------------------------------------------------------------------------------

_PEBBLE_CALLS = ("start_services", "stop_services", "restart_services", "replan_services")

PebbleObserver = Callable[..., None]
"""Called after a charm's outermost service call: ``(container, call, *, names, before,
after, plan)``, service name -> running before and after, and the plan's services."""


@contextmanager
def pebble_service_calls(observer: PebbleObserver) -> Iterator[None]:
    """Tell ``observer`` of every Pebble service start, stop, restart and replan.

    Touches ``scenario.mocking._MockPebbleClient`` (private: the Pebble client ops.testing
    gives a charm; its service methods are the only place a start is seen as it happens)
    and its ``_container_name`` attribute (which container the client talks to).
    """
    from scenario.mocking import _MockPebbleClient  # pyright: ignore[reportPrivateUsage]

    originals = {name: _MockPebbleClient.__dict__.get(name) for name in _PEBBLE_CALLS}
    depth: list[str] = []

    def wrap(name: str) -> Callable[..., Any]:
        original = getattr(_MockPebbleClient, name)

        @functools.wraps(original)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if depth:  # a call made by another service call (replan starts services)
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
            observer(
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


def secret_revisions(secret: testing.Secret) -> tuple[int, int]:
    """The revision a unit tracks and the latest revision of ``secret``.

    Reads ``testing.Secret._tracked_revision`` and ``_latest_revision`` (private fields:
    ops.testing has no public way to say which revision a unit sees).
    """
    return secret._tracked_revision, secret._latest_revision  # pyright: ignore[reportPrivateUsage]


def with_revisions(secret: testing.Secret, tracked: int, latest: int) -> testing.Secret:
    """``secret`` with the unit's tracked and the latest revision numbers set.

    Sets the private fields :func:`secret_revisions` reads (the frozen dataclass offers no
    constructor argument for them).
    """
    object.__setattr__(secret, "_tracked_revision", tracked)
    object.__setattr__(secret, "_latest_revision", latest)
    return secret


# ---------------------------------------------------------------------------------------------
# Stdlib and PyYAML: the same results, faster
# ---------------------------------------------------------------------------------------------


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
    """Memoise ``hashlib.pbkdf2_hmac`` (a pure function; 0.08 s a call) so qBittorrent hooks
    (the charm hashes the WebUI password, the fake checks it) stay fast."""
    original = hashlib.pbkdf2_hmac
    cached = functools.lru_cache(maxsize=256)(original)

    def pbkdf2_hmac(hash_name: str, password: bytes, salt: bytes, iterations: int, dklen=None):
        return cached(hash_name, bytes(password), bytes(salt), iterations, dklen)

    hashlib.pbkdf2_hmac = pbkdf2_hmac  # type: ignore[assignment]
    try:
        yield
    finally:
        hashlib.pbkdf2_hmac = original  # type: ignore[assignment]
