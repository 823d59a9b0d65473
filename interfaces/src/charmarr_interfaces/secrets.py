"""The secret-ID pattern: owned, consumed and user secrets.

Every credential that one Charmarr app needs from another travels as a Juju secret
*ID*; only Juju and the workloads ever see the content. This module is the one place
that talks to Juju about secrets:

- :class:`OwnedSecret`: an application secret the charm generates (leader only);
- :func:`read_consumed_secret`: a secret another app granted over a relation;
- :func:`read_user_secret`: a secret the operator created and set in a
  ``type: secret`` config option;
- :class:`CredentialRotation`: the ``secret-rotate`` / ``rotate-credentials`` /
  ``secret-remove`` handlers, with the order *apply to the workload, confirm, then
  publish the revision*.

Failures are typed (:class:`SecretError` subclasses). Each carries a status whose
message names the fixing action and never contains secret content.
"""

from __future__ import annotations

import logging
import os
import re
import secrets as _random
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import ops

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
ROTATE_ACTION = "rotate-credentials"

# Juju secret URIs: "secret:<xid>" or "secret://<model-uuid>/<xid>"; an xid is 20 base32hex
# characters in today's Juju, but older and future forms differ, so accept a sane range.
_SECRET_URI = re.compile(
    r"^secret:(//[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/)?[0-9a-z]{16,40}$"
)


def is_secret_uri(value: object) -> bool:
    """Whether ``value`` is a Juju secret URI in either of its two forms."""
    return isinstance(value, str) and _SECRET_URI.match(value) is not None


def generate_token(nbytes: int = 16) -> str:
    """A random lowercase-hex token (``nbytes`` bytes, so ``2 * nbytes`` characters)."""
    return _random.token_hex(nbytes)


class CharmarrError(Exception):
    """An error that becomes a unit status; its message is safe to show."""

    status_type: type[ops.StatusBase] = ops.BlockedStatus

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    @property
    def status(self) -> ops.StatusBase:
        """The status that tells the operator what is wrong and how to fix it."""
        return self.status_type(self.message)


class WaitingError(CharmarrError):
    """Something that resolves by itself (a peer still starting, a grant on its way)."""

    status_type = ops.WaitingStatus


class InvalidConfigError(CharmarrError):
    """A config option has a value the charm cannot use."""


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
# Typed failures
# ---------------------------------------------------------------------------------------------


class SecretError(CharmarrError):
    """Base of the four ways reading a secret fails."""


class MalformedSecretIdError(SecretError):
    """The secret ID is not a Juju secret URI."""


class SecretNotGrantedError(SecretError):
    """The secret exists but this application may not read it (ModelError from Juju)."""


class SecretNotFoundError(SecretError):
    """No secret has this ID (any more)."""


class SecretKeyMissingError(SecretError):
    """The secret lacks a key the charm requires."""


class _ConsumedNotGrantedError(SecretNotGrantedError):
    status_type = ops.WaitingStatus


class _ConsumedNotFoundError(SecretNotFoundError):
    status_type = ops.WaitingStatus


def _fetch(
    model: ops.Model, secret_id: str, *, refresh: bool
) -> tuple[ops.Secret | None, dict[str, str] | None, str | None]:
    """Get a secret's content by ID: (secret, content, failure kind)."""
    try:
        secret = model.get_secret(id=secret_id)
        content = secret.get_content(refresh=True) if refresh else secret.get_content()
    except ops.SecretNotFoundError:
        return None, None, "not-found"
    except ops.ModelError as e:
        # Juju answers "permission denied" (or "not found" for some versions) as a ModelError.
        return None, None, "not-found" if "not found" in str(e).lower() else "not-granted"
    return secret, content, None


def _check_keys(content: Mapping[str, str], required: Iterable[str]) -> list[str]:
    return [key for key in required if not content.get(key)]


def read_consumed_secret(
    model: ops.Model,
    secret_id: str,
    required: Iterable[str],
    *,
    source: str,
    refresh: bool = False,
) -> dict[str, str]:
    """Read a secret another application granted to us over a relation.

    Args:
        model: the charm's model.
        secret_id: the ID the remote application published.
        required: keys the content must have (non-empty).
        source: who published it, for status messages, e.g. ``"prowlarr (media-indexer)"``.
        refresh: track the latest revision; pass True on ``secret-changed`` so that Juju
            can prune the revisions nobody tracks any more.

    Raises:
        MalformedSecretIdError, SecretNotGrantedError, SecretNotFoundError,
        SecretKeyMissingError.
    """
    if not is_secret_uri(secret_id):
        raise MalformedSecretIdError(
            f"{source} sent a malformed secret ID; upgrade or re-integrate that application"
        )
    _, content, failure = _fetch(model, secret_id, refresh=refresh)
    if failure == "not-granted":
        raise _ConsumedNotGrantedError(f"waiting for {source} to grant its secret")
    if content is None:
        raise _ConsumedNotFoundError(f"secret from {source} not found; waiting for a new one")
    missing = _check_keys(content, required)
    if missing:
        raise SecretKeyMissingError(
            f"secret from {source} lacks {', '.join(missing)}; upgrade that application"
        )
    return content


