"""Only the leader runs the workload; every other unit stands by (charmarr_common.standby)."""

from __future__ import annotations

import dataclasses

import ops
from ops import pebble, testing

from charmarr_common import standby
from charmarr_common.errors import CharmarrError
from charmarr_interfaces.secret_ids import OwnedSecret
from charmarr_testing.pytest_plugin import record_hook_tools

META = {"name": "app", "containers": {"app": {}}}
LAYER: pebble.LayerDict = {
    "services": {"app": {"override": "replace", "command": "run-app", "startup": "enabled"}},
    "checks": {
        "app-ready": {
            "override": "replace",
            "level": "alive",
            "period": "10s",
            "threshold": 3,
            "http": {"url": "http://localhost:8000/ping"},
        }
    },
}  # type: ignore[assignment]


class C(ops.CharmBase):
    """Holds on every event; records the status its reconcile ended in."""

    def __init__(self, framework):
        super().__init__(framework)
        self.owned = OwnedSecret(self, "app-key", lambda: {"key": "k" * 32})
        self.follower = standby.SecretFollower(self)
        framework.observe(self.on.update_status, self._on_event)
        framework.observe(self.on.leader_elected, self._on_event)

    def _on_event(self, _):
        try:
            standby.hold(self, {"app": ("app", LAYER)}, [self.owned])
        except CharmarrError as e:
            self.unit.status = e.status
            return
        container = self.unit.get_container("app")
        container.add_layer("app", LAYER, combine=True)
        container.replan()
        self.unit.status = ops.ActiveStatus()


def _running(**kwargs) -> testing.Container:
    return testing.Container(
        "app",
        can_connect=True,
        layers={"app": pebble.Layer(LAYER)},
        service_statuses={"app": pebble.ServiceStatus.ACTIVE},
        **kwargs,
    )


def test_a_former_leader_stops_its_workload_and_keeps_it_off_at_boot():
    ctx = testing.Context(C, meta=META)
    out = ctx.run(ctx.on.update_status(), testing.State(leader=False, containers={_running()}))

    assert out.unit_status == testing.BlockedStatus(
        "app runs on one unit only; this one stands by, stopped: juju scale-application app 1"
    )
    container = out.get_container("app")
    assert container.service_statuses["app"] == pebble.ServiceStatus.INACTIVE
    assert container.plan.services["app"].startup == "disabled"
    assert container.plan.services["app"].command == "run-app"
    check = container.plan.checks["app-ready"]
    # Ready (never alive: a failing alive check would restart the container for ever),
    # and down after one failure, so the pod leaves the Service at once.
    assert (check.level, check.threshold) == (pebble.CheckLevel.READY, 1)


def test_a_standby_that_stands_by_writes_nothing_more():
    ctx = testing.Context(C, meta=META)
    first = ctx.run(ctx.on.update_status(), testing.State(leader=False, containers={_running()}))
    layers = dict(first.get_container("app").layers)

    second = ctx.run(ctx.on.update_status(), first)

    assert dict(second.get_container("app").layers) == layers
    assert second.unit_status == first.unit_status


def test_a_fresh_standby_gets_checks_but_no_service():
    """A merge needs a service to merge into: a unit that never ran one gets checks only."""
    ctx = testing.Context(C, meta=META)
    box = testing.Container("app", can_connect=True)
    out = ctx.run(ctx.on.update_status(), testing.State(leader=False, containers={box}))
    plan = out.get_container("app").plan
    assert "app" not in plan.services and "app-ready" in plan.checks


def test_elected_the_standby_runs_its_full_layer_again():
    ctx = testing.Context(C, meta=META)
    out = ctx.run(ctx.on.update_status(), testing.State(leader=False, containers={_running()}))
    out = ctx.run(ctx.on.leader_elected(), dataclasses.replace(out, leader=True))

    container = out.get_container("app")
    assert container.plan.services["app"].startup == "enabled"
    assert container.plan.checks["app-ready"].threshold == 3
    assert container.service_statuses["app"] == pebble.ServiceStatus.ACTIVE
    assert out.unit_status == testing.ActiveStatus()


def test_the_leader_is_not_held():
    ctx = testing.Context(C, meta=META)
    out = ctx.run(ctx.on.update_status(), testing.State(leader=True, containers={_running()}))
    assert out.get_container("app").service_statuses["app"] == pebble.ServiceStatus.ACTIVE
    assert out.unit_status == testing.ActiveStatus()


def test_a_standby_tracks_the_latest_revision_of_its_app_secret_and_manages_none():
    old, new = {"key": "o" * 32}, {"key": "n" * 32}
    secret = testing.Secret(old, latest_content=new, owner="app", label="app-key")
    ctx = testing.Context(C, meta=META)
    with record_hook_tools() as tools:
        out = ctx.run(
            ctx.on.update_status(),
            testing.State(leader=False, containers={_running()}, secrets={secret}),
        )
    assert out.get_secret(label="app-key").tracked_content == new
    assert tools.management == []


def test_a_standby_before_the_app_secret_exists_still_stands_by():
    ctx = testing.Context(C, meta=META)
    out = ctx.run(ctx.on.update_status(), testing.State(leader=False, containers={_running()}))
    assert out.unit_status.name == "blocked"


def test_on_secret_changed_a_standby_follows_the_new_revision():
    """It applies nothing, but tracks the latest so that Juju can prune the old one."""
    old, new = {"token": "o" * 32}, {"token": "n" * 32}
    secret = testing.Secret(old, latest_content=new)
    ctx = testing.Context(C, meta=META)
    state = testing.State(leader=False, containers={_running()}, secrets={secret})
    out = ctx.run(ctx.on.secret_changed(secret), state)
    assert out.get_secret(id=secret.id).tracked_content == new

    leader = ctx.run(ctx.on.secret_changed(secret), dataclasses.replace(state, leader=True))
    assert leader.get_secret(id=secret.id).tracked_content == old, "the leader's own reconcile"


def test_the_message_names_the_command_that_scales_back():
    assert standby.message("radarr").endswith("juju scale-application radarr 1")
