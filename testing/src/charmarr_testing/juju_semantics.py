"""Juju's own secret and leadership semantics, where ``ops.testing`` is kinder.

``ops.testing`` (Scenario 8) applies a ``secret-set`` at once: the next ``secret-get``
and ``secret-info-get`` in the same hook already see the new revision. Juju does not
(``../shared/reference/juju-semantics.md``), and code that relies on the difference undoes
its own rotation on a controller. This module makes every ``Context.run`` behave as the
uniter does; the project's pytest plugin installs it for every test (opt out visibly with
``@pytest.mark.lenient_secrets``), and ``tests/stack`` runs under it too.

What is modelled, each after juju/juju ``internal/worker/uniter/runner/context/context.go``:

- ``secret-set`` with new content is *pending* until the hook ends (``UpdateSecret`` queues
  it in ``secretChanges``); content equal to the latest revision is no update at all
  (checksum compare), and metadata alone (``set_info``) makes no revision.
- a plain ``secret-get`` never sees pending content; ``--refresh`` and ``--peek`` do, and
  ``--refresh`` makes the unit track the new revision once it is committed
  (``getPendingSecretValue``, ``pendingTrackLatest``).
- ``secret-info-get`` reports the committed revision until the hook ends
  (``SecretMetadata``).
- pending changes are committed when the hook ends without an error (the output state), and
  thrown away with the hook when it errors.
- units of the owning app track revisions like consumers (Juju >= 3.1.7, PR 16598; Scenario
  models this when ``owner`` is set), and :func:`owner_secret_changed` builds the
  ``secret-changed`` Juju sends to them (PR 15127), which ``ctx.on`` refuses to build.
- :func:`leadership` can take leadership away in the middle of a hook: from then on
  ``is-leader`` answers false and every leader-only hook tool fails with ``ModelError``
  (the uniter's ``ErrIsNotLeader``), while ops may still hold its cached answer.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_ACTIVE: list[bool] = []
"""Non-empty while the semantics are installed (nested blocks install them once)."""

_PENDING = "_juju_pending_content"
_TRACK = "_juju_pending_track"

_LEADER_ONLY_SECRET_TOOLS = (
    "secret_add",
    "secret_set",
    "secret_grant",
    "secret_revoke",
    "secret_remove",
)


def _pending(secret: Any) -> dict[str, str] | None:
    return getattr(secret, _PENDING, None)


def _secret_set(original: Any) -> Any:
    @functools.wraps(original)
    def secret_set(
        self: Any,
        id: str,
        *,
        content: dict[str, str] | None = None,
        label: str | None = None,
        description: str | None = None,
        expire: Any = None,
        rotate: Any = None,
    ) -> None:
        secret = self._get_secret(id, label)
        self._check_can_manage_secret(secret)
        if content is not None:
            # Juju compares checksums with the latest committed revision.
            pending = None if dict(content) == dict(secret.latest_content) else dict(content)
            object.__setattr__(secret, _PENDING, pending)
        for name, value in (
            ("label", label),
            ("description", description),
            ("expire", expire),
            ("rotate", rotate),
        ):
            if value is not None:
                object.__setattr__(secret, name, value)

    return secret_set


def _secret_get(original: Any) -> Any:
    @functools.wraps(original)
    def secret_get(
        self: Any,
        *,
        id: str | None = None,
        label: str | None = None,
        refresh: bool = False,
        peek: bool = False,
    ) -> dict[str, str]:
        secret = self._get_secret(id, label)
        pending = _pending(secret)
        if pending is not None and (refresh or peek):
            if id is not None and label is not None:
                secret._set_label(label)
            if refresh:
                object.__setattr__(secret, _TRACK, True)
            return dict(pending)
        return original(self, id=id, label=label, refresh=refresh, peek=peek)

    return secret_get


def commit(state: Any) -> None:
    """End of a hook without error: pending revisions become real (Juju's commit)."""
    for secret in state.secrets:
        pending = _pending(secret)
        track = getattr(secret, _TRACK, False)
        if pending is not None:
            secret._update_metadata(content=pending)
            if track:
                secret._track_latest_revision()
        for name in (_PENDING, _TRACK):
            if name in vars(secret):
                object.__delattr__(secret, name)


@contextmanager
def juju_secret_semantics() -> Iterator[None]:
    """Run every ``Context.run`` inside the block with Juju's in-hook secret semantics."""
    if _ACTIVE:
        yield
        return
    from scenario.context import Context
    from scenario.mocking import _MockModelBackend  # pyright: ignore[reportPrivateUsage]

    originals = {
        "secret_set": _MockModelBackend.secret_set,
        "secret_get": _MockModelBackend.secret_get,
    }
    original_output = Context._set_output_state  # pyright: ignore[reportPrivateUsage]

    def set_output_state(self: Any, output_state: Any) -> None:
        commit(output_state)
        original_output(self, output_state)

    _MockModelBackend.secret_set = _secret_set(originals["secret_set"])  # type: ignore[method-assign]
    _MockModelBackend.secret_get = _secret_get(originals["secret_get"])  # type: ignore[method-assign]
    Context._set_output_state = set_output_state  # type: ignore[method-assign]
    _ACTIVE.append(True)
    try:
        yield
    finally:
        _ACTIVE.pop()
        for name, original in originals.items():
            setattr(_MockModelBackend, name, original)
        Context._set_output_state = original_output  # type: ignore[method-assign]


def owner_secret_changed(secret: Any) -> Any:
    """The ``secret-changed`` event Juju sends a non-leader unit of the owning app.

    ``ctx.on.secret_changed`` refuses owner secrets; Juju sends the event to the owner's
    other units when the leader publishes a revision (juju/juju PR 15127).
    """
    from scenario.state import _Event  # pyright: ignore[reportPrivateUsage]

    return _Event("secret_changed", secret=secret)


class Leadership:
    """Leadership of the unit under test; :meth:`lose` takes it away mid-hook."""

    def __init__(self) -> None:
        self.lost = False
        self.refused: list[str] = []
        """The leader-only hook tools that failed because leadership was gone."""

    def lose(self) -> None:
        """From now on the unit is not the leader (as when Juju's lease moves on)."""
        self.lost = True


@contextmanager
def leadership() -> Iterator[Leadership]:
    """Yield a :class:`Leadership` whose :meth:`~Leadership.lose` acts on every run.

    Once lost, ``is-leader`` answers false, leader-only secret tools and writes to the
    app databag or app status fail with ``ModelError`` as Juju's ``ErrIsNotLeader`` does.
    """
    from ops import ModelError
    from scenario.mocking import _MockModelBackend  # pyright: ignore[reportPrivateUsage]

    state = Leadership()
    patched: dict[str, Any] = {}

    def refuse(name: str, original: Any) -> Any:
        @functools.wraps(original)
        def tool(self: Any, *args: Any, **kwargs: Any) -> Any:
            if state.lost and _needs_leadership(name, args, kwargs):
                state.refused.append(name.replace("_", "-"))
                raise ModelError("ERROR this unit is not the leader")
            return original(self, *args, **kwargs)

        return tool

    def is_leader(self: Any) -> bool:
        return False if state.lost else patched["is_leader"](self)

    patched["is_leader"] = _MockModelBackend.is_leader
    for name in (*_LEADER_ONLY_SECRET_TOOLS, "secret_info_get", "relation_set", "status_set"):
        patched[name] = getattr(_MockModelBackend, name)
        setattr(_MockModelBackend, name, refuse(name, patched[name]))
    _MockModelBackend.is_leader = is_leader  # type: ignore[method-assign]
    try:
        yield state
    finally:
        for name, original in patched.items():
            setattr(_MockModelBackend, name, original)


def _needs_leadership(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    if name == "relation_set":
        return bool(kwargs.get("is_app", args[2] if len(args) > 2 else False))
    if name == "status_set":
        return bool(kwargs.get("is_app", False))
    if name == "secret_add":
        return kwargs.get("owner") != "unit"
    return True
