"""A converged unit's update-status skips the full reconcile, within limits."""

from __future__ import annotations

import ops
from ops import testing

from charmarr_interfaces import reconcile

META = {"name": "c"}


class C(ops.CharmBase):
    """Counts full reconciles; its outcome is set by the test."""

    outcome: ops.StatusBase = ops.ActiveStatus("ok")
    alive = True
    full = 0

    def __init__(self, framework):
        super().__init__(framework)
        self.convergence = reconcile.Convergence(self)
        for event in (self.on.config_changed, self.on.update_status):
            framework.observe(event, self._reconcile)

    def _reconcile(self, event):
        if self.convergence.may_skip(event) and C.alive:
            self.unit.status = self.convergence.skipped()
            return
        C.full += 1
        status = reconcile.worst([C.outcome, ops.ActiveStatus("ok")])
        self.convergence.record(status)
        self.unit.status = status


def _ctx():
    C.full, C.alive, C.outcome = 0, True, ops.ActiveStatus("ok")
    return testing.Context(C, meta=META)


def test_update_status_after_convergence_skips_and_keeps_the_status():
    ctx = _ctx()
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True))
    out = ctx.run(ctx.on.update_status(), out)
    assert C.full == 1
    assert out.unit_status == testing.ActiveStatus("ok")


def test_not_converged_means_full_reconcile_every_time():
    ctx = _ctx()
    C.outcome = ops.BlockedStatus("grant it")
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True))
    out = ctx.run(ctx.on.update_status(), out)
    assert C.full == 2
    assert out.unit_status == testing.BlockedStatus("grant it")


def test_dead_workload_forces_a_full_reconcile():
    ctx = _ctx()
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True))
    C.alive = False
    ctx.run(ctx.on.update_status(), out)
    assert C.full == 2


def test_full_reconcile_at_least_every_twelfth_update_status():
    ctx = _ctx()
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True))
    for _ in range(reconcile.FULL_EVERY):
        out = ctx.run(ctx.on.update_status(), out)
    assert C.full == 2


def test_other_events_always_reconcile_fully():
    ctx = _ctx()
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True))
    ctx.run(ctx.on.config_changed(), out)
    assert C.full == 2


def test_forget():
    ctx = _ctx()
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True))
    with ctx(ctx.on.update_status(), out) as mgr:
        mgr.charm.convergence.forget()
        assert not mgr.charm.convergence.may_skip(ops.UpdateStatusEvent(None))
        mgr.run()


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


def test_a_non_leader_always_reconciles_fully():
    ctx = _ctx()
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=False))
    ctx.run(ctx.on.update_status(), out)
    assert C.full == 2
