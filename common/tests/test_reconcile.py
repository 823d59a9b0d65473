"""A converged leader's update-status checks liveness instead of reconciling, within limits."""

from __future__ import annotations

import ops
from ops import testing

from charmarr_common import reconcile

META = {
    "name": "c",
    "containers": {"app": {}},
    "storage": {"data": {"type": "filesystem"}},
    "requires": {"db": {"interface": "db"}},
}


class C(ops.CharmBase):
    """Counts full reconciles; the test sets their outcome and the workload's liveness."""

    outcome: ops.StatusBase = ops.ActiveStatus("ok")
    alive = True
    full = 0

    def __init__(self, framework):
        super().__init__(framework)
        self.convergence = reconcile.Convergence(
            self, container="app", service="app", probe=lambda: C.alive
        )
        reconcile.observe_reconcile_events(self, self._on_event)
        framework.observe(self.on.collect_unit_status, self._on_collect)

    def _on_event(self, event):
        if not self.convergence.skip(event):
            C.full += 1

    def _on_collect(self, event):
        if not self.convergence.add_kept_status(event):
            self.convergence.add_statuses(event, [C.outcome, ops.ActiveStatus("ok")])


RUNNING = testing.Container(
    "app",
    can_connect=True,
    layers={
        "app": ops.pebble.Layer({"services": {"app": {"override": "replace", "command": "x"}}})
    },
    service_statuses={"app": ops.pebble.ServiceStatus.ACTIVE},
)


def _ctx():
    C.full, C.alive, C.outcome = 0, True, ops.ActiveStatus("ok")
    return testing.Context(C, meta=META)


def _converged(ctx, leader=True):
    return ctx.run(ctx.on.config_changed(), testing.State(leader=leader, containers={RUNNING}))


def test_update_status_after_convergence_skips_and_keeps_the_status():
    ctx = _ctx()
    out = ctx.run(ctx.on.update_status(), _converged(ctx))
    assert C.full == 1
    assert out.unit_status == testing.ActiveStatus("ok")


def test_not_converged_means_full_reconcile_every_time():
    ctx = _ctx()
    C.outcome = ops.BlockedStatus("grant it")
    out = ctx.run(ctx.on.update_status(), _converged(ctx))
    assert C.full == 2
    assert out.unit_status == testing.BlockedStatus("grant it")


def test_a_workload_that_does_not_answer_forces_a_full_reconcile():
    ctx = _ctx()
    out = _converged(ctx)
    C.alive = False
    ctx.run(ctx.on.update_status(), out)
    assert C.full == 2


def test_a_stopped_service_forces_a_full_reconcile():
    ctx = _ctx()
    out = _converged(ctx)
    stopped = testing.Container(
        "app",
        can_connect=True,
        layers=RUNNING.layers,
        service_statuses={"app": ops.pebble.ServiceStatus.INACTIVE},
    )
    ctx.run(
        ctx.on.update_status(),
        testing.State(leader=True, containers={stopped}, stored_states=out.stored_states),
    )
    assert C.full == 2


def test_full_reconcile_at_least_every_twelfth_update_status():
    ctx = _ctx()
    out = _converged(ctx)
    for _ in range(reconcile.FULL_EVERY):
        out = ctx.run(ctx.on.update_status(), out)
    assert C.full == 2


def test_other_events_always_reconcile_fully():
    ctx = _ctx()
    ctx.run(ctx.on.config_changed(), _converged(ctx))
    assert C.full == 2


def test_a_non_leader_always_reconciles_fully():
    ctx = _ctx()
    ctx.run(ctx.on.update_status(), _converged(ctx, leader=False))
    assert C.full == 2


def test_forget():
    ctx = _ctx()
    out = _converged(ctx)
    with ctx(ctx.on.update_status(), out) as mgr:
        mgr.charm.convergence.forget()
        mgr.run()
    assert C.full == 2


def test_every_reconcile_event_is_observed():
    ctx = _ctx()
    relation = testing.Relation("db")
    storage = testing.Storage("data")
    state = testing.State(
        leader=True, containers={RUNNING}, relations={relation}, storages={storage}
    )
    events = [
        ctx.on.install(),
        ctx.on.start(),
        ctx.on.upgrade_charm(),
        ctx.on.leader_elected(),
        ctx.on.pebble_ready(RUNNING),
        ctx.on.storage_attached(storage),
        ctx.on.relation_joined(relation),
        ctx.on.relation_changed(relation),
        ctx.on.relation_departed(relation, remote_unit=0),
        ctx.on.relation_broken(relation),
    ]
    for event in events:
        ctx.run(event, state)
    assert C.full == len(events)


def test_worst_follows_ops_priority():
    assert reconcile.worst(
        [ops.ActiveStatus(), ops.WaitingStatus("w"), ops.BlockedStatus("b")]
    ) == ops.BlockedStatus("b")
    assert reconcile.worst(
        [ops.MaintenanceStatus("m"), ops.WaitingStatus("w")]
    ) == ops.MaintenanceStatus("m")
    assert reconcile.worst([ops.WaitingStatus("1"), ops.WaitingStatus("2")]) == ops.WaitingStatus(
        "1"
    )
    assert reconcile.worst([]) == ops.UnknownStatus()
