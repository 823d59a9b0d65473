"""Holistic cleanup of per-relation artefacts (design.md section 5).

Everything a charm creates for one relation (a Prowlarr application for one Radarr, a
download client inside Radarr for one qBittorrent, a category inside qBittorrent for one
Sonarr, a control-key secret in Gluetun) carries a deterministic name derived from the
relation and a marker saying the charm manages it. Every reconcile compares what exists
with what the live relations want, with no help from relation-broken's event data, and
deletes managed orphans, also once the last relation is gone. Entries without the marker
are the user's and are never touched.

The marker is a naming convention, not a tag: in the Servarr apps a tag restricts what
an entry applies to, so it would change behaviour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

MANAGED_SUFFIX = " (juju)"
"""Appended to the display name of every entry a Charmarr charm manages in an app."""

E = TypeVar("E")
W = TypeVar("W")


def managed_name(remote_app: str) -> str:
    """The display name of the entry managed for ``remote_app``, e.g. ``"qbittorrent (juju)"``."""
    return f"{remote_app}{MANAGED_SUFFIX}"


def is_managed_name(name: str) -> bool:
    """Whether ``name`` carries the managed marker."""
    return name.endswith(MANAGED_SUFFIX) and len(name) > len(MANAGED_SUFFIX)


@dataclass
class Plan(Generic[W, E]):
    """What to do to make the managed entries match the live relations."""

    create: dict[str, W] = field(default_factory=dict)
    """name -> wanted spec, for entries that do not exist yet."""
    update: dict[str, tuple[E, W]] = field(default_factory=dict)
    """name -> (existing entry, wanted spec), for entries that exist but differ."""
    delete: dict[str, E] = field(default_factory=dict)
    """name -> existing entry, for managed entries no live relation wants."""

    @property
    def empty(self) -> bool:
        """True when nothing needs doing (a steady-state hook)."""
        return not (self.create or self.update or self.delete)


def plan(
    wanted: Mapping[str, W],
    existing: Iterable[E],
    *,
    name_of: Callable[[E], str],
    is_managed: Callable[[str], bool] = is_managed_name,
    differs: Callable[[E, W], bool] = lambda existing, wanted: False,
) -> Plan[W, E]:
    """Decide creates, updates and deletes.

    Args:
        wanted: managed name -> spec, one per live relation (empty when none are left).
        existing: entries found in the workload (or in Juju), managed or not.
        name_of: the name of an existing entry.
        is_managed: whether a name carries the managed marker; others are never deleted.
        differs: whether an existing entry needs updating to match its spec.
    """
    result: Plan[W, E] = Plan()
    seen: set[str] = set()
    for entry in existing:
        name = name_of(entry)
        if name in wanted:
            seen.add(name)
            if differs(entry, wanted[name]):
                result.update[name] = (entry, wanted[name])
        elif is_managed(name):
            result.delete[name] = entry
    for name, spec in wanted.items():
        if name not in seen:
            result.create[name] = spec
    return result
