"""One module per charm: ``wired_state(network, *, leader=True) -> (State, own_fake)``.

Each builds the input ``ops.testing.State`` of a charm with every endpoint related (through
:mod:`..builders`), user secrets set and granted, its container connectable with the service
running, and its own workload's fake registered on ``network``. One ``update-status`` from
that state ends Active. The repository-wide sweeps (non-leader, workload faults, hook-cost
budgets) discover charms under ``charms/`` and use these, so every charm is covered.
"""

from __future__ import annotations

import importlib
from typing import Any


def wired_state(name: str, network: Any, *, leader: bool = True) -> tuple[Any, Any]:
    """Dispatch to ``wired/<name>.py``."""
    module = importlib.import_module(f"{__name__}.{name}")
    return module.wired_state(network, leader=leader)
