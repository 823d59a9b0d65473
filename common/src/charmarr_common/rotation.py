"""Rotating owned secrets, with the order *apply to the workload, confirm, then publish*.

The ``rotation-interval`` option, and the ``secret-rotate`` / ``rotate-credentials`` /
``secret-remove`` handlers (:class:`CredentialRotation`).
"""

from __future__ import annotations

import logging
import secrets as _random
from collections.abc import Callable, Mapping

import ops

from charmarr_interfaces.secret_ids import OwnedSecret

from .errors import CharmarrError, InvalidConfigError

logger = logging.getLogger(__name__)

ROTATION_INTERVALS: Mapping[str, ops.SecretRotate] = {
    "never": ops.SecretRotate.NEVER,
    "hourly": ops.SecretRotate.HOURLY,
    "daily": ops.SecretRotate.DAILY,
    "weekly": ops.SecretRotate.WEEKLY,
    "monthly": ops.SecretRotate.MONTHLY,
    "quarterly": ops.SecretRotate.QUARTERLY,
    "yearly": ops.SecretRotate.YEARLY,
}
"""The values of the ``rotation-interval`` option, in order, and Juju's policy for each."""

ROTATION_OPTION = "rotation-interval"
DEFAULT_INTERVAL = "monthly"
"""The option's default (charmcraft.yaml of every charm with rotated secrets)."""
ROTATE_ACTION = "rotate-credentials"


def generate_token(nbytes: int = 16) -> str:
    """A random lowercase-hex token (``nbytes`` bytes, so ``2 * nbytes`` characters)."""
    return _random.token_hex(nbytes)


def parse_rotation_interval(value: object) -> ops.SecretRotate:
    """Map a ``rotation-interval`` value to Juju's rotate policy.

    Raises:
        InvalidConfigError: naming the option and every accepted value.
    """
    policy = ROTATION_INTERVALS.get(value) if isinstance(value, str) else None
    if policy is None:
        shown = str(value)[:32]
        raise InvalidConfigError(
            f"invalid {ROTATION_OPTION} {shown!r}: use one of {', '.join(ROTATION_INTERVALS)}"
        )
    return policy


# ---------------------------------------------------------------------------------------------
# Rotation
# ---------------------------------------------------------------------------------------------

Rotator = Callable[[str, dict[str, str]], dict[str, str]]
"""``rotate(label, current_content) -> new_content``: make a new credential, apply it to
the workload and return it only once the workload accepts it (raise CharmarrError if not)."""

Restorer = Callable[[str, dict[str, str], "dict[str, str] | None"], None]
"""``restore(label, published, applied)``: put the workload back on the ``published``
credential; ``applied`` is the new one if the workload accepted it (None if unknown). Raise
CharmarrError if it cannot."""

_ROTATION_FAULTS = (CharmarrError, ops.ModelError, ops.pebble.Error)
"""What can interrupt a rotation: the workload's refusal, Juju (leadership lost, secret
removed), Pebble (container gone)."""


class RotationError(CharmarrError):
    """A rotation did not publish a new revision; the message says what the workload holds."""

    status_type = ops.WaitingStatus