def read_user_secret(
    charm: ops.CharmBase,
    option: str,
    required: Iterable[str],
    *,
    example: str,
    refresh: bool = False,
) -> dict[str, str]:
    """Read the user secret whose URI is in the ``type: secret`` config option ``option``.

    Granting a secret fires no hook, so callers re-check this on every reconcile
    (update-status included).

    Args:
        charm: the charm reading its own config.
        option: the config option holding the secret URI.
        required: keys the content must have (non-empty).
        example: ``key=value`` placeholders for the ``juju add-secret`` hint,
            e.g. ``"claim-token=<token>"``.
        refresh: track the latest revision: pass True on ``secret-changed`` (the operator's
            ``juju update-secret``), which costs a second ``secret-get``.

    Raises:
        SecretError subclasses, each with the command that fixes it.
    """
    app = charm.app.name
    value = charm.config.get(option)
    if not value:
        raise SecretError(
            f"{option} unset: juju add-secret {app}-{option} {example}; "
            f"juju grant-secret {app}-{option} {app}; "
            f"juju config {app} {option}=<secret-uri>"
        )
    uri = str(value)
    if not is_secret_uri(uri):
        raise MalformedSecretIdError(
            f"{option} is not a secret URI: set it to the URI juju add-secret printed"
        )
    _, content, failure = _fetch(charm.model, uri, refresh=refresh)
    if failure == "not-granted":
        raise SecretNotGrantedError(f"{option} not granted: juju grant-secret {uri} {app}")
    if content is None:
        # Juju may answer an ungranted secret as "not found" (ops says it may change).
        raise SecretNotFoundError(
            f"{option} {uri} not found: juju grant-secret {uri} {app} if it exists, else "
            f"juju add-secret, then juju config {app} {option}=<uri>"
        )
    missing = _check_keys(content, required)
    if missing:
        keys = " ".join(f"{key}=<value>" for key in missing)
        raise SecretKeyMissingError(
            f"{option} lacks {', '.join(missing)}: juju update-secret {uri} {keys}"
        )
    return content


# ---------------------------------------------------------------------------------------------
# Owned secrets
# ---------------------------------------------------------------------------------------------


@dataclass
class OwnedState:
    """What the charm knows about one of its owned secrets in this hook."""

    secret: ops.Secret
    content: dict[str, str]
    id: str | None = None
    """The secret's ID; known on the leader (from secret-info-get or creation)."""
    revision: int | None = None
    """The latest revision on the leader, counting one published in this hook."""
    rotate: ops.SecretRotate | None = None
    """The rotate policy on the leader."""


