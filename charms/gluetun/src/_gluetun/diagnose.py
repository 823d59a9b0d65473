"""Why Gluetun's control server does not answer: asked of Pebble, only when it does not.

A converged hook never gets here (the control server answered), so these Pebble calls
cost nothing in steady state.
"""

from __future__ import annotations

import ops
from ops import pebble

from charmarr_common.errors import CharmarrError, WaitingError

from .workload import GLUETUN

TUN_DEVICE = "/dev/net/tun"
TUN_PROBE = ["/bin/sh", "-c", f"exec 3<>{TUN_DEVICE}"]
"""Open the device read-write, as Gluetun's start-up check does (internal/tun/check.go)."""
LOGS = "juju ssh --container gluetun {unit} /charm/bin/pebble logs gluetun"

_ERRORS = (pebble.ConnectionError, pebble.APIError, pebble.ChangeError, pebble.ExecError)


def service_state(current: object) -> str:
    """Pebble's service status as a word: active, backoff, error or inactive."""
    return str(getattr(current, "value", current))


def tun_problem(container: ops.Container) -> CharmarrError | None:
    """Blocked naming the fix when the gluetun container cannot open /dev/net/tun."""
    try:
        container.exec(TUN_PROBE, timeout=5).wait_output()
    except pebble.ExecError as e:
        text = str(e.stderr or "")
        if "No such file" in text:
            reason = "missing"
        elif "not permitted" in text or "denied" in text:
            reason = "not allowed by the container runtime"
        else:
            return None
        return CharmarrError(
            f"gluetun cannot open {TUN_DEVICE} ({reason}): on each node run "
            "sudo modprobe tun, and allow the device in the container runtime "
            "(runc 1.2.0 drops it from its defaults: upgrade runc/containerd)"
        )
    except _ERRORS:
        return None
    return None


def gluetun(container: ops.Container, unit: str) -> CharmarrError | None:
    """What Pebble knows about a Gluetun whose control server does not answer, or None.

    Exited or crash-looping (Pebble's backoff) is named with where its log is; a TUN
    device Gluetun cannot open is named with its fix.
    """
    try:
        services = container.get_services(GLUETUN)
    except _ERRORS:
        return None
    info = services.get(GLUETUN)
    if info is None:
        return None
    state = service_state(info.current)
    if state == "active":
        return None
    problem = tun_problem(container)
    if problem is not None:
        return problem
    logs = LOGS.format(unit=unit)
    if state == "backoff":
        return WaitingError(f"gluetun keeps exiting (Pebble restarts it): see {logs}")
    return CharmarrError(f"gluetun exited ({state}): see {logs}")
