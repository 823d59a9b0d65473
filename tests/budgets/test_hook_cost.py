"""Per-hook budgets every charm meets in steady state (deterministic counts only).

update-status runs every five minutes for ever on every unit, each hook-tool call is a
process and a round trip to the Juju agent, and each Pebble write can restart the
workload. Times and sizes are reported by ``tox -e bench``, not asserted here. A standby
(a unit that is not the leader) is held to a budget of its own: it only keeps its
workload stopped.
"""

from __future__ import annotations

import pytest
import yaml
from charms_under_test import charm_dirs
from hook_cost import measure

MAX_HOOK_TOOLS = 20
MAX_PEBBLE_CALLS = 3


@pytest.fixture(scope="module", params=sorted(charm_dirs()))
def cost(request):
    return measure(request.param, "update-status")


def test_steady_state_is_active(cost):
    assert cost.status.startswith("active"), cost.status


def test_hook_tool_calls_within_budget(cost):
    assert cost.hook_tool_total <= MAX_HOOK_TOOLS, cost.hook_tools


CONVERGED_FLOOR = {"is-leader": 1, "status-set": 1}
"""A converged leader's update-status that only checks liveness (``reconcile.Convergence``):
the leadership it needs to trust its memo and the status it keeps; nothing read again."""


CONVERGING = sorted(set(charm_dirs()) - {"gluetun", "plex"})
"""The charms whose converged update-status only checks liveness (Gluetun and Plex reconcile
fully every time, README "How the charms stay cheap")."""


@pytest.mark.parametrize("charm", CONVERGING)
def test_a_converged_update_status_stays_at_the_floor(charm):
    cost = measure(charm, "update-status")
    assert cost.status.startswith("active"), cost.status
    assert cost.hook_tools == CONVERGED_FLOOR


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


# ---------------------------------------------------------------------------------------------
# A standby (non-leader) unit: its update-status keeps the workload stopped, and no more
# ---------------------------------------------------------------------------------------------

MAX_STANDBY_PEBBLE_CALLS_PER_CONTAINER = 2
"""The plan and the services of each workload container."""


@pytest.fixture(scope="module", params=sorted(charm_dirs()))
def standby_cost(request):
    return request.param, measure(request.param, "update-status", leader=False)


def test_standby_says_how_to_scale_back(standby_cost):
    _, cost = standby_cost
    assert cost.status.startswith("blocked: "), cost.status
    assert "juju scale-application " in cost.status, cost.status


def test_standby_hook_tools_within_budget(standby_cost):
    _, cost = standby_cost
    assert cost.hook_tool_total <= MAX_HOOK_TOOLS, cost.hook_tools
    # Each app secret read with refresh, to track its latest revision: ops resolves the
    # label with one secret-get and refreshes with a second.
    assert cost.hook_tools.get("secret-get", 0) <= 2 * cost.secrets_in_state, cost.hook_tools
    assert not set(cost.hook_tools) & {"secret-add", "secret-set", "secret-grant", "secret-remove"}
    assert not set(cost.hook_tools) & {"relation-set", "open-port", "close-port"}


def test_standby_pebble_read_only_and_no_workload_call(standby_cost):
    charm, cost = standby_cost
    containers = len(
        yaml.safe_load((charm_dirs()[charm] / "charmcraft.yaml").read_text())["containers"]
    )
    assert len(cost.pebble_reads) <= MAX_STANDBY_PEBBLE_CALLS_PER_CONTAINER * containers
    assert cost.pebble_writes == []
    assert cost.http_requests == 0
