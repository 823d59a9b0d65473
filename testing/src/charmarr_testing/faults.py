"""Faults injected in the middle of a hook: the points where a rotation must stay safe.

A rotation first changes the workload's credential, then asks Juju for the new revision
(``secret-set``). Whatever fails between the two must leave the workload on a credential
a secret holds. These helpers put a fault exactly there, under ``ops.testing``:

- :func:`before_hook_tool`: run something just before a hook tool (``secret-set``, ...);
- :func:`pebble_outage`: from a switch on, every Pebble call fails as when the container
  restarts (``ops.pebble.ConnectionError``);
- :func:`~.juju_semantics.leadership` (beside the other Juju behaviours): leadership lost.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def before_hook_tool(
    tool: str, action: Callable[[], None], *, once: bool = True
) -> Iterator[None]:
    """Call ``action`` just before each (or the first) call of the hook tool ``tool``.

    ``tool`` is the hook tool's name (``secret-set``); ``action`` may raise, and then the
    tool fails with that error, as the real tool would.
    """
    from scenario.mocking import _MockModelBackend  # pyright: ignore[reportPrivateUsage]

    name = tool.replace("-", "_")
    original = getattr(_MockModelBackend, name)
    fired: list[bool] = []

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not (once and fired):
            fired.append(True)
            action()
        return original(self, *args, **kwargs)

    setattr(_MockModelBackend, name, wrapper)
    try:
        yield
    finally:
        setattr(_MockModelBackend, name, original)


class Outage:
    """A switch: while :attr:`down`, every Pebble call fails to connect."""

    def __init__(self) -> None:
        self.down = False

    def start(self) -> None:
        """The container stops answering Pebble from now on."""
        self.down = True


@contextmanager
def pebble_outage() -> Iterator[Outage]:
    """Yield an :class:`Outage`; after ``start()`` Pebble is unreachable until the block ends."""
    from ops import pebble
    from scenario.mocking import _MockPebbleClient  # pyright: ignore[reportPrivateUsage]

    outage = Outage()
    original = _MockPebbleClient._check_connection  # pyright: ignore[reportPrivateUsage]

    def check(self: Any) -> None:
        if outage.down:
            raise pebble.ConnectionError("injected: the container stopped answering Pebble")
        original(self)

    _MockPebbleClient._check_connection = check  # type: ignore[method-assign]
    try:
        yield outage
    finally:
        _MockPebbleClient._check_connection = original  # type: ignore[method-assign]
