"""A small dummy charm that uses every piece of the package the way the real charms do."""

from __future__ import annotations

from typing import ClassVar

import ops
import pytest
from ops import testing

from charmarr_common import errors, rotation
from charmarr_interfaces import secret_ids
from charmarr_interfaces.download_client import DownloadClientRequirer
from charmarr_interfaces.endpoint import InvalidRelationData
from charmarr_interfaces.media_indexer import (
    API_KEY,
    IndexerRequirerData,
    MediaIndexerRequirer,
)

LABEL = "dummy-api-key"

META = {
    "name": "dummy",
    "containers": {"dummy": {}},
    "requires": {
        "media-indexer": {"interface": "media-indexer", "limit": 1},
        "download-client": {"interface": "download-client"},
    },
}
CONFIG = {
    "options": {
        "rotation-interval": {"type": "string", "default": "monthly"},
        "token-secret": {"type": "secret"},
    }
}
ACTIONS = {"rotate-credentials": {}}


class DummyCharm(ops.CharmBase):
    """Owns ``dummy-api-key``, consumes Prowlarr's key, reads a user secret."""

    workload_keys: list[str]
    """The key the workload held when each rotation started."""
    applied: ClassVar[list[str]] = []
    """The key each reconcile applied to the (imaginary) workload, in order."""
    refuse_rotation = False

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.owned = secret_ids.OwnedSecret(
            self, LABEL, lambda: {API_KEY: rotation.generate_token()}, description="test"
        )
        self.indexer = MediaIndexerRequirer(self)
        self.clients = DownloadClientRequirer(self)
        self.rotation = rotation.CredentialRotation(
            self,
            secrets=lambda label: self.owned if label == LABEL else None,
            rotate=self._rotate,
            action_label=LABEL,
            reconcile=lambda: self._reconcile(None),
        )
        self.problems: list[ops.StatusBase] | None = None
        for event in (
            self.on.config_changed,
            self.on.update_status,
            self.on.secret_changed,
            self.on["media-indexer"].relation_changed,
            self.on["download-client"].relation_changed,
        ):
            framework.observe(event, self._reconcile)
        framework.observe(self.on.collect_unit_status, self._on_collect_status)

    def _rotate(self, label: str, current: dict[str, str]) -> dict[str, str]:
        # What the real charms do: push to the workload, confirm, return.
        seen = self.owned.get()
        type(self).workload_keys.append(seen.content[API_KEY] if seen else "")
        if type(self).refuse_rotation:
            raise errors.WaitingError("dummy workload did not accept the new key")
        return {API_KEY: rotation.generate_token()}

    def _reconcile(self, event: ops.EventBase | None) -> None:
        self.problems = []
        refresh = isinstance(event, ops.SecretChangedEvent)
        try:
            policy = rotation.parse_rotation_interval(self.config.get("rotation-interval"))
            owned = self.owned.ensure(policy)
        except errors.CharmarrError as e:
            self.problems.append(e.status)
            return
        type(self).applied.append(owned.content[API_KEY])
        for remote in self.indexer.read():
            if isinstance(remote, InvalidRelationData):
                self.problems.append(ops.BlockedStatus(remote.message))
                continue
            try:
                secret_ids.read_consumed_secret(
                    self.model,
                    remote.data.api_key_secret_id,
                    [API_KEY],
                    source=f"{remote.app_name} (media-indexer)",
                    refresh=refresh,
                )
            except errors.CharmarrError as e:
                self.problems.append(e.status)
            published = self.indexer.published_value(remote.relation, "api_key_secret_id")
            secret_id = secret_ids.grant_and_publish_id(owned, remote.relation, published)
            if secret_id:
                self.indexer.publish(
                    remote.relation,
                    IndexerRequirerData(
                        url="http://dummy.test.svc.cluster.local:7878",
                        kind="radarr",
                        api_key_secret_id=secret_id,
                    ),
                )
        if self.config.get("token-secret"):
            try:
                secret_ids.read_user_secret(self, "token-secret", ["token"], example="token=<t>")
            except errors.CharmarrError as e:
                self.problems.append(e.status)

    def _on_collect_status(self, event: ops.CollectStatusEvent) -> None:
        if self.problems is None:
            self._reconcile(event)
        for status in self.problems or []:
            event.add_status(status)
        event.add_status(ops.ActiveStatus())


@pytest.fixture
def ctx() -> testing.Context[DummyCharm]:
    """A fresh context for the dummy charm, its test switches reset."""
    DummyCharm.workload_keys = []
    DummyCharm.refuse_rotation = False
    return testing.Context(DummyCharm, meta=META, config=CONFIG, actions=ACTIONS)
