"""The base of Charmarr's four relation interfaces.

Each side of an interface publishes one pydantic model (in the interface's ``models``
module, on :class:`._databag.AppData`) in its application databag.
Every field is stored JSON-encoded under its own key, as ``ops.Relation.save`` does,
with a ``version`` key so that a future schema can be told apart.

We do not call ``Relation.load`` because it cannot say *which* key held garbage JSON,
and the operator needs that; nor ``Relation.save`` because it writes every key on every
hook, and a steady-state hook should not call ``relation-set`` at all.

Reading never raises: for every related application the result is either the parsed
model or an :class:`InvalidRelationData` naming the relation, the field and the reason.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import ops

from .secret_ids import leader_memo

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from ._databag import AppData
    from .secret_ids import OwnedState

M = TypeVar("M", bound="AppData")


def lazy_models(module: str, names: Iterable[str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``<module>.models`` on first use of a model.

    Building pydantic models costs about 100 ms, and a converged ``update-status`` reads no
    databag; so an interface's public face names its models without importing them.
    """
    known = frozenset(names)

    def __getattr__(name: str) -> Any:  # noqa: N807 (a module's __getattr__, PEP 562)
        if name in known:
            return getattr(importlib.import_module(f"{module}.models"), name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__


def _digest(values: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class InvalidRelationData:
    """The remote application's databag could not be used; says where and why."""

    relation: ops.Relation
    field: str
    reason: str

    @property
    def message(self) -> str:
        """A status message naming the relation, the remote app and the field."""
        app = self.relation.app.name if self.relation.app else "?"
        return f"invalid data from {app} on {self.relation.name}: {self.field}: {self.reason}"


@dataclass(frozen=True)
class RemoteData(Generic[M]):
    """Valid data published by one related application."""

    relation: ops.Relation
    data: M

    @property
    def app_name(self) -> str:
        """The remote application's name."""
        return self.relation.app.name if self.relation.app else ""


def parse_app_data(
    relation: ops.Relation, model: type[M], raw: dict[str, str]
) -> M | InvalidRelationData | None:
    """Parse a raw databag: the model, a typed invalid result, or None if empty."""
    if not raw:
        return None
    decoded: dict[str, object] = {}
    for key in model.model_fields:
        if key not in raw:
            continue
        try:
            decoded[key] = json.loads(raw[key])
        except (TypeError, ValueError, RecursionError):  # "[" * 5000 is deeper than json allows
            return InvalidRelationData(relation, key, "not valid JSON")
    if "version" in raw and "version" not in decoded:
        return InvalidRelationData(relation, "version", "missing")
    import pydantic

    try:
        return model.model_validate(decoded)
    except pydantic.ValidationError as e:
        error = e.errors(include_url=False, include_input=False)[0]
        field = ".".join(str(part) for part in error["loc"]) or "databag"
        return InvalidRelationData(relation, field, error["msg"])


def encode_app_data(data: AppData) -> dict[str, str]:
    """JSON-encode each field under its own key, as ``Relation.save`` would."""
    values = data.model_dump(mode="json")
    return {key: json.dumps(values[key]) for key in sorted(values)}


class Endpoint(Generic[M]):
    """One side of an interface: publishes our model, reads the remote one.

    Args:
        charm: the charm that owns the endpoint.
        endpoint: the endpoint name in ``charmcraft.yaml``.
        remote_model: ``"<module>:<class>"`` of the model the other side publishes
            (imported on first read), or None if it publishes nothing.
    """

    def __init__(self, charm: ops.CharmBase, endpoint: str, remote_model: str | None) -> None:
        self._charm = charm
        self.endpoint = endpoint
        self._remote_model = remote_model

    def _model(self) -> type[M] | None:
        """The remote side's model class (its module is imported on first use)."""
        if self._remote_model is None:
            return None
        module, _, name = self._remote_model.partition(":")
        return getattr(importlib.import_module(module), name)

    @property
    def relations(self) -> list[ops.Relation]:
        """Live relations on this endpoint.

        A relation being broken is still listed by ops during its relation-broken hook;
        holistic code treats it as gone.
        """
        return [r for r in self._charm.model.relations[self.endpoint] if r.active]

    def read(self) -> Iterator[RemoteData[M] | InvalidRelationData]:
        """Every related app's data: valid, or invalid with the reason; empty ones skipped."""
        model = self._model()
        if model is None:
            return
        for relation in self.relations:
            if relation.app is None:
                continue
            try:
                raw = dict(relation.data[relation.app])
            except ops.ModelError as e:
                logger.warning("cannot read %s:%s: %s", self.endpoint, relation.id, e)
                continue
            parsed = parse_app_data(relation, model, raw)
            if isinstance(parsed, InvalidRelationData):
                logger.warning("%s", parsed.message)
                yield parsed
            elif parsed is not None:
                yield RemoteData(relation, parsed)

    def published(self, relation: ops.Relation) -> dict[str, str]:
        """Our app databag on ``relation`` (leader only; empty for a non-leader)."""
        if not self._charm.unit.is_leader():
            return {}
        return dict(relation.data[self._charm.app])

    def published_value(self, relation: ops.Relation, key: str) -> object:
        """One decoded field of our app databag (None if absent, garbage or non-leader).

        Use it to ask "is this secret ID already published here?" before granting.
        """
        raw = self.published(relation).get(key)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def publish(self, relation: ops.Relation, data: AppData) -> bool:
        """Write ``data`` to our app databag if it differs (leader only).

        Returns:
            True if something was written.
        """
        if not self._charm.unit.is_leader():
            return False
        wanted = encode_app_data(data)
        memo, key, digest = leader_memo(self._charm), f"published:{relation.id}", _digest(wanted)
        if memo is not None and memo.get(key) == digest:
            return False  # this leader published exactly that on this relation already
        bag = relation.data[self._charm.app]
        current = dict(bag)
        changes = {k: v for k, v in wanted.items() if current.get(k) != v}
        changes.update({k: "" for k in current if k not in wanted})
        if changes:
            bag.update(changes)
        if memo is not None:
            memo[key] = digest
        return bool(changes)

    def publish_secret_id(
        self,
        relation: ops.Relation,
        field: str,
        secret: OwnedState,
        build: Callable[[str], AppData],
    ) -> bool:
        """Grant ``secret`` to ``relation``, then publish ``build(secret_id)`` (leader only).

        The one place for grant-then-publish: the grant happens only when ``field`` does
        not already hold the ID, so a steady-state hook calls neither ``secret-grant`` nor
        ``relation-set``.

        Returns:
            True if the databag changed.
        """
        from .secret_ids import grant_and_publish_id

        memo = leader_memo(self._charm)
        if secret.id is not None and memo is not None and self._charm.unit.is_leader():
            wanted = _digest(encode_app_data(build(secret.id)))
            if memo.get(f"published:{relation.id}") == wanted:
                return False  # granted and published by this leader already
        secret_id = grant_and_publish_id(secret, relation, self.published_value(relation, field))
        if secret_id is None:
            return False
        return self.publish(relation, build(secret_id))
