"""The base of Charmarr's four relation interfaces.

Each side of an interface publishes one pydantic model (see :mod:`.databags`) in its
application databag.
Every field is stored JSON-encoded under its own key, as ``ops.Relation.save`` does,
with a ``version`` key so that a future schema can be told apart.

We do not call ``Relation.load`` because it cannot say *which* key held garbage JSON,
and the operator needs that; nor ``Relation.save`` because it writes every key on every
hook, and a steady-state hook should not call ``relation-set`` at all.

Reading never raises: for every related application the result is either the parsed
model or an :class:`InvalidRelationData` naming the relation, the field and the reason.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import ops

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from .databags import AppData

M = TypeVar("M", bound="AppData")

_LAZY = frozenset({"AppData", "SecretId", "HttpUrl", "SCHEMA_VERSION"})


def __getattr__(name: str) -> Any:
    # The models live in .databags, imported on first use (pydantic is costly to import).
    if name in _LAZY:
        from . import databags

        return getattr(databags, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
        except (TypeError, ValueError):
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
        remote_model: the name (in :mod:`.databags`) of the model the other side
            publishes, or None if it publishes nothing.
    """

    def __init__(self, charm: ops.CharmBase, endpoint: str, remote_model: str | None) -> None:
        self._charm = charm
        self.endpoint = endpoint
        self._remote_model = remote_model

    def _model(self) -> type[M] | None:
        """The remote side's model class (``databags`` is imported on first use)."""
        if self._remote_model is None:
            return None
        from . import databags

        return getattr(databags, self._remote_model)

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
        bag = relation.data[self._charm.app]
        wanted = encode_app_data(data)
        current = dict(bag)
        changes = {k: v for k, v in wanted.items() if current.get(k) != v}
        changes.update({k: "" for k in current if k not in wanted})
        if changes:
            bag.update(changes)
        return bool(changes)
