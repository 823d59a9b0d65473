"""One active workload per application: the leader runs it, every other unit stands by.

Prowlarr, Radarr and Sonarr (SQLite, background schedulers), qBittorrent, SABnzbd and
Plex are single-instance applications, and two Gluetun units would bring up two tunnels
with one WireGuard key. Juju puts every unit behind one Kubernetes Service, which sends
traffic to each pod whose readiness probe passes; Juju probes each container's Pebble at
``/v1/health?level=ready`` (juju caas/kubernetes/provider/application), which fails while
a check of level ready or alive is down, and ignores inactive checks (pebble
internals/daemon/api_health.go). So a unit that is not the leader:

- keeps its workload's services stopped, with ``startup: disabled`` so that no replan
  (and no restarted pod) starts them;
- keeps its workload's own ready checks, which fail while nothing answers, with a
  threshold of 1, so that the pod leaves the Service after one check period;
- reports Blocked with the command that scales back (:class:`StandbyError`);
- reads the app's own secrets with ``refresh`` on every hook, and each other secret a
  ``secret-changed`` names, so that it tracks their latest revisions (the ones it must
  apply if elected) and Juju can prune older ones; it manages no secret.

The leader's reconcile puts its full layer back (``override: replace``) and starts the
workload, so a new leader starts on ``leader-elected`` from its own volume. A former
leader gets no event of its own: it stops at its next hook, ``update-status`` at the latest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import ops
from ops import pebble

from charmarr_interfaces.secret_ids import OwnedSecret

from .errors import CharmarrError
from .workload import layer_differs

logger = logging.getLogger(__name__)


def is_active(charm: ops.CharmBase) -> bool:
    """Whether this unit runs the application's workload: only the leader does."""
    return charm.unit.is_leader()


def message(app: str) -> str:
    """The standby's status message: what is going on and the command that fixes it."""
    return (
        f"{app} runs on one unit only; this one stands by, stopped: juju scale-application {app} 1"
    )


class StandbyError(CharmarrError):
    """This unit is not the leader: its workload is stopped (Blocked: scale back)."""


def standby_layer(
    plan: pebble.Plan, services: Iterable[str], checks: Mapping[str, Any]
) -> pebble.LayerDict:
    """The layer that keeps ``services`` off and makes ``checks`` fail the pod at once.

    Args:
        plan: the container's current plan (a service not in it yet is left out: a
            merge needs a command to merge into).
        services: the workload's service names.
        checks: the workload's checks (name -> check dict), as its full layer has them.
    """
    layer: dict[str, Any] = {
        "summary": "standby: only the leader runs the workload",
        "services": {
            name: {"override": "merge", "startup": "disabled"}
            for name in services
            if name in plan.services
        },
        "checks": {
            name: {**dict(check), "override": "replace", "level": "ready", "threshold": 1}
            for name, check in checks.items()
        },
    }
    return layer  # type: ignore[return-value]


def _differs(plan: pebble.Plan, layer: Mapping[str, Any]) -> bool:
    if any(plan.services[name].startup != "disabled" for name in layer["services"]):
        return True
    return layer_differs(plan, {"checks": layer["checks"]})


def stand_by(container: ops.Container, label: str, layer: Mapping[str, Any]) -> bool:
    """Keep ``layer``'s services stopped and off at boot, and its checks failing fast.

    The standby layer goes under the workload's own layer ``label``, combined: a layer
    added later under that label (the leader's full one, ``override: replace``) replaces
    it, where a separate label would keep overriding it. Adding a layer replans no service,
    and Pebble restarts the checks on a plan change. Two Pebble reads when nothing changes
    (plan, services).

    Args:
        container: the workload container.
        label: the label under which the charm adds the workload's layer.
        layer: the workload's full layer (only its service names and checks are used).

    Returns:
        True if a running service was stopped.

    Raises:
        ops.pebble.ConnectionError: the container is not reachable.
    """
    names = list(layer.get("services") or {})
    plan = container.get_plan()
    wanted = standby_layer(plan, names, dict(layer.get("checks") or {}))
    if _differs(plan, wanted):
        container.add_layer(label, wanted, combine=True)
    running = [name for name, info in container.get_services(*names).items() if info.is_running()]
    if running:
        container.stop(*running)
    return bool(running)


def hold(
    charm: ops.CharmBase,
    layers: Mapping[str, tuple[str, Mapping[str, Any]]],
    owned: Iterable[OwnedSecret] = (),
) -> None:
    """On a unit that is not the leader, stand its workloads by and raise :class:`StandbyError`.

    Call it first in the holistic reconcile: nothing after it runs on a standby but the
    read of the app's own secrets, with ``refresh`` (:meth:`OwnedSecret.get` on a
    non-leader), which keeps the unit on their latest revisions: the one it applies if it
    is elected, and the one Juju knows it tracks, so that older ones can be pruned.

    Args:
        charm: the charm.
        layers: container name -> (the label of the workload's layer, that layer).
        owned: the application secrets this charm owns.

    Raises:
        StandbyError: on a non-leader, always (its status says how to scale back).
        ops.pebble.ConnectionError: a container is not reachable.
    """
    if is_active(charm):
        return
    for name, (label, layer) in layers.items():
        if stand_by(charm.unit.get_container(name), label, layer):
            logger.info("%s stopped: this unit is not the leader", name)
    for secret in owned:
        try:
            secret.get()
        except ops.ModelError:  # SecretNotFoundError included: not created yet
            pass
    raise StandbyError(message(charm.app.name))


class SecretFollower(ops.Object):
    """On a standby, reads each secret ``secret-changed`` names with ``refresh``.

    A unit tracks the revision it last read until it reads with ``refresh``; Juju fires
    ``secret-remove`` only for a revision nobody tracks (juju/juju PR 16598). A standby
    reads nothing else, so without this the revision it last saw would never be pruned.
    """

    def __init__(self, charm: ops.CharmBase):
        super().__init__(charm, "standby-secret-follower")
        self._charm = charm
        charm.framework.observe(charm.on.secret_changed, self._on_secret_changed)

    def _on_secret_changed(self, event: ops.SecretChangedEvent) -> None:
        if is_active(self._charm):
            return
        try:
            event.secret.get_content(refresh=True)
        except (ops.SecretNotFoundError, ops.ModelError):
            pass  # gone or no longer granted: nothing to track
