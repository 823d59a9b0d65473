#!/usr/bin/env python3
"""Prowlarr: the indexer manager, registering every related Radarr and Sonarr by secret ID.

The API key, config.xml, Pebble layer, rotation and status come from
``charmarr_servarr.arr``; this charm adds the media-indexer provider (one managed
Prowlarr application per related *arr app) and the vpn-gateway requirer (Prowlarr's HTTP
proxy through Gluetun).
"""

from __future__ import annotations

import logging
from typing import ClassVar
from urllib.parse import urlsplit

import ops
from _prowlarr import wiring

from charmarr_common.charm import Report
from charmarr_common.errors import CharmarrError, WaitingError
from charmarr_common.network_policy import KillSwitch, protect
from charmarr_common.vpn import KILL_SWITCH_ON, read_gateway
from charmarr_common.workload import answers
from charmarr_interfaces.endpoint import InvalidRelationData
from charmarr_interfaces.media_indexer import API_KEY, MediaIndexerProvider
from charmarr_interfaces.secret_ids import OwnedState
from charmarr_interfaces.vpn_gateway import VpnGatewayRequirer
from charmarr_servarr import api as servarr
from charmarr_servarr.arr import ArrCharm

logger = logging.getLogger(__name__)

PROXY_RECORD = "config/host/proxy"
"""Where the fingerprint of the proxy password Prowlarr holds is recorded."""
SYNC_RECORD = f"command/{servarr.INDEXER_SYNC}/"
"""Prefix of where, per application, the fingerprint of the key a forced sync pushed is kept."""


