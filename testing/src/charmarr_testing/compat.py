"""Every patch the test kit and the stack make to ops.testing's private internals.

ops.testing offers no public way to see a charm's Pebble calls as they happen, so
:func:`around_pebble_calls` wraps the Pebble client it gives a charm
(``scenario.mocking._MockPebbleClient``); the plugin's call recorder and the stack's
workload boots both use it. It touches private internals, so it is pinned to the ops /
ops-scenario releases it was written against (uv.lock): :func:`check_versions` fails at
once, with one message, on other releases instead of a wrong result deep in a test.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

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
            "charmarr_testing/compat.py and tests/stack/compat.py patch private ops.testing "
            f"internals written for {wanted} "
            f"(uv.lock), but {have} is installed: check each patch in both against the "
            "installed internals, then update WRITTEN_FOR"
        )


Around = Callable[[str, Any, tuple[Any, ...], Callable[[], Any]], Any]
"""``around(name, client, args, call)``: runs the charm's call (``call()``), returns its
result; ``args`` are the call's positional arguments."""


@contextmanager
def around_pebble_calls(names: Iterable[str], around: Around) -> Iterator[None]:
    """Route the charm's outermost calls of the Pebble client's ``names`` through ``around``.

    Touches ``scenario.mocking._MockPebbleClient`` (private: the client ops.testing gives a
    charm). Calls the mock makes to itself (a replan starting services) run as they are.
    """
    check_versions()
    from scenario.mocking import _MockPebbleClient  # pyright: ignore[reportPrivateUsage]

    names = list(names)
    originals = {name: _MockPebbleClient.__dict__.get(name) for name in names}
    depth: list[str] = []

    def wrap(name: str) -> Callable[..., Any]:
        original = getattr(_MockPebbleClient, name)

        @functools.wraps(original)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if depth:
                return original(self, *args, **kwargs)
            depth.append(name)
            try:
                return around(name, self, args, lambda: original(self, *args, **kwargs))
            finally:
                depth.pop()

        return wrapper

    for name in names:
        setattr(_MockPebbleClient, name, wrap(name))
    try:
        yield
    finally:
        for name, original in originals.items():
            if original is None:
                delattr(_MockPebbleClient, name)
            else:
                setattr(_MockPebbleClient, name, original)
