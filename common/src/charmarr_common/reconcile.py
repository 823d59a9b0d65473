"""When a steady-state ``update-status`` may skip the full reconcile.

Every event runs the charm's one holistic reconcile, with one exception measured to
matter: ``update-status`` fires every five minutes for ever, and a full reconcile of an
app with four relations and five secrets costs about 30 hook-tool calls (each a process
and a round trip to the Juju agent). Nothing that reconcile reads can change without an
event of its own (config-changed, relation-changed, secret-changed, pebble-ready,
leader-elected, upgrade-charm), so after a reconcile that *converged* (ended Active),
``update-status`` only checks that the workload is alive and keeps the status.

It still runs the full reconcile when the last one did not converge (so a user secret
granted later is picked up), when the workload does not look alive, and at least every
:data:`FULL_EVERY` update-status hooks (about hourly) to repair drift, e.g. an entry
someone deleted by hand in an app's UI. The memory is the unit's local state (free of hook
tools); a restarted pod starts with none, so its first update-status is a full one.
Only the leader skips: other units stand by (:mod:`.standby`), which costs less than a
liveness check, and read the app's own secrets to follow its rotations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import ops
from ops import pebble

FULL_EVERY = 12
"""Run the full reconcile on at least every 12th update-status (hourly at 5 minutes)."""


class Convergence(ops.Object):
    """Remembers whether the last full reconcile converged, and the status it ended in.

    Args:
        charm: the charm.
        container: the workload container.
        service: the workload's Pebble service.
        probe: a cheap, anonymous request that says the workload answers (True) or not.
    """

    _stored = ops.StoredState()

    def __init__(
        self, charm: ops.CharmBase, *, container: str, service: str, probe: Callable[[], bool]
    ):
        super().__init__(charm, "convergence")
        self._stored.set_default(converged=False, status="", message="", skipped=0)
        self._charm = charm
        self._container = container
        self._service = service
        self._probe = probe
        self._kept: ops.StatusBase | None = None

    def may_skip(self, event: ops.EventBase | None) -> bool:
        """Whether ``event`` may settle for a liveness check instead of a full reconcile."""
        return (
            isinstance(event, ops.UpdateStatusEvent)
            and bool(self._stored.converged)
            and self._stored.skipped < FULL_EVERY - 1
            # A standby (not the leader) reconciles: cheaper than a liveness check (.standby).
            and self.model.unit.is_leader()
        )

    def skip(self, event: ops.EventBase) -> bool:
        """True when ``event`` needs no full reconcile: the status of the last one is kept."""
        if not self.may_skip(event) or not self.alive():
            return False
        self._stored.skipped += 1
        self._kept = ops.StatusBase.from_name(str(self._stored.status), str(self._stored.message))
        return True

    def alive(self) -> bool:
        """The service runs (one Pebble call) and the probe says the workload answers."""
        try:
            container = self._charm.unit.get_container(self._container)
            service = container.get_services(self._service).get(self._service)
        except (pebble.Error, ops.ModelError):
            return False
        return service is not None and service.is_running() and self._probe()

    def add_kept_status(self, event: ops.CollectStatusEvent) -> bool:
        """In a skipped hook, report the kept status; False if the hook reconciled fully."""
        if self._kept is None:
            return False
        event.add_status(self._kept)
        return True

    def add_statuses(self, event: ops.CollectStatusEvent, statuses: list[ops.StatusBase]) -> None:
        """Report a full reconcile's statuses and remember the worst (Active = converged)."""
        for status in statuses:
            event.add_status(status)
        self.record(worst(statuses))

    def record(self, status: ops.StatusBase) -> None:
        """Remember how a full reconcile ended; only Active counts as converged."""
        self._stored.converged = status.name == "active"
        self._stored.status = status.name
        self._stored.message = status.message
        self._stored.skipped = 0

    def forget(self) -> None:
        """Make the next update-status a full reconcile."""
        self._stored.converged = False


def observe_reconcile_events(
    charm: ops.CharmBase, handler: Callable[[ops.EventBase], None]
) -> None:
    """Send every event that can change the desired state to ``handler``.

    Derived from the charm's metadata: lifecycle and config events, ``pebble-ready`` and
    check failures and recoveries of each container, ``storage-attached`` of each storage,
    and joined/changed/departed/broken of each relation endpoint. ``secret-changed`` is
    left to the charm, which reads consumed secrets with ``refresh=True`` on it.
    """
    on = charm.on
    events: list[ops.BoundEvent] = [
        on.install,
        on.start,
        on.config_changed,
        on.upgrade_charm,
        on.leader_elected,
        on.update_status,
    ]
    for name in charm.meta.containers:
        events += [on[name].pebble_ready, on[name].pebble_check_failed]
        events += [on[name].pebble_check_recovered]
    events += [on[name].storage_attached for name in charm.meta.storages]
    for endpoint in charm.meta.relations:
        bound = on[endpoint]
        events += [
            bound.relation_joined,
            bound.relation_changed,
            bound.relation_departed,
            bound.relation_broken,
        ]
    for event in events:
        charm.framework.observe(event, handler)


_PRIORITY = ("error", "blocked", "maintenance", "waiting", "active", "unknown")


def worst(statuses: Iterable[ops.StatusBase]) -> ops.StatusBase:
    """The status ops' collect-status would pick.

    Error > blocked > maintenance > waiting > active; the first of equals wins.
    """
    chosen: ops.StatusBase = ops.UnknownStatus()
    for status in statuses:
        if _PRIORITY.index(status.name) < _PRIORITY.index(chosen.name):
            chosen = status
    return chosen
