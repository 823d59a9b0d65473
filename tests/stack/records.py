"""What Juju knows about the model: apps, units, relations, secrets and the hooks that ran.

Plain records, kept apart from the code that plays Juju (:mod:`stack`) so that a test, the
checks in :mod:`expect` and the state translation (:mod:`translate`) read the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops import testing

if TYPE_CHECKING:
    from workloads import Workload

MODEL_NAME = "media"
MODEL = testing.Model(name=MODEL_NAME, uuid="7d3c1a52-9b1e-4f0a-8c2d-5e6f7a8b9c0d")

LEADER = "leader"
"""Unit number placeholder in a queued hook: the app's leader when the hook runs."""


class HookError(AssertionError):
    """A hook raised (an uncaught charm error) or the stack did not settle."""


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
