"""Per-hook budgets every charm meets in steady state (deterministic counts only).

update-status runs every five minutes for ever on every unit, each hook-tool call is a
process and a round trip to the Juju agent, and each Pebble write can restart the
workload. Times and sizes are reported by ``tox -e bench``, not asserted here.
"""

from __future__ import annotations

import pytest

from charmarr_interfaces.testing.charms import charm_dirs
from charmarr_interfaces.testing.cost import measure

MAX_HOOK_TOOLS = 20
MAX_PEBBLE_CALLS = 3


@pytest.fixture(scope="module", params=sorted(charm_dirs()))
def cost(request):
    return measure(request.param, "update-status")


def test_steady_state_is_active(cost):
    assert cost.status.startswith("active"), cost.status


def test_hook_tool_calls_within_budget(cost):
    assert cost.hook_tool_total <= MAX_HOOK_TOOLS, cost.hook_tools


def test_at_most_one_secret_get_per_secret(cost):
    assert cost.hook_tools.get("secret-get", 0) <= cost.secrets_in_state, cost.hook_tools
    assert not set(cost.hook_tools) & {"secret-add", "secret-set", "secret-grant", "secret-remove"}


def test_pebble_within_budget_and_read_only(cost):
    assert len(cost.pebble_reads) <= MAX_PEBBLE_CALLS, cost.pebble_reads
    assert cost.pebble_writes == []


def test_no_workload_write(cost):
    assert cost.http_writes == []


def test_no_relation_write(cost):
    assert "relation-set" not in cost.hook_tools
