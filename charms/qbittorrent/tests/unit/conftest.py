"""Fixtures for the qbittorrent-k8s unit tests: the charm's context, state builders and a
recorder of the Pebble calls the charm makes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ops
import pytest
from charms_under_test import context
from ops import testing

PEBBLE_WRITES = ("push", "add_layer", "replan", "start", "stop", "restart", "remove_path")
PEBBLE_READS = ("get_plan", "get_services", "pull", "get_checks", "can_connect", "list_files")


@pytest.fixture
def ctx() -> testing.Context:
    return context("qbittorrent")


class PebbleCalls:
    """Every ``ops.Container`` call the charm made, in order, with its first argument."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.on_start: list[Any] = []

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    @property
    def writes(self) -> list[str]:
        return [n for n in self.names() if n in PEBBLE_WRITES]

    @property
    def reads(self) -> list[str]:
        return [n for n in self.names() if n in PEBBLE_READS]

    def clear(self) -> None:
        self.calls.clear()


@pytest.fixture
def pebble_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[PebbleCalls]:
    record = PebbleCalls()
    for name in (*PEBBLE_WRITES, *PEBBLE_READS):
        original = getattr(ops.Container, name)

        def wrapper(self, *args, __name=name, __orig=original, **kwargs):
            record.calls.append((__name, args[0] if args else None))
            result = __orig(self, *args, **kwargs)
            if __name in ("start", "replan", "restart"):
                for hook in record.on_start:
                    hook(self)
            return result

        monkeypatch.setattr(ops.Container, name, wrapper)
    yield record
