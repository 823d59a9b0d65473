"""State translation: the harness' records to a hook's ``ops.testing`` input and back.

Juju keeps one model; ops.testing runs one unit's hook on a ``State``. This module builds
that State from the records (relations with both sides' databags, the secrets the unit
may see at the revision it tracks) and takes the hook's output State back into them,
queueing what Juju would fire in reply (``relation-changed`` on the peer after a databag
change, ``secret-changed`` after a new revision, ``secret-remove`` for an untracked one).
Kept apart from the queue so the mapping between the two shapes reads in one place.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from compat import secret_revisions, with_revisions
from ops import testing
from records import LEADER, App, Rel, SecretRecord, Unit

from charmarr_testing.juju_semantics import owner_secret_changed


class Translation:
    """The hook's State in and out, mixed into :class:`stack.Stack`."""

    apps: dict[str, App]
    relations: dict[int, Rel]
    secrets: dict[str, SecretRecord]
    violations: list[str]
    external: set[str]
    """Charmhub apps a test plays itself (no unit runs a hook): seen as one unit, 0."""

    if TYPE_CHECKING:

        def can_see(self, app: str, record: SecretRecord) -> bool: ...
        def _queue(self, unit: str, kind: str, *args: Any) -> None: ...
        def _remember_values(self, content: dict[str, str] | None) -> None: ...

    def _event(self, unit: Unit, state: testing.State, kind: str, args: tuple[Any, ...]) -> Any:
        on = unit.ctx.on
        simple = {
            "install": on.install,
            "start": on.start,
            "config-changed": on.config_changed,
            "update-status": on.update_status,
            "leader-elected": on.leader_elected,
            "upgrade-charm": on.upgrade_charm,
        }
        if kind in simple:
            return simple[kind]()
        if kind == "pebble-ready":
            return on.pebble_ready(state.get_container(args[0]))
        if kind == "storage-attached":
            return on.storage_attached(next(s for s in state.storages if s.name == args[0]))
        if kind == "action":
            return on.action(args[0], params=dict(args[1]))
        if kind.startswith("relation-"):
            rel = next((r for r in state.relations if r.id == args[0]), None)
            if rel is None:
                return None
            if kind == "relation-created":
                return on.relation_created(rel)
            if kind == "relation-joined":
                return on.relation_joined(rel, remote_unit=args[1])
            if kind == "relation-changed":
                return on.relation_changed(rel, remote_unit=args[1])
            if kind == "relation-departed":
                return on.relation_departed(rel, remote_unit=args[1], departing_unit=args[1])
            if kind == "relation-broken":
                return on.relation_broken(rel)
        if kind.startswith("secret-"):
            secret = next((s for s in state.secrets if s.id == args[0]), None)
            if secret is None:
                return None
            if kind == "secret-changed":
                # Juju sends it to the owner's other units too; ctx.on refuses those.
                owned = secret.owner is not None
                return owner_secret_changed(secret) if owned else on.secret_changed(secret)
            if kind == "secret-rotate":
                return on.secret_rotate(secret)
            if kind == "secret-remove":
                return on.secret_remove(secret, revision=args[1])
        raise ValueError(f"unknown hook {kind}")

    # -- state in ------------------------------------------------------------------------------

    def _state_for(self, unit: Unit) -> testing.State:
        app = unit.app.name
        relations = []
        for rel in self.relations.values():
            if app not in rel.ends or unit.name in rel.broken_units:
                continue
            other = rel.other(app)
            kwargs: dict[str, Any] = {}
            if unit.name in rel.unit_data:
                kwargs["local_unit_data"] = dict(rel.unit_data[unit.name])
            relations.append(
                testing.Relation(
                    endpoint=rel.ends[app],
                    interface=rel.ends[app],
                    id=rel.id,
                    remote_app_name=other,
                    local_app_data=dict(rel.app_data[app]),
                    remote_app_data=dict(rel.app_data[other]),
                    remote_units_data={
                        u.number: dict(rel.unit_data.get(u.name, {}))
                        for u in self.apps[other].units
                    }
                    or ({0: {}} if other in self.external else {}),
                    **kwargs,
                )
            )
        secrets = [
            self._secret_for(unit, record)
            for record in self.secrets.values()
            if self.can_see(app, record)
        ]
        return dataclasses.replace(
            unit.state,
            leader=unit.leader,
            config=dict(unit.app.config),
            relations=relations,
            secrets=secrets,
        )

    def _secret_for(self, unit: Unit, record: SecretRecord) -> testing.Secret:
        if record.owner == unit.app.name:
            tracked = record.tracked.get(unit.name, record.latest)
        else:
            tracked = record.tracked.setdefault(unit.name, record.latest)
        if tracked not in record.revisions:
            tracked = record.tracked[unit.name] = record.latest
        owned = record.owner == unit.app.name
        secret = testing.Secret(
            dict(record.revisions[tracked]),
            latest_content=dict(record.revisions[record.latest]),
            id=record.id,
            owner="app" if owned else None,
            remote_grants={k: set(v) for k, v in record.grants.items()} if owned else {},
            label=record.label if owned else record.labels.get(unit.name),
            description=record.description if owned else None,
            rotate=record.rotate if owned else None,
        )
        return with_revisions(secret, tracked, record.latest)

    # -- state out -----------------------------------------------------------------------------

    def _absorb(
        self,
        unit: Unit,
        state: testing.State,
        out: testing.State,
        kind: str,
        args: tuple[Any, ...],
    ) -> None:
        app = unit.app.name
        for relation in out.relations:
            rel = self.relations.get(relation.id)
            if rel is None:
                continue
            other = self.apps[rel.other(app)]
            changed = False
            local = dict(relation.local_app_data)
            if local != rel.app_data[app]:
                if unit.leader:
                    rel.app_data[app] = local
                    changed = True
                else:
                    self.violations.append(f"{unit.name} {kind}: non-leader wrote its app databag")
            unit_bag = dict(relation.local_unit_data)
            if unit_bag != rel.unit_data.get(unit.name):
                first = unit.name not in rel.unit_data
                rel.unit_data[unit.name] = unit_bag
                changed = changed or not first
            if changed and not rel.dying:
                for remote in other.units:
                    self._queue(remote.name, "relation-changed", rel.id, unit.number)
        if kind == "relation-broken":
            rel = self.relations[args[0]]
            rel.broken_units.add(unit.name)
            everyone = {u.name for a in rel.ends for u in self.apps[a].units}
            if everyone <= rel.broken_units:
                del self.relations[rel.id]
                for record in self.secrets.values():
                    record.grants.pop(rel.id, None)
        self._absorb_secrets(unit, state, out, kind, args)
        self._queue_prunes()

    def _absorb_secrets(
        self,
        unit: Unit,
        state: testing.State,
        out: testing.State,
        kind: str,
        args: tuple[Any, ...],
    ) -> None:
        app = unit.app.name
        out_secrets = {s.id: s for s in out.secrets}
        for secret in state.secrets:
            record = self.secrets.get(secret.id)
            if record is not None and record.owner == app and secret.id not in out_secrets:
                if not unit.leader:
                    self.violations.append(f"{unit.name} {kind}: non-leader removed a secret")
                del self.secrets[secret.id]
        for secret in out.secrets:
            tracked, latest = secret_revisions(secret)
            self._remember_values(secret.latest_content)
            self._remember_values(secret.tracked_content)
            record = self.secrets.get(secret.id)
            if record is None:
                if secret.owner is None:
                    continue
                if not unit.leader:
                    self.violations.append(f"{unit.name} {kind}: non-leader created a secret")
                record = SecretRecord(
                    secret.id,
                    app,
                    {latest: dict(secret.latest_content)},
                    latest,
                    label=secret.label,
                    description=secret.description,
                    rotate=secret.rotate,
                    grants={k: set(v) for k, v in secret.remote_grants.items()},
                )
                record.tracked[unit.name] = tracked
                self.secrets[secret.id] = record
                continue
            if record.owner == app:
                # Grants on a relation that is gone went with it (Juju revokes them).
                grants = {
                    k: set(v) for k, v in secret.remote_grants.items() if k in self.relations
                }
                meta = (secret.label, secret.rotate)
                if not unit.leader:
                    if (
                        latest != record.latest
                        or grants != record.grants
                        or meta != (record.label, record.rotate)
                    ):
                        self.violations.append(f"{unit.name} {kind}: non-leader managed a secret")
                else:
                    # ops.testing counts a metadata change (set_info) as a revision; Juju
                    # makes a revision only for new content.
                    if latest != record.latest and secret.latest_content != record.content:
                        for revision in range(record.latest + 1, latest + 1):
                            record.revisions[revision] = dict(secret.latest_content)
                        record.latest = latest
                        self._secret_changed(record)
                    record.grants = grants
                    record.label, record.rotate = meta
                    record.description = secret.description
                record.tracked[unit.name] = tracked
            else:
                record.tracked[unit.name] = tracked
                if secret.label:
                    record.labels[unit.name] = secret.label
        if kind == "secret-remove":
            record = self.secrets.get(args[0])
            removed = set(unit.ctx.removed_secret_revisions)
            if record is not None and args[1] in removed:
                record.revisions.pop(args[1], None)
                record.pruned.append(args[1])

    def _secret_changed(self, record: SecretRecord) -> None:
        """A new revision: every consumer unit, and the owner's non-leader units (PR 15127)."""
        for app in self.apps.values():
            if app.name == record.owner:
                for unit in app.units:
                    if not unit.leader:
                        self._queue(unit.name, "secret-changed", record.id)
                continue
            if not self.can_see(app.name, record):
                continue
            for unit in app.units:
                self._queue(unit.name, "secret-changed", record.id)

    def _queue_prunes(self) -> None:
        for record in self.secrets.values():
            if record.owner is None:
                continue
            tracked = {
                revision
                for unit_name, revision in record.tracked.items()
                if self._unit_exists(unit_name) and self.can_see(unit_name.split("/")[0], record)
            }
            for revision in sorted(record.revisions):
                if revision == record.latest or revision in tracked:
                    continue
                if revision in record.prune_queued:
                    continue
                record.prune_queued.add(revision)
                self._queue(f"{record.owner}/{LEADER}", "secret-remove", record.id, revision)

    def _unit_exists(self, name: str) -> bool:
        app, number = name.split("/")
        return app in self.apps and any(u.number == int(number) for u in self.apps[app].units)
