"""What one hook costs a charm: hook-tool calls, Pebble calls, workload HTTP, wall time.

Shared by the budget tests (``tests/budgets``), which fail CI when a deterministic count
goes over budget, and by ``tox -e bench`` (``tools/bench.py``), which prints them all.
Each charm is measured in steady state: its wired state (every relation, the workload
answering through fakes), converged by a few hooks, then one more hook.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from charms_under_test import context, wired_state

from charmarr_common.http import use_transport
from charmarr_testing.fakes import FakeApp, FakeNetwork
from charmarr_testing.pytest_plugin import record_hook_tools, record_pebble


@dataclass
class HookCost:
    """The cost of one hook of one charm."""

    charm: str
    event: str
    hook_tools: dict[str, int] = field(default_factory=dict)
    pebble_reads: list[str] = field(default_factory=list)
    pebble_writes: list[str] = field(default_factory=list)
    http_requests: int = 0
    http_writes: list[str] = field(default_factory=list)
    secrets_in_state: int = 0
    seconds: float = 0.0
    status: str = ""

    @property
    def hook_tool_total(self) -> int:
        """All hook-tool calls."""
        return sum(self.hook_tools.values())

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly."""
        return {
            "charm": self.charm,
            "event": self.event,
            "hook_tools": self.hook_tools,
            "hook_tool_total": self.hook_tool_total,
            "pebble_reads": len(self.pebble_reads),
            "pebble_writes": self.pebble_writes,
            "http_requests": self.http_requests,
            "http_writes": self.http_writes,
            "secrets_in_state": self.secrets_in_state,
            "seconds": round(self.seconds, 4),
            "status": self.status,
        }


def _event(ctx: Any, name: str) -> Any:
    return getattr(ctx.on, name.replace("-", "_"))()


def measure(
    charm: str, event: str = "update-status", *, settle: int = 3, leader: bool = True
) -> HookCost:
    """Converge ``charm`` from its wired state, then measure one ``event``.

    With ``leader`` False the unit is a standby (``charmarr_interfaces.standby``).
    """
    network = FakeNetwork()
    with use_transport(network):
        state, _ = wired_state(charm, network, leader=leader)
        ctx = context(charm)
        state = ctx.run(ctx.on.config_changed(), state)
        for _ in range(settle):
            state = ctx.run(ctx.on.update_status(), state)
        fakes = [app for app in network.apps.values() if isinstance(app, FakeApp)]
        seen = {id(app): len(app.requests) for app in fakes}
        before = len(network.requests)
        cost = HookCost(charm, event, secrets_in_state=len(state.secrets))
        with record_hook_tools() as tools, record_pebble() as pebble:
            start = time.perf_counter()
            out = ctx.run(_event(ctx, event), state)
            cost.seconds = time.perf_counter() - start
        cost.hook_tools = tools.by_tool()
        cost.pebble_reads = pebble.reads
        cost.pebble_writes = pebble.writes
        cost.http_requests = len(network.requests) - before
        for app in fakes:
            new = app.requests[seen[id(app)] :]
            cost.http_writes += [f"{r.method} {r.path}" for r in new if app.changes_state(r)]
        cost.status = f"{out.unit_status.name}: {out.unit_status.message}"
    return cost
