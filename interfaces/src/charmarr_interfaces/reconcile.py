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
Only the leader skips: other units of the app follow a rotation of the app's own
secrets by reading them (owners get no secret-changed), so they always reconcile.
"""

from __future__ import annotations

from collections.abc import Iterable

import ops

FULL_EVERY = 12
"""Run the full reconcile on at least every 12th update-status (hourly at 5 minutes)."""


class Convergence(ops.Object):
    """Remembers whether the last full reconcile converged, and the status it ended in."""

    _stored = ops.StoredState()

    def __init__(self, charm: ops.CharmBase):
        super().__init__(charm, "convergence")
        self._stored.set_default(converged=False, status="", message="", skipped=0)

    def may_skip(self, event: ops.EventBase | None) -> bool:
        """Whether ``event`` may settle for a liveness check instead of a full reconcile."""
        return (
            isinstance(event, ops.UpdateStatusEvent)
            and bool(self._stored.converged)
            and self._stored.skipped < FULL_EVERY - 1
            # Owners get no secret-changed: a non-leader learns of the leader's rotation
            # only by reading the secret, so it reconciles fully every time.
            and self.model.unit.is_leader()
        )

    def skipped(self) -> ops.StatusBase:
        """Count a skipped reconcile and return the status the last full one ended in."""
        self._stored.skipped += 1
        return ops.StatusBase.from_name(str(self._stored.status), str(self._stored.message))

    def record(self, status: ops.StatusBase) -> None:
        """Remember how a full reconcile ended; only Active counts as converged."""
        self._stored.converged = status.name == "active"
        self._stored.status = status.name
        self._stored.message = status.message
        self._stored.skipped = 0

    def forget(self) -> None:
        """Make the next update-status a full reconcile (e.g. the workload looked dead)."""
        self._stored.converged = False


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