class ProwlarrCharm(ArrCharm):
    """Prowlarr on Kubernetes."""

    servarr: ClassVar[servarr.ServarrApp] = servarr.PROWLARR

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.indexer = MediaIndexerProvider(self)
        self.vpn = VpnGatewayRequirer(self)
        self._kill_switch = KillSwitch(self)
        self._switch_on = False

    def _publish(self, key: OwnedState) -> None:
        from charmarr_interfaces.media_indexer.models import (
            IndexerProviderData,  # pydantic: only here
        )

        for relation in self.indexer.relations:
            self.indexer.publish_secret_id(
                relation,
                "api_key_secret_id",
                key,
                lambda secret_id: IndexerProviderData(url=self.url, api_key_secret_id=secret_id),
            )

    def _wire(self, client: servarr.ServarrClient, report: Report) -> None:
        report.attempt(self._guard)
        report.attempt(self._wire_applications, client, report)
        report.attempt(self._wire_proxy, client, report)

    def _guard(self) -> None:
        """The kill switch: with a gateway related, Prowlarr reaches it, Radarr and Sonarr only."""
        peers = {}
        for remote in self.indexer.read():
            if not isinstance(remote, InvalidRelationData):
                parts = urlsplit(remote.data.url)
                peers[remote.app_name] = (parts.port or (443 if parts.scheme == "https" else 80),)
        self._switch_on = protect(
            self, self._kill_switch, require_vpn=False, peers=sorted(peers.items())
        )

    def _wire_applications(self, client: servarr.ServarrClient, report: Report) -> None:
        wanted: dict[str, servarr.Desired] = {}
        keep: set[str] = set()
        for remote, source in self._with_secrets(
            self.indexer, lambda data: (data.api_key_secret_id, (API_KEY,)), keep, report
        ):
            desired = wiring.application(
                remote.app_name, remote.data.kind, remote.data.url, source, self.url
            )
            wanted[desired.name] = desired
        self._waiting_for_data(self.indexer, wanted, keep, report)
        result = servarr.sync_entries(
            client, servarr.APPLICATIONS, wanted, self.applied(), keep=keep
        )
        self._report_refused(result, "application", report)
        refused = {e.entry for e in result.refused}
        present = {n: d for n, d in wanted.items() if n not in refused}
        targets = {
            n: (d.plain["implementation"], d.plain_fields["baseUrl"]) for n, d in present.items()
        }
        for name in self._sync_indexers(client, self._api_key, targets):
            app = name.removesuffix(" (juju)")
            report.add(
                WaitingError(f"waiting for {app} to answer, to sync Prowlarr's indexers into it")
            )
        for record in [k for k in self.applied() if k.startswith(SYNC_RECORD)]:
            if record.removeprefix(SYNC_RECORD) not in set(wanted) | keep:
                self.applied().pop(record)
        if wanted:
            apps = ", ".join(sorted(n.removesuffix(" (juju)") for n in wanted))
            report.note(f"syncing to {apps}")

    def _wire_proxy(self, client: servarr.ServarrClient, report: Report) -> None:
        gateway = read_gateway(self, self.vpn, refresh=self.refresh)
        proxy = wiring.proxy_of(gateway)
        applied = self.applied()
        recorded = applied.get(PROXY_RECORD)
        if proxy is None and recorded is None:
            return
        update = servarr.proxy_update(client.host_config(), proxy, recorded)
        if update is not None:
            client.put_host_config(update)
            logger.info("HTTP proxy %s", "set" if proxy else "removed")
        if proxy is None:
            applied.pop(PROXY_RECORD, None)
            return
        applied[PROXY_RECORD] = proxy.fingerprint
        assert gateway is not None
        if not gateway.connected:
            raise WaitingError(f"VPN {gateway.app} disconnected; indexer searches wait for it")
        switch = f", {KILL_SWITCH_ON}" if self._switch_on else ""
        report.note(f"via VPN {gateway.public_ip or '(IP unknown)'}{switch}")

    def _on_key_accepted(self, client: servarr.ServarrClient, api_key: str) -> None:
        """Push the new key into the indexers Prowlarr synced to Radarr and Sonarr."""
        if not self.indexer.relations:
            return
        try:
            targets = {
                str(a["name"]): (
                    str(a.get("implementation")),
                    str(servarr.field_values(a).get("baseUrl") or ""),
                )
                for a in client.list(servarr.APPLICATIONS)
                if a.get("implementation") in ("Radarr", "Sonarr")
            }
            self._sync_indexers(client, api_key, targets)
        except CharmarrError as e:
            logger.warning("indexer sync after rotation not started: %s", e.message)

    def _sync_indexers(
        self, client: servarr.ServarrClient, api_key: str, targets: dict[str, tuple[str, str]]
    ) -> list[str]:
        """Force the indexer sync for the applications that have not had ``api_key`` yet.

        Radarr and Sonarr show an indexer's key masked, and Prowlarr's sync takes a masked
        remote key as equal (``RadarrIndexer.Equals``), so a plain sync would never bring
        them a new Prowlarr key: ``forceSync`` updates them all. It counts as done for an
        application that answered just before (the sync itself reports nothing back);
        the others are returned and tried again on the next hook. Radarr and Sonarr then
        check the outcome with their own indexer test.

        Args:
            client: this unit's Prowlarr.
            api_key: Prowlarr's current key.
            targets: application name -> (implementation, base URL).
        """
        fingerprint = servarr.credential_hash(SYNC_RECORD, {API_KEY: api_key})
        applied = self.applied()
        pending = [n for n in sorted(targets) if applied.get(SYNC_RECORD + n) != fingerprint]
        answering = [n for n in pending if self._answers(*targets[n])]
        if answering:
            client.command(servarr.INDEXER_SYNC, forceSync=True)
            for name in answering:
                applied[SYNC_RECORD + name] = fingerprint
        return [n for n in pending if n not in answering]

    @staticmethod
    def _answers(implementation: str, base_url: str) -> bool:
        """The application's anonymous /ping answers."""
        target = servarr.MEDIA_MANAGERS.get(implementation.lower())
        if target is None or not base_url:
            return False
        return answers(servarr.ServarrClient(base_url, target, "", name=target.name).ping)


if __name__ == "__main__":  # pragma: nocover
    ops.main(ProwlarrCharm)
