"""Budgets of the full-reconcile hooks (config-changed, relation-changed), counts only.

These hooks read every relation, secret and workload setting, and run on every change a
user makes. Each hook-tool call is a process Juju spawns and a round trip to its agent;
ops asks ``is-leader`` many times but caches the answer for 30 s, so it is one process a
hook. Measured from each charm's wired state converged, a new ``Context`` per run
(``hook_cost.measure``). Times are the bench's (``tox -e bench``), not asserted here.

What keeps Prowlarr, Radarr and Sonarr within it: a consumed secret is read only when an
entry must be written or on ``secret-changed`` (``charmarr_servarr.api.SecretSource``),
and the leader takes its API key from config.xml when its memo vouches for it
(``OwnedSecret.get``). What is left is one ``relation-ids`` per endpoint and one
``relation-list`` and ``relation-get`` per relation.
"""

from __future__ import annotations

import pytest
from charms_under_test import charm_dirs
from hook_cost import FULL_RECONCILE_EVENTS, measure

MAX_HOOK_TOOL_PROCESSES = 15


def _params() -> list:
    return [
        pytest.param(charm, event, id=f"{charm}-{event}")
        for charm in sorted(charm_dirs())
        for event in FULL_RECONCILE_EVENTS
    ]


@pytest.fixture(scope="module")
def costs():
    """Each (charm, event) measured once for the module."""
    return {}


def _cost(costs, charm, event):
    if (charm, event) not in costs:
        costs[charm, event] = measure(charm, event)
    return costs[charm, event]


@pytest.mark.parametrize(("charm", "event"), _params())
def test_full_reconcile_ends_active(costs, charm, event):
    """The measured path is the Active one: every peer the reconcile talks to answers."""
    cost = _cost(costs, charm, event)
    assert cost.status.startswith("active"), cost.status


@pytest.mark.parametrize(("charm", "event"), _params())
def test_full_reconcile_hook_tool_processes_within_budget(costs, charm, event):
    cost = _cost(costs, charm, event)
    assert cost.hook_tool_total <= MAX_HOOK_TOOL_PROCESSES, (
        f"{cost.hook_tool_total} processes ({cost.hook_tool_calls} calls, "
        f"{cost.is_leader_calls} is-leader): {cost.hook_tools}"
    )


@pytest.mark.parametrize("event", FULL_RECONCILE_EVENTS)
def test_qbittorrent_derives_no_pbkdf2_when_nothing_changed(costs, event):
    """The stored WebUI hash is checked only when the hash or the password changed.

    Each derivation is 100,000 rounds of PBKDF2-SHA512, most of the hook's CPU.
    """
    cost = _cost(costs, "qbittorrent", event)
    assert cost.status.startswith("active"), cost.status
    assert cost.pbkdf2_derivations == 0


def test_pbkdf2_counter_counts_each_derivation():
    """The instrument above: a derivation made through ``hashlib`` is counted."""
    import hashlib

    from hook_cost import count_pbkdf2

    with count_pbkdf2() as derivations:
        hashlib.pbkdf2_hmac("sha512", b"password", b"salt", 1, 64)
    assert derivations == [1]
