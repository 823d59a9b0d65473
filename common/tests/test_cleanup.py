"""Holistic cleanup: only managed orphans go, also when no relation is left."""

from __future__ import annotations

from charmarr_common import cleanup


def _entries(*names):
    return [{"id": i, "name": n} for i, n in enumerate(names)]


def test_managed_names_carry_the_marker():
    assert cleanup.managed_name("qbittorrent") == "qbittorrent (juju)"
    assert cleanup.is_managed_name("qbittorrent (juju)")
    assert not cleanup.is_managed_name("qbittorrent")
    assert not cleanup.is_managed_name(" (juju)")


def test_plan_creates_updates_and_deletes():
    existing = _entries("sabnzbd (juju)", "old (juju)", "my own client", "qbittorrent (juju)")
    wanted = {
        "qbittorrent (juju)": {"port": 8080},
        "sabnzbd (juju)": {"port": 8081},
        "new (juju)": {},
    }
    plan = cleanup.plan(
        wanted,
        existing,
        name_of=lambda e: e["name"],
        differs=lambda e, w: e["name"].startswith("sab"),
    )
    assert list(plan.create) == ["new (juju)"]
    assert list(plan.update) == ["sabnzbd (juju)"]
    assert list(plan.delete) == ["old (juju)"]
    assert not plan.empty


def test_no_relations_left_deletes_every_managed_entry_and_nothing_else():
    plan = cleanup.plan({}, _entries("a (juju)", "b (juju)", "user"), name_of=lambda e: e["name"])
    assert sorted(plan.delete) == ["a (juju)", "b (juju)"]
    assert not plan.create and not plan.update


def test_steady_state_plan_is_empty():
    plan = cleanup.plan({"a (juju)": 1}, _entries("a (juju)", "user"), name_of=lambda e: e["name"])
    assert plan.empty
