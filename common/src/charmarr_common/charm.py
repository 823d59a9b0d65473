"""The skeleton every Charmarr charm fills in: :class:`CharmarrCharm`.

One event's life (CONTRIBUTING.md, "The skeleton"):

1. every event that can change the desired state (:func:`.reconcile.observe_reconcile_events`,
   plus ``secret-changed``) calls :meth:`CharmarrCharm.reconcile`, unless it is a
   converged leader's ``update-status`` (:class:`.reconcile.Convergence`: a liveness check);
2. :meth:`~CharmarrCharm.reconcile` starts a fresh :class:`Report`, stands a non-leader by
   (:func:`.standby.hold`), opens the ports, then runs the charm's :meth:`~CharmarrCharm.converge`;
   every :class:`~.errors.CharmarrError` and Pebble failure becomes a problem, never a
   hook error;
3. ``collect-unit-status`` reports each problem and the Active notes, worst first; if
   nothing reconciled in this hook (an action, ``secret-remove``), it reconciles first.

The charm reads its options once per hook as a dataclass (ops' ``load_config``):
:class:`CharmConfig` subclasses check each value in ``__post_init__``; a bad one becomes
a Blocked problem naming the option and a safe fallback, and the others are still read.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, MutableMapping
from typing import Any, ClassVar, TypeVar

import ops
from ops import pebble

from charmarr_interfaces.secret_ids import OwnedSecret, OwnedState

from . import standby
from .errors import CharmarrError, InvalidConfigError, WaitingError
from .reconcile import Convergence, observe_reconcile_events
from .rotation import (
    DEFAULT_INTERVAL,
    ROTATE_ACTION,
    CredentialRotation,
    Restorer,
    Rotator,
    parse_rotation_interval,
)

logger = logging.getLogger(__name__)


class _NoFrameworkDebug(logging.Filter):
    """Drops DEBUG records logged on the root logger: ops' framework lines.

    Every log line is a juju-log process. ops logs "up and running", "Initializing SQLite
    local storage" and "Emitting Juju event" at DEBUG on the root logger (and more on its
    ``ops.*`` loggers): processes every hook, which Juju's default logging-config
    (``<root>=INFO``) then drops. Charm code logs on its own named loggers, which neither
    this filter nor the ``ops`` level touches; ops' warnings still go out.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


if not any(isinstance(f, _NoFrameworkDebug) for f in logging.getLogger().filters):
    logging.getLogger().addFilter(_NoFrameworkDebug())
logging.getLogger("ops").setLevel(logging.INFO)

T = TypeVar("T")


# ---------------------------------------------------------------------------------------------
# Typed config
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class CharmConfig:
    """A charm's options, one field per option (dashes become underscores).

    Subclasses check their values in ``__post_init__`` with :meth:`checked` or
    :meth:`boolean`: a bad value is recorded in :attr:`problems` (Blocked, naming the
    option) and replaced by a safe one, so the other options still take effect.
    """

    app: str = ""
    """The application's name, for the commands in the problems' messages (not an option)."""

    def __post_init__(self) -> None:
        self.problems: list[CharmarrError] = []

    def checked(self, parse: Callable[[Any], T], value: object) -> T | None:
        """``parse(value)``, or None with the :class:`InvalidConfigError` recorded."""
        try:
            return parse(value)
        except InvalidConfigError as e:
            self.problems.append(e)
            return None

    def boolean(self, option: str, value: object, *, fallback: bool) -> bool:
        """``value`` if it is a bool; else ``fallback`` with a problem naming ``option``."""
        if isinstance(value, bool):
            return value
        self.problems.append(InvalidConfigError(f"invalid {option}: use true or false"))
        return fallback


@dataclasses.dataclass
class RotationConfig(CharmConfig):
    """The options of a charm with rotated owned secrets: ``rotation-interval``."""

    rotation_interval: str = DEFAULT_INTERVAL

    def __post_init__(self) -> None:
        super().__post_init__()
        self.rotate: ops.SecretRotate | None = self.checked(
            parse_rotation_interval, self.rotation_interval
        )
        """Juju's rotate policy; None (leave the secrets' policy alone) when invalid."""


@dataclasses.dataclass
class VpnConfig(RotationConfig):
    """A download client's options: ``require-vpn`` too (a bad value fails closed)."""

    require_vpn: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        self.require_vpn = self.boolean("require-vpn", self.require_vpn, fallback=True)


# ---------------------------------------------------------------------------------------------
# What one reconcile found
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Report:
    """The problems and Active notes of one reconcile, for collect-status."""

    problems: list[CharmarrError] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    def add(self, *problems: CharmarrError) -> None:
        """Record problems (each carries its status)."""
        self.problems.extend(problems)

    def note(self, text: str, *, first: bool = False) -> None:
        """Add a note to the Active message (``first``: at its start)."""
        if first:
            self.notes.insert(0, text)
        else:
            self.notes.append(text)

    def attempt(self, step: Callable[..., None], *args: Any) -> None:
        """Run one independent step; its failure becomes a problem, the others still run."""
        try:
            step(*args)
        except CharmarrError as e:
            self.problems.append(e)

    def statuses(self, ready: str = "") -> list[ops.StatusBase]:
        """Each problem's status, then Active with the notes (or ``ready``)."""
        statuses = [problem.status for problem in self.problems]
        statuses.append(ops.ActiveStatus("; ".join(self.notes) or ready))
        return statuses


