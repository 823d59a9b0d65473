"""The secret-ID pattern: owned, consumed and user secrets.

Every credential that one Charmarr app needs from another travels as a Juju secret
*ID*; only Juju and the workloads ever see the content. This module is the one place
that talks to Juju about secrets:

- :class:`OwnedSecret`: an application secret the charm generates (leader only), with
  :func:`grant_and_publish_id` to hand its ID to a related app;
- :func:`read_consumed_secret`: a secret another app granted over a relation;
- :func:`read_user_secret`: a secret the operator created and set in a
  ``type: secret`` config option.

Rotating an owned secret is charm behaviour, not contract: see
:mod:`charmarr_common.rotation`. Failures are typed (:class:`SecretError` subclasses);
each carries a status whose message names the fixing action and never contains secret
content.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import weakref
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field

import ops

from .errors import CharmarrError, WaitingError

logger = logging.getLogger(__name__)

# Juju secret URIs: "secret:<xid>" or "secret://<model-uuid>/<xid>"; an xid is 20 base32hex
# characters in today's Juju, but older and future forms differ, so accept a sane range.
_SECRET_URI = re.compile(
    r"^secret:(//[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/)?[0-9a-z]{16,40}$"
)


def is_secret_uri(value: object) -> bool:
    """Whether ``value`` is a Juju secret URI in either of its two forms."""
    return isinstance(value, str) and _SECRET_URI.match(value) is not None


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


def check_secret_id(secret_id: str, *, source: str) -> None:
    """Raise :class:`MalformedSecretIdError` unless ``secret_id`` (from ``source``) is a URI.

    No hook tool: a caller that reads the secret only when it needs the content still
    reports a malformed ID at once.
    """
    if not is_secret_uri(secret_id):
        raise MalformedSecretIdError(
            f"{source} sent a malformed secret ID; upgrade or re-integrate that application"
        )


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
    check_secret_id(secret_id, source=source)
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

    content: dict[str, str]
    id: str | None = None
    """The secret's ID; known on the leader (from secret-info-get or creation)."""
    revision: int | None = None
    """The latest revision on the leader, counting one published in this hook."""
    rotate: ops.SecretRotate | None = None
    """The rotate policy on the leader."""
    published: bool = False
    """A new revision was published in this hook (its number is this hook's belief only)."""
    handle: ops.Secret | None = field(default=None, repr=False)
    """The ops object, once read (see :attr:`secret`)."""
    load: Callable[[], ops.Secret] | None = field(default=None, repr=False)
    """How to get :attr:`handle` when the content came from the leader's memo."""

    @property
    def secret(self) -> ops.Secret:
        """The ops object, to change or grant the secret (a ``secret-get`` if not read yet)."""
        if self.handle is None:
            if self.load is None:
                raise RuntimeError("an owned secret's state without its secret")
            self.handle = self.load()
        return self.handle


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

    def get(self, held: Mapping[str, str] | None = None) -> OwnedState | None:
        """Read the secret without creating it: None when it does not exist yet.

        ``held`` is the content the workload holds, if the charm can read it there: on a
        leader whose memo shows that this is the content it last read at the current
        revision (:meth:`_recall_held`), no ``secret-get`` is made.

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
        state = self._recall_held(held) if held else None
        if state is not None:
            states[self.label] = state
            return state
        try:
            secret = self._charm.model.get_secret(label=self.label)
            if self._charm.unit.is_leader() and not _newly_elected():
                content = secret.get_content()
            else:
                content = secret.get_content(refresh=True)
        except ops.SecretNotFoundError:
            return None
        state = states[self.label] = OwnedState(content=content, handle=secret)
        return state

    def _recall_held(self, held: Mapping[str, str]) -> OwnedState | None:
        """``held`` as this hook's state, if the leader's memo vouches for it.

        Only this leader changes the secret while its memo lives (:func:`leader_memo`), and
        the memo keeps a digest of the content at the revision it recorded: the same digest
        means the workload holds exactly what ``secret-get`` would answer.
        """
        memo = leader_memo(self._charm)
        known = memo.get(f"secret:{self.label}") if memo is not None else None
        if not known or _newly_elected() or not self._charm.unit.is_leader():
            return None
        info = json.loads(known)
        if info.get("digest") != _digest(self.label, info["revision"], held):
            return None
        label, model = self.label, self._charm.model
        return OwnedState(
            content=dict(held),
            id=info["id"],
            revision=info["revision"],
            rotate=ops.SecretRotate(info["rotate"]),
            load=lambda: model.get_secret(label=label),
        )

    def ensure(
        self, rotate: ops.SecretRotate | None, held: Mapping[str, str] | None = None
    ) -> OwnedState:
        """Get the secret, creating it (leader) and keeping its rotate policy (leader).

        Args:
            rotate: the wanted rotate policy; None leaves the policy alone.
            held: the content the workload holds, if known (see :meth:`get`).

        Raises:
            WaitingError: on a non-leader before the leader created the secret.
        """
        leader = self._charm.unit.is_leader()
        state = self.get(held)
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
                content=content, id=secret.id, revision=1, rotate=rotate, handle=secret
            )
            _hook_states(self._charm)[self.label] = state
            self._remember(state)
            return state
        if leader and state.revision is None and not self._recall(state):
            info = state.secret.get_info()
            state.id, state.revision = info.id, info.revision
            state.rotate = info.rotation or ops.SecretRotate.NEVER
        if leader and rotate is not None and state.rotate != rotate:
            state.secret.set_info(rotate=rotate)
            state.rotate = rotate
        if leader:
            self._remember(state)
        return state

    def _recall(self, state: OwnedState) -> bool:
        """Fill ``state``'s metadata from the leader's memo (no ``secret-info-get``)."""
        memo = leader_memo(self._charm)
        known = memo.get(f"secret:{self.label}") if memo is not None else None
        if not known:
            return False
        info = json.loads(known)
        state.id, state.revision = info["id"], info["revision"]
        state.rotate = ops.SecretRotate(info["rotate"])
        return True

    def _remember(self, state: OwnedState) -> None:
        """Keep ``state``'s metadata for the next hooks (only this leader changes it)."""
        memo = leader_memo(self._charm)
        if memo is None or state.id is None or state.revision is None or state.published:
            return
        rotate = (state.rotate or ops.SecretRotate.NEVER).value
        digest = _digest(self.label, state.revision, state.content)
        info = {"id": state.id, "revision": state.revision, "rotate": rotate, "digest": digest}
        memo[f"secret:{self.label}"] = json.dumps(info, sort_keys=True)

    def remove(self) -> bool:
        """Remove every revision of the secret (leader only); True if it existed."""
        state = self.get()
        if state is None:
            return False
        state.secret.remove_all_revisions()
        _hook_states(self._charm).pop(self.label, None)
        self._forget()
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
        # The next hook asks Juju for the committed revision once (rotations are rare).
        state.published = True
        self._forget()
        return state.revision

    def _forget(self) -> None:
        memo = leader_memo(self._charm)
        if memo is not None:
            memo.pop(f"secret:{self.label}", None)


def leader_memo(charm: ops.CharmBase) -> MutableMapping[str, str] | None:
    """The charm's memo of what it wrote as leader in earlier hooks, if it keeps one.

    ``charmarr_common``'s skeleton keeps one (``LeaderMemo``) in ops' local storage, valid
    while the unit stays leader; what Juju would answer is then not asked again (a
    ``relation-get`` of our own databag, a ``secret-info-get``). Without one, every hook reads.
    """
    return getattr(getattr(charm, "leader_memo", None), "values", None)


def _digest(label: str, revision: int, content: Mapping[str, str]) -> str:
    """A one-way digest of an owned secret's content at ``revision``, for the leader's memo.

    The generated content is random tokens (128 bits or more), so the digest reveals nothing;
    the label and revision make it differ between secrets and revisions.
    """
    blob = json.dumps([label, revision, dict(sorted(content.items()))]).encode()
    return hashlib.sha256(b"charmarr-owned\0" + blob).hexdigest()


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