class OwnedSecret:
    """An application secret this charm generates, identified by its label.

    The leader creates it on first use and keeps its rotate policy; every unit can read
    it. A non-leader never calls a management hook tool (add, set, grant, info, remove).
    """

    def __init__(
        self,
        charm: ops.CharmBase,
        label: str,
        generate: Callable[[], dict[str, str]],
        *,
        description: str = "",
    ):
        self._charm = charm
        self.label = label
        self._generate = generate
        self._description = description

    def get(self) -> OwnedState | None:
        """Read the secret without creating it: None when it does not exist yet.

        Units of the owner track revisions like consumers do (Juju >= 3.1.7): a non-leader
        reads with ``refresh`` so that it follows the leader's rotations instead of the
        revision it saw first. The leader tracks each revision it publishes
        (:meth:`publish`), and a new leader was a follower that refreshed, so its plain read
        is current; in its ``leader-elected`` hook it refreshes too, in case the
        ``secret-changed`` of the last revision is still queued behind it. Within one hook
        the state is read once and kept: after :meth:`publish`, the rest of the hook sees
        the new content, which Juju's own ``secret-get`` would only show after the hook
        ends.
        """
        states = _hook_states(self._charm)
        if self.label in states:
            return states[self.label]
        try:
            secret = self._charm.model.get_secret(label=self.label)
            if self._charm.unit.is_leader() and not _newly_elected():
                content = secret.get_content()
            else:
                content = secret.get_content(refresh=True)
        except ops.SecretNotFoundError:
            return None
        state = states[self.label] = OwnedState(secret=secret, content=content)
        return state

    def ensure(self, rotate: ops.SecretRotate | None) -> OwnedState:
        """Get the secret, creating it (leader) and keeping its rotate policy (leader).

        Args:
            rotate: the wanted rotate policy; None leaves the policy alone.

        Raises:
            WaitingError: on a non-leader before the leader created the secret.
        """
        leader = self._charm.unit.is_leader()
        state = self.get()
        if state is None:
            if not leader:
                raise WaitingError(f"waiting for the leader to create {self.label}")
            content = self._generate()
            secret = self._charm.app.add_secret(
                content,
                label=self.label,
                description=self._description or None,
                rotate=rotate,
            )
            state = OwnedState(
                secret=secret, content=content, id=secret.id, revision=1, rotate=rotate
            )
            _hook_states(self._charm)[self.label] = state
            return state
        if leader and state.revision is None:
            info = state.secret.get_info()
            state.id, state.revision = info.id, info.revision
            state.rotate = info.rotation or ops.SecretRotate.NEVER
        if leader and rotate is not None and state.rotate != rotate:
            state.secret.set_info(rotate=rotate)
            state.rotate = rotate
        return state

    def remove(self) -> bool:
        """Remove every revision of the secret (leader only); True if it existed."""
        state = self.get()
        if state is None:
            return False
        state.secret.remove_all_revisions()
        _hook_states(self._charm).pop(self.label, None)
        return True

    def publish(self, state: OwnedState, content: dict[str, str]) -> int | None:
        """Make ``content`` the next revision (leader only); the rest of the hook sees it.

        Juju keeps a ``secret-set`` pending until the hook ends: ``secret-info-get`` still
        reports the committed revision and a plain ``secret-get`` the tracked one. So the
        new revision number is the committed one plus one, the content is kept in the hook's
        state, and a ``refresh`` read makes this unit track the new revision once it is
        committed (so that Juju can tell when nobody tracks the old one and fire
        ``secret-remove`` for it).

        Returns:
            The revision Juju will publish when the hook ends.

        Raises:
            ops.ModelError: Juju refused the change (leadership lost, secret removed).
        """
        if content == state.content:
            return state.revision
        state.secret.set_content(content)
        state.secret.get_content(refresh=True)
        state.content = dict(content)
        if state.revision is not None:
            state.revision += 1
        return state.revision


def _newly_elected() -> bool:
    """Whether this hook is ``leader-elected`` (Juju names the hook in the environment)."""
    return os.environ.get("JUJU_HOOK_NAME") == "leader-elected"


_HOOK_STATES: weakref.WeakKeyDictionary[ops.Model, dict[str, OwnedState]] = (
    weakref.WeakKeyDictionary()
)


def _hook_states(charm: ops.CharmBase) -> dict[str, OwnedState]:
    """This hook's owned-secret states by label (a hook has one ``ops.Model``)."""
    return _HOOK_STATES.setdefault(charm.model, {})


def grant_and_publish_id(
    state: OwnedState, relation: ops.Relation, published: object
) -> str | None:
    """Grant the secret to ``relation`` unless its ID is already published there.

    Granting comes before publishing, so an ID in our databag means the grant happened;
    this keeps steady-state hooks free of ``secret-grant`` calls. Pass what
    ``Endpoint.published_value(relation, "<field>")`` returns as ``published``.

    Returns:
        The ID to publish (None on a non-leader, who cannot know it, or once leadership
        was lost during the hook).
    """
    if state.id is None:
        return None
    if published != state.id:
        try:
            state.secret.grant(relation)
        except ops.ModelError:
            # Leadership moved on since this hook read the secret: the new leader grants.
            return None
    return state.id


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
        """
        super().__init__(charm, "credential-rotation")
        self._charm = charm
        self._secrets = secrets
        self._rotate = rotate
        self._action_label = action_label
        self._reconcile = reconcile
        self._restore = restore
        charm.framework.observe(charm.on.secret_rotate, self._on_secret_rotate)
        charm.framework.observe(charm.on.secret_remove, self._on_secret_remove)
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
        policy = parse_rotation_interval(self._charm.config.get(ROTATION_OPTION, "monthly"))
        state = owned.ensure(policy)
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

    def _on_secret_remove(self, event: ops.SecretRemoveEvent) -> None:
        label = event.secret.label
        if self._charm.unit.is_leader() and label is not None and self._secrets(label):
            event.remove_revision()
            logger.info("pruned revision %s of %s", event.revision, label)

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