# ---------------------------------------------------------------------------------------------
# What the leader remembers between hooks
# ---------------------------------------------------------------------------------------------


class LeaderMemo(ops.Object):
    """What this unit, as leader, last did that Juju keeps: spares the hook tools to re-read it.

    Kept in ops' local storage (on Kubernetes a SQLite file in the charm directory: no hook
    tool). It holds the ports opened, and (:attr:`values`, for ``charmarr_interfaces``)
    digests of what the leader published and its owned secrets' metadata. Only the leader
    writes those, so they stay true while this unit stays leader: the memo is forgotten in
    ``leader-elected`` (another leader may have written meanwhile) and on every hook a
    non-leader runs. A lost memo costs only the reads it spared.
    """

    _stored = ops.StoredState()

    def __init__(self, charm: ops.CharmBase):
        super().__init__(charm, "leader-memo")
        self._stored.set_default(ports=[], values={})
        if os.environ.get("JUJU_HOOK_NAME") == "leader-elected":
            self.forget()

    @property
    def values(self) -> MutableMapping[str, str]:
        """Digests by key (``charmarr_interfaces.secret_ids.leader_memo``'s mapping)."""
        return self._stored.values  # type: ignore[return-value]

    def forget(self) -> None:
        """Forget everything (this unit is, or was meanwhile, not the leader)."""
        if self._stored.ports or self._stored.values:
            self._stored.ports = []
            self._stored.values = {}

    def open_ports(self, unit: ops.Unit, ports: tuple[int, ...]) -> None:
        """Open exactly ``ports`` unless this unit already did (``opened-ports`` spared)."""
        if list(self._stored.ports) != list(ports):
            unit.set_ports(*ports)
            self._stored.ports = list(ports)


# ---------------------------------------------------------------------------------------------
# The charm
# ---------------------------------------------------------------------------------------------


class _SecretTracking(ops.Object):
    """Whether a new revision of a consumed or user secret may not have reached the workload.

    A consumer follows a new revision by reading with ``refresh`` in ``secret-changed``;
    Juju commits that tracking when the hook ends, and the hook ends well even when the
    reconcile could not apply the content (the workload down, say). From then on a plain
    ``secret-get`` answers the new revision, but what the charm recorded as applied (a
    proof, ``charmarr_servarr.api.SecretSource``) is the old one's. So the flag is raised
    in ``secret-changed`` and lowered only by a reconcile that ended without a problem;
    while it is up every read refreshes and nothing is taken as applied. ``start`` and
    ``upgrade-charm`` raise it too: on Kubernetes they follow a new pod, whose charm
    directory (and this flag, in ops' local storage) may be new.
    """

    _stored = ops.StoredState()

    def __init__(self, charm: ops.CharmBase):
        super().__init__(charm, "secret-tracking")
        self._stored.set_default(unsettled=False)

    @property
    def unsettled(self) -> bool:
        """A new revision may not have reached the workload yet."""
        return bool(self._stored.unsettled)

    def raise_for(self, event: ops.EventBase) -> None:
        """Raise the flag if ``event`` may bring a revision the workload does not hold."""
        kinds = (ops.SecretChangedEvent, ops.StartEvent, ops.UpgradeCharmEvent)
        if isinstance(event, kinds) and not self._stored.unsettled:
            self._stored.unsettled = True

    def settle(self) -> None:
        """A reconcile applied everything it read: lower the flag."""
        if self._stored.unsettled:
            self._stored.unsettled = False


