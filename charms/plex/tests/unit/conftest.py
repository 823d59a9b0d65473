"""Fixtures for the plex-k8s unit tests: the fakes of Plex and plex.tv, and a Pebble spy."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ops
import pytest
from charms_under_test import context, load_charm
from ops import testing
from plex_wired import MODEL, config_dir, plex_container, preferences_xml

from charmarr_testing.fake_plex import PLEX_ADDRESS, PLEX_TV_ADDRESS, FakePlexServer, FakePlexTv

PEBBLE_WRITES = ("push", "add_layer", "replan", "restart", "start", "stop", "make_dir")
PEBBLE_CALLS = (
    *PEBBLE_WRITES,
    "get_plan",
    "pull",
    "get_services",
    "get_service",
    "get_checks",
    "exists",
    "list_files",
    "can_connect",
)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclasses.dataclass
class Unclaimed:
    """A fresh, unclaimed server: its fake, its Preferences.xml and a State builder."""

    server: FakePlexServer
    prefs: Path
    root: Path

    def state(
        self,
        *,
        leader: bool = True,
        secrets: list[testing.Secret] | None = None,
        config: dict[str, Any] | None = None,
        relations: list[testing.Relation] | None = None,
        planned: bool = True,
        **kwargs: Any,
    ) -> testing.State:
        return testing.State(
            leader=leader,
            model=testing.Model(name=MODEL),
            config={"media-volume": "charmarr-media", **(config or {})},
            containers=[plex_container(self.root, planned=planned)],
            storages=[testing.Storage("config")],
            relations=relations or [],
            secrets=secrets or [],
            **kwargs,
        )


@pytest.fixture
def ctx() -> testing.Context[ops.CharmBase]:
    return context("plex")


@pytest.fixture
def charm_module(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The charm's module, with the post-claim wait made instant."""
    module = sys.modules[load_charm("plex").__module__]
    monkeypatch.setattr(module, "CONFIRM_ATTEMPTS", 3)
    monkeypatch.setattr(module, "CONFIRM_DELAY", 0.0)
    monkeypatch.setattr(module, "START_ATTEMPTS", 3)
    monkeypatch.setattr(module, "START_DELAY", 0.0)
    return module


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def plex_tv(fake_network: Any, clock: Clock) -> FakePlexTv:
    """plex.tv's claim exchange, reachable."""
    fake = FakePlexTv(clock=clock)
    fake_network.add(PLEX_TV_ADDRESS, fake)
    return fake


@pytest.fixture
def unclaimed(fake_network: Any, charm_module: Any) -> Unclaimed:
    """A started server that has written its identifiers but has no token yet."""
    root, prefs = config_dir(preferences_xml(None))
    server = FakePlexServer(prefs)
    fake_network.add(PLEX_ADDRESS, server)
    return Unclaimed(server, prefs, root)


@pytest.fixture
def pebble(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every ops.Container call (Pebble API calls) the charm makes, by method name."""
    calls: list[str] = []

    def spy(name: str) -> Callable[..., Any]:
        original = getattr(ops.Container, name)

        def wrapper(self: ops.Container, *args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return original(self, *args, **kwargs)

        return wrapper

    for name in PEBBLE_CALLS:
        monkeypatch.setattr(ops.Container, name, spy(name))
    return calls


@pytest.fixture
def secret_writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every secret-management call (add, set-content, set-info, grant, remove)."""
    calls: list[str] = []

    def spy(cls: type, name: str) -> Callable[..., Any]:
        original = getattr(cls, name)

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return original(self, *args, **kwargs)

        return wrapper

    for cls, name in (
        (ops.Application, "add_secret"),
        (ops.Unit, "add_secret"),
        (ops.Secret, "set_content"),
        (ops.Secret, "set_info"),
        (ops.Secret, "grant"),
        (ops.Secret, "remove_all_revisions"),
        (ops.Secret, "remove_revision"),
    ):
        monkeypatch.setattr(cls, name, spy(cls, name))
    return calls
