"""Small helpers every charm uses with its own workload container.

Each helper compares before it writes, so a steady-state hook makes no Pebble write:
no push, no ``add_layer``, no ``replan``. (charmed-kubeflow-chisme's ``update_layer`` does
the same for layers, but importing it pulls in lightkube, over a second per hook.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

import ops
from ops import pebble

T = TypeVar("T")
logger = logging.getLogger(__name__)

_sleep: Callable[[float], None] = time.sleep
"""How :func:`poll` waits; the test plugin makes it a no-op outside real-workload tests."""
_clock: Callable[[], float] = time.monotonic

HOOK_POLL_BUDGET = 150.0
"""Seconds one hook may spend in :func:`poll`, all calls together (a hook is one process).

Each poll is bounded on its own too; this bounds a hook that polls several times (a
restart, then a rotation, then a second app), so it ends with a status well before
anyone thinks it hung.
"""
_poll_deadline: float | None = None


def answers(probe: Callable[[], object]) -> bool:
    """Whether ``probe`` (an anonymous call to a workload) succeeds; any refusal is a no."""
    from .errors import CharmarrError

    try:
        probe()
    except CharmarrError:
        return False
    return True


def poll(check: Callable[[], T | None], *, attempts: int, delay: float) -> T | None:
    """Call ``check`` until it returns something other than None; bounded in count and time.

    A hook waits this way for its workload (after a restart, a rotation, a claim): at most
    ``attempts`` calls, ``delay`` seconds apart, so at most ``attempts * delay`` seconds plus
    the checks' own timeouts; and never a sleep past the hook's :data:`HOOK_POLL_BUDGET`
    (once it is spent, each poll checks once).

    Returns:
        The first result other than None, or None when every attempt came back empty.
    """
    global _poll_deadline  # noqa: PLW0603 - one budget per hook process
    if _poll_deadline is None:
        _poll_deadline = _clock() + HOOK_POLL_BUDGET
    for attempt in range(attempts):
        if attempt:
            if _clock() + delay > _poll_deadline:
                return None
            _sleep(delay)
        result = check()
        if result is not None:
            return result
    return None


def service_url(charm: ops.CharmBase, port: int, scheme: str = "http") -> str:
    """The in-cluster URL of this application's Kubernetes service on ``port``.

    Juju creates a service named after the application; ``unit.set_ports`` opens ports on it.
    """
    return f"{scheme}://{charm.app.name}.{charm.model.name}.svc.cluster.local:{port}"


def layer_differs(plan: pebble.Plan, layer: pebble.LayerDict) -> bool:
    """Whether the plan's services and checks differ from those ``layer`` defines.

    The one comparison of a plan with a layer (the standby layer's checks use it too).
    """
    wanted = pebble.Layer(layer)
    return _entries_differ(plan.services, wanted.services) or _entries_differ(
        plan.checks, wanted.checks
    )


def _entries_differ(
    have: Mapping[str, pebble.Service | pebble.Check],
    wanted: Mapping[str, pebble.Service | pebble.Check],
) -> bool:
    for name, entry in wanted.items():
        current = have.get(name)
        if current is None or _planned(current.to_dict()) != _planned(entry.to_dict()):
            return True
    return False


def ensure_layer(
    container: ops.Container,
    name: str,
    layer: pebble.LayerDict,
    *,
    before_replan: Callable[[], None] | None = None,
    plan: pebble.Plan | None = None,
) -> bool:
    """Make the plan's services and checks match ``layer``; replan only if they differ.

    ``before_replan`` runs first when a replan is due (e.g. to create a directory the
    service needs at start). ``plan``: the container's plan, if the caller already got it.

    Returns:
        True if the plan changed (services were replanned).

    Raises:
        ops.pebble.ConnectionError: the container is not reachable yet.
    """
    if not layer_differs(plan or container.get_plan(), layer):
        return False
    if before_replan is not None:
        before_replan()
    container.add_layer(name, pebble.Layer(layer), combine=True)
    container.replan()
    return True


def _planned(data: Mapping[str, object]) -> dict[str, object]:
    """A service or check as the plan shows it, without the layer-only ``override``."""
    result = dict(data)
    result.pop("override", None)
    return result


def pull_text(container: ops.Container, path: str) -> str | None:
    """A file's text, or None if it does not exist."""
    try:
        return container.pull(path).read()
    except ops.pebble.PathError:
        return None


def push_if_changed(
    container: ops.Container,
    path: str,
    content: str,
    *,
    current: str | None,
    user_id: int | None = None,
    group_id: int | None = None,
    permissions: int = 0o600,
) -> bool:
    """Write ``content`` to ``path`` unless ``current`` (what the caller pulled) equals it.

    Returns:
        True if the file was written.
    """
    if current == content:
        return False
    container.push(
        path,
        content,
        make_dirs=True,
        user_id=user_id,
        group_id=group_id,
        permissions=permissions,
    )
    return True


def take_ownership(container: ops.Container, path: str, user_id: int, group_id: int) -> bool:
    """``chown user_id:group_id path`` in the container; whether it succeeded.

    The linuxserver images own ``/config`` to their user before the app starts (their
    ``init-*-config`` s6 scripts); a fresh Juju storage volume is root's. Callers do it
    once, before the workload's first start (while its config file is still absent), and
    retry in the next hook when it failed.
    """
    try:
        container.exec(["chown", f"{user_id}:{group_id}", path]).wait()
    except (pebble.Error, ops.ModelError) as e:
        logger.warning("could not chown %s: %s", path, type(e).__name__)
        return False
    return True