class CharmarrCharm(ops.CharmBase):
    """The base of every Charmarr charm: observes, reconciles once, reports worst first.

    A charm sets the class attributes and fills in :meth:`converge` (and, where it has
    them, :meth:`owned_secrets` and :meth:`standby_layers`).
    """

    config_type: ClassVar[type[CharmConfig]] = CharmConfig
    """The dataclass of the charm's options."""
    workload: str = ""
    """The main workload container (named in Pebble statuses)."""
    ports: tuple[int, ...] = ()
    """The ports opened on the app's Service."""
    ready: ClassVar[str] = ""
    """The Active message when no step left a note."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.refresh = False
        """Read consumed and user secrets with ``refresh`` (a new revision may be out:
        ``secret-changed``, or one whose content a reconcile has not applied yet)."""
        self.report: Report | None = None
        """What this hook's reconcile found (None until it ran)."""
        self.convergence: Convergence | None = None
        """Set with :meth:`converge_with` to let a converged update-status skip the reconcile."""
        self.rotation: CredentialRotation | None = None
        self._config: CharmConfig | None = None
        self._open_ports = True
        self._follower = standby.SecretFollower(self)
        self.leader_memo = LeaderMemo(self)
        self._secret_tracking = _SecretTracking(self)
        """What this unit, as leader, did in earlier hooks (read by ``charmarr_interfaces``)."""
        observe_reconcile_events(self, self._on_reconcile_event)
        framework.observe(self.on.secret_changed, self._on_reconcile_event)
        framework.observe(self.on.collect_unit_status, self._on_collect_status)

    # -- what a charm fills in -----------------------------------------------------------------

    def converge(self, report: Report) -> None:
        """Converge the workload and the relations on the whole current state.

        Record problems and notes in ``report``; raise a CharmarrError (or let a Pebble
        error through) to stop at the first problem that blocks the rest.
        """

    def owned_secrets(self) -> list[OwnedSecret]:
        """The application secrets this charm owns (a standby reads them with refresh)."""
        return []

    def standby_layers(self) -> dict[str, tuple[str, pebble.LayerDict]]:
        """Container -> (layer label, full layer): what a standby keeps stopped."""
        return {}

    def pebble_problem(self, error: Exception) -> CharmarrError:
        """The status for a Pebble (or Juju) call that failed in :meth:`converge`."""
        if isinstance(error, pebble.ConnectionError):
            return WaitingError(f"waiting for the {self.workload} container")
        return WaitingError(f"waiting for the {self.workload} container ({type(error).__name__})")

    # -- what a charm calls in __init__ ----------------------------------------------------------

    def converge_with(self, *, service: str, probe: Callable[[], bool]) -> None:
        """Let a converged leader's update-status only check that ``service`` is alive."""
        self.convergence = Convergence(self, container=self.workload, service=service, probe=probe)

    def rotate_with(
        self, *, rotate: Rotator, action_label: str, restore: Restorer | None = None
    ) -> None:
        """Rotate the owned secrets (secret-rotate, rotate-credentials, pruning)."""
        self.rotation = CredentialRotation(
            self,
            secrets=self.owned_secret,
            rotate=rotate,
            action_label=action_label,
            reconcile=self.reconcile,
            restore=restore,
            policy=lambda: parse_rotation_interval(self.typed_config.rotation_interval),
        )

    # -- what a charm reads ------------------------------------------------------------------

    @property
    def typed_config(self) -> Any:
        """This hook's options as :attr:`config_type` (read once per hook)."""
        if self._config is None:
            self._config = self.load_config(self.config_type, app=self.app.name)
        return self._config

    def ensure_owned(
        self, secret: OwnedSecret, *keys: str, held: dict[str, str] | None = None
    ) -> OwnedState:
        """``secret`` with the configured rotate policy, created on the leader.

        ``held``: the content the workload holds, if the charm can read it there; the
        leader's memo may vouch for it and spare the ``secret-get`` (``OwnedSecret.get``).

        Raises:
            CharmarrError: the content lacks one of ``keys`` (the fix: rotate it).
            WaitingError: on a non-leader before the leader created it.
        """
        state = secret.ensure(getattr(self.typed_config, "rotate", None), held)
        if any(not state.content.get(key) for key in keys):
            raise CharmarrError(
                f"{secret.label} lacks {' or '.join(keys)}: "
                f"juju run {self.app.name}/leader {ROTATE_ACTION}"
            )
        return state

    def owned_secret(self, label: str) -> OwnedSecret | None:
        """The owned secret ``label`` names, or None if it is not ours."""
        return next((s for s in self.owned_secrets() if s.label == label), None)

    # -- the skeleton ------------------------------------------------------------------------

    def _on_reconcile_event(self, event: ops.EventBase) -> None:
        # Consumed and user secrets bring a new revision to track only on secret-changed.
        self._secret_tracking.raise_for(event)
        # The ports never change between hooks: spare update-status the opened-ports call.
        self._open_ports = not isinstance(event, ops.UpdateStatusEvent)
        if self.convergence is None or not self.convergence.skip(event):
            self.reconcile()

    def reconcile(self) -> None:
        """Converge on the whole current state; record what it found in :attr:`report`."""
        self.report = report = Report()
        self.refresh = self._secret_tracking.unsettled
        try:
            if not self.unit.is_leader():
                self.leader_memo.forget()
            # Only the leader runs the workload: a standby stops it, says how to scale back.
            standby.hold(self, self.standby_layers(), self.owned_secrets())
            report.add(*self.typed_config.problems)
            if self._open_ports and self.ports:
                self.leader_memo.open_ports(self.unit, self.ports)
            self.converge(report)
        except CharmarrError as e:
            report.add(e)
        except (pebble.Error, ops.ModelError) as e:
            if not isinstance(e, pebble.ConnectionError):
                logger.warning("reconcile stopped: %s", type(e).__name__)
            report.add(self.pebble_problem(e))
        if not report.problems:
            self._secret_tracking.settle()

    def _on_collect_status(self, event: ops.CollectStatusEvent) -> None:
        if self.convergence is not None and self.convergence.add_kept_status(event):
            return
        if self.report is None:
            self.reconcile()
        assert self.report is not None
        statuses = self.report.statuses(self.ready)
        if self.convergence is not None:
            self.convergence.add_statuses(event, statuses)
        else:
            for status in statuses:
                event.add_status(status)
