"""Every patch the stack makes to ops.testing (scenario) internals and to stdlib functions.

The harness needs three things ops.testing does not offer publicly: to see a charm's Pebble
service calls as they happen (a start boots the workload fake; through the test kit's one
wrapper of the Pebble client, :mod:`charmarr_testing.compat`), and to read and set the
revision a ``testing.Secret`` tracks and its latest one (Juju keeps them per unit; the
harness carries them from one hook's output into the next hook's input). Those touch
private internals, so they live here, each saying what it touches, and are pinned to the
ops / ops-scenario releases they were written against (uv.lock, the kit's ``WRITTEN_FOR``):
importing this module with other releases fails at once with one message.
The two stdlib patches only make hooks cheaper (same results).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import yaml
from ops import testing

from charmarr_testing.compat import around_pebble_calls, check_versions

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

    Through :func:`charmarr_testing.compat.around_pebble_calls`; reads the client's
    ``_container_name`` (private: which container the client talks to).
    """

    def around(name: str, client: Any, args: tuple[Any, ...], call: Callable[[], Any]) -> Any:
        before = {s.name: s.is_running() for s in client.get_services()}
        result = call()
        after = {s.name: s.is_running() for s in client.get_services()}
        plan = {n: s.to_dict() for n, s in client.get_plan().services.items()}
        names = list(args[0]) if args and name != "replan_services" else []
        observer(client._container_name, name, names=names, before=before, after=after, plan=plan)
        return result

    with around_pebble_calls(_PEBBLE_CALLS, around):
        yield


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
