"""Pebble helpers: nothing is written when nothing changed."""

from __future__ import annotations

import ops
from ops import testing

from charmarr_common import workload

META = {"name": "w", "containers": {"app": {}}}

LAYER = {
    "summary": "app",
    "services": {
        "app": {
            "override": "replace",
            "command": "/bin/app -x",
            "startup": "enabled",
            "user-id": 1000,
            "group-id": 1000,
        }
    },
    "checks": {
        "ready": {
            "override": "replace",
            "level": "ready",
            "http": {"url": "http://localhost:1/ping"},
        }
    },
}


class W(ops.CharmBase):
    pass


def test_ensure_layer_replans_once_then_never(tmp_path):
    ctx = testing.Context(W, meta=META)
    container = testing.Container("app", can_connect=True)
    with ctx(ctx.on.update_status(), testing.State(containers={container})) as mgr:
        app = mgr.charm.unit.get_container("app")
        assert workload.ensure_layer(app, "app", LAYER) is True
        out = mgr.run()
    with ctx(ctx.on.update_status(), out) as mgr:
        app = mgr.charm.unit.get_container("app")
        assert workload.ensure_layer(app, "app", LAYER) is False
        changed = {
            **LAYER,
            "services": {"app": {**LAYER["services"]["app"], "command": "/bin/app -y"}},
        }
        assert workload.ensure_layer(app, "app", changed) is True
        mgr.run()


def test_push_if_changed_and_pull_text():
    ctx = testing.Context(W, meta=META)
    container = testing.Container("app", can_connect=True)
    with ctx(ctx.on.update_status(), testing.State(containers={container})) as mgr:
        app = mgr.charm.unit.get_container("app")
        assert workload.pull_text(app, "/config/x.conf") is None
        assert workload.push_if_changed(app, "/config/x.conf", "a=1\n", current=None) is True
        current = workload.pull_text(app, "/config/x.conf")
        assert current == "a=1\n"
        assert workload.push_if_changed(app, "/config/x.conf", "a=1\n", current=current) is False


def test_service_url():
    ctx = testing.Context(W, meta=META)
    with ctx(ctx.on.update_status(), testing.State(model=testing.Model(name="media"))) as mgr:
        assert workload.service_url(mgr.charm, 7878) == "http://w.media.svc.cluster.local:7878"


def test_poll_is_bounded_and_returns_the_first_answer(monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(workload, "_sleep", waits.append)
    answers = iter([None, None, "up", "later"])
    assert workload.poll(lambda: next(answers), attempts=5, delay=0.5) == "up"
    assert waits == [0.5, 0.5]
    calls: list[int] = []
    assert workload.poll(lambda: calls.append(1), attempts=3, delay=2.0) is None
    assert len(calls) == 3


def test_poll_never_sleeps_past_the_hooks_budget(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(workload, "_clock", lambda: now[0])
    monkeypatch.setattr(workload, "_sleep", lambda seconds: now.__setitem__(0, now[0] + seconds))
    calls = []

    def never():
        calls.append(now[0])

    # Two polls that could each wait 300 s: together they stop at the hook's budget.
    assert workload.poll(never, attempts=100, delay=3.0) is None
    assert workload.poll(never, attempts=100, delay=3.0) is None
    assert now[0] <= workload.HOOK_POLL_BUDGET
    assert calls[-1] == now[0]  # the last poll still checked once, without sleeping