class CredentialRotation(ops.Object):
    """Wires ``secret-rotate``, ``secret-remove`` and the ``rotate-credentials`` action.

    The charm supplies ``rotate(label, current) -> new`` which applies a new credential to
    its workload and confirms it works; only then is the new revision published, so no
    consumer is ever handed a credential its provider does not accept. The charm's
    ``reconcile`` then runs in the same hook and sees the new content.

    Fail-safe: when anything interrupts the rotation after the workload may have taken the
    new credential (the workload, Pebble, or Juju refusing the new revision because
    leadership moved or the secret is gone), the workload is put back on the published
    credential (``restore``, by default the charm's reconcile, which applies what the
    secret holds). A hook never ends in an error and the workload never keeps a
    credential that no secret holds.
    """

    def __init__(
        self,
        charm: ops.CharmBase,
        *,
        secrets: Callable[[str], OwnedSecret | None],
        rotate: Rotator,
        action_label: str,
        reconcile: Callable[[], None],
        restore: Restorer | None = None,
        policy: Callable[[], ops.SecretRotate] | None = None,
    ):
        """Observe the rotation events of ``charm``.

        Args:
            charm: the owner.
            secrets: maps a label to the owned secret it names, or None if not ours.
            rotate: applies a new credential to the workload (see :data:`Rotator`).
            action_label: the label ``rotate-credentials`` rotates.
            reconcile: the charm's holistic reconcile, run after every rotation.
            restore: puts the workload back on the published credential after an
                interrupted rotation (see :data:`Restorer`); by default ``reconcile``.
            policy: the wanted rotate policy (raise InvalidConfigError if the option is
                invalid); by default the ``rotation-interval`` option.
        """
        super().__init__(charm, "credential-rotation")
        self._charm = charm
        self._secrets = secrets
        self._rotate = rotate
        self._action_label = action_label
        self._reconcile = reconcile
        self._restore = restore
        self._policy = policy or (
            lambda: parse_rotation_interval(charm.config.get(ROTATION_OPTION, DEFAULT_INTERVAL))
        )
        self._pruning = RevisionPruning(charm, secrets)
        charm.framework.observe(charm.on.secret_rotate, self._on_secret_rotate)
        charm.framework.observe(
            charm.on[ROTATE_ACTION.replace("-", "_")].action, self._on_rotate_action
        )

    def rotate_now(self, label: str) -> tuple[str | None, int | None]:
        """Rotate the secret ``label`` now (leader only): apply, confirm, publish.

        Returns:
            The secret ID and the revision that the hook publishes.

        Raises:
            CharmarrError: no new revision; the message says what the workload holds.
        """
        owned = self._secrets(label)
        if owned is None:
            raise CharmarrError(f"{label} is not a secret this charm rotates")
        state = owned.ensure(self._policy())
        published = dict(state.content)
        new: dict[str, str] | None = None
        try:
            new = self._rotate(label, dict(published))
            revision = owned.publish(state, new)
        except _ROTATION_FAULTS as e:
            raise self._put_back(label, published, new, e) from None
        logger.info("rotated %s: revision %s published", label, revision)
        self._reconcile()
        return state.id, revision

    def _put_back(
        self,
        label: str,
        published: dict[str, str],
        applied: dict[str, str] | None,
        cause: Exception,
    ) -> RotationError:
        """Restore the published credential in the workload; the error to report."""
        reason = _fault_reason(cause)
        try:
            if self._restore is not None:
                self._restore(label, published, applied)
            self._reconcile()
        except _ROTATION_FAULTS as e:
            logger.warning("restoring %s after a failed rotation: %s", label, _fault_reason(e))
            return RotationError(
                f"rotation failed: {reason}; nothing published, and the published credential "
                "is re-applied to the workload at the next hook"
            )
        return RotationError(f"rotation failed, old credential kept: {reason}")

    def _on_secret_rotate(self, event: ops.SecretRotateEvent) -> None:
        label = event.secret.label
        if not self._charm.unit.is_leader() or label is None or self._secrets(label) is None:
            return
        try:
            self.rotate_now(label)
        except CharmarrError as e:
            # Juju fires secret-rotate again later; the old credential stays valid meanwhile.
            logger.warning("rotation postponed: %s", e.message)

    def _on_rotate_action(self, event: ops.ActionEvent) -> None:
        if not self._charm.unit.is_leader():
            event.fail(
                f"run this on the leader: juju run {self._charm.app.name}/leader {ROTATE_ACTION}"
            )
            return
        try:
            secret_id, revision = self.rotate_now(self._action_label)
        except CharmarrError as e:
            event.fail(e.message)
            return
        event.set_results({"secret-id": secret_id or "", "revision": revision or 0})


class RevisionPruning(ops.Object):
    """Removes each revision of an owned secret that no unit or consumer tracks any more.

    Juju fires ``secret-remove`` on the owner for such a revision (juju/juju PR 16598);
    only the leader may remove it.
    """

    def __init__(self, charm: ops.CharmBase, secrets: Callable[[str], OwnedSecret | None]):
        super().__init__(charm, "revision-pruning")
        self._charm = charm
        self._secrets = secrets
        charm.framework.observe(charm.on.secret_remove, self._on_secret_remove)

    def _on_secret_remove(self, event: ops.SecretRemoveEvent) -> None:
        label = event.secret.label
        if self._charm.unit.is_leader() and label is not None and self._secrets(label):
            event.remove_revision()
            logger.info("pruned revision %s of %s", event.revision, label)


def _fault_reason(error: Exception) -> str:
    """What interrupted a rotation, safe to show (never a secret value)."""
    if isinstance(error, CharmarrError):
        return error.message
    if isinstance(error, ops.SecretNotFoundError):
        return "the secret was removed"
    if isinstance(error, ops.ModelError):
        return "Juju refused the new revision: leadership moved or the secret is gone"
    if isinstance(error, ops.pebble.ConnectionError):
        return "the workload container stopped answering Pebble"
    return f"Pebble: {type(error).__name__}"
