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
import re
import secrets as _random
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
        raise SecretNotFoundError(
            f"{option} {uri} not found: juju add-secret, then juju config {app} {option}=<uri>"
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
        """Read the secret without creating it: None when it does not exist yet."""
        try:
            secret = self._charm.model.get_secret(label=self.label)
        except ops.SecretNotFoundError:
            return None
        return OwnedState(secret=secret, content=secret.get_content())

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
            return OwnedState(secret=secret, content=content, id=secret.id, revision=1)
        if leader:
            info = state.secret.get_info()
            state.id, state.revision = info.id, info.revision
            current = info.rotation or ops.SecretRotate.NEVER
            if rotate is not None and current != rotate:
                state.secret.set_info(rotate=rotate)
        return state

    def remove(self) -> bool:
        """Remove every revision of the secret (leader only); True if it existed."""
        state = self.get()
        if state is None:
            return False
        state.secret.remove_all_revisions()
        return True

    def publish(self, state: OwnedState, content: dict[str, str]) -> int | None:
        """Make ``content`` the latest revision (leader only) and track it ourselves.

        The owner tracks the new revision at once, so that Juju can tell when the old one
        is no longer tracked by anyone and fire ``secret-remove`` for it.
        """
        state.secret.set_content(content)
        state.content = state.secret.get_content(refresh=True)
        state.revision = state.secret.get_info().revision
        return state.revision


def grant_and_publish_id(
    state: OwnedState, relation: ops.Relation, published: object
) -> str | None:
    """Grant the secret to ``relation`` unless its ID is already published there.

    Granting comes before publishing, so an ID in our databag means the grant happened;
    this keeps steady-state hooks free of ``secret-grant`` calls. Pass what
    ``Endpoint.published_value(relation, "<field>")`` returns as ``published``.

    Returns:
        The ID to publish (None on a non-leader, who cannot know it).
    """
    if state.id is None:
        return None
    if published != state.id:
        state.secret.grant(relation)
    return state.id


# ---------------------------------------------------------------------------------------------
# Rotation
# ---------------------------------------------------------------------------------------------

Rotator = Callable[[str, dict[str, str]], dict[str, str]]
"""``rotate(label, current_content) -> new_content``: make a new credential, apply it to
the workload and return it only once the workload accepts it (raise CharmarrError if not)."""


class CredentialRotation(ops.Object):
    """Wires ``secret-rotate``, ``secret-remove`` and the ``rotate-credentials`` action.

    The charm supplies ``rotate(label, current) -> new`` which applies a new credential to
    its workload and confirms it works; only then is the new revision published, so no
    consumer is ever handed a credential its provider does not accept.
    """

    def __init__(
        self,
        charm: ops.CharmBase,
        *,
        secrets: Callable[[str], OwnedSecret | None],
        rotate: Rotator,
        action_label: str,
        after: Callable[[], None] | None = None,
    ):
        """Observe the rotation events of ``charm``.

        Args:
            charm: the owner.
            secrets: maps a label to the owned secret it names, or None if not ours.
            rotate: applies a new credential to the workload (see :data:`Rotator`).
            action_label: the label ``rotate-credentials`` rotates.
            after: called after a successful rotation (e.g. the charm's reconcile).
        """
        super().__init__(charm, "credential-rotation")
        self._charm = charm
        self._secrets = secrets
        self._rotate = rotate
        self._action_label = action_label
        self._after = after
        charm.framework.observe(charm.on.secret_rotate, self._on_secret_rotate)
        charm.framework.observe(charm.on.secret_remove, self._on_secret_remove)
        charm.framework.observe(
            charm.on[ROTATE_ACTION.replace("-", "_")].action, self._on_rotate_action
        )

    def rotate_now(self, label: str) -> tuple[str | None, int | None]:
        """Rotate the secret ``label`` now (leader only): apply, confirm, publish.

        Returns:
            The secret ID and the new revision.

        Raises:
            CharmarrError: the workload did not accept the new credential; nothing published.
        """
        owned = self._secrets(label)
        if owned is None:
            raise CharmarrError(f"{label} is not a secret this charm rotates")
        policy = parse_rotation_interval(self._charm.config.get(ROTATION_OPTION, "monthly"))
        state = owned.ensure(policy)
        new = self._rotate(label, dict(state.content))
        revision = owned.publish(state, new)
        logger.info("rotated %s: revision %s published", label, revision)
        if self._after is not None:
            self._after()
        return state.id, revision

    def _on_secret_rotate(self, event: ops.SecretRotateEvent) -> None:
        label = event.secret.label
        if not self._charm.unit.is_leader() or label is None or self._secrets(label) is None:
            return
        try:
            self.rotate_now(label)
        except CharmarrError as e:
            # Juju fires secret-rotate again later; the old credential stays valid meanwhile.
            logger.warning("rotation of %s postponed: %s", label, e.message)

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
            event.fail(f"rotation failed, old credential kept: {e.message}")
            return
        event.set_results({"secret-id": secret_id or "", "revision": revision or 0})
