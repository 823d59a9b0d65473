#!/usr/bin/env python3
"""The sabnzbd-k8s charm: SABnzbd with a generated, rotated API key.

One holistic reconcile converges the workload (``sabnzbd.ini``, the Pebble layer, the
service, the per-requirer categories) and the ``download-client`` relations to the whole
current state. The API key lives in the owned secret ``sabnzbd-api-key``; Radarr and
Sonarr get its ID. With a ready ``vpn-gateway`` SABnzbd talks through Gluetun's SOCKS5
proxy (though its downloader resolves news-server names with the cluster's DNS first,
outside the proxy: sabnzbd/downloader.py ``request_addrinfo``); with ``require-vpn`` and
no usable gateway the service is stopped (fail closed).
"""

from __future__ import annotations

import logging

import ops
from _sabnzbd import (
    CONFIG_DIR,
    CONTAINER,
    GROUP_ID,
    INI_PATH,
    LOCAL_URL,
    PORT,
    SERVICE,
    USER_ID,
    category_dir,
    confirm_key,
    converge_categories,
    host_whitelist,
    layer,
    render_ini,
    rotate_through_api,
    socks5_url,
)
from _sabnzbd.api import ApiKeyRefusedError, SabnzbdClient

from charmarr_common import standby
from charmarr_common.errors import CharmarrError, WaitingError
from charmarr_common.http import WorkloadUnreachableError
from charmarr_common.k8s import PodPatcher, ensure_media_volume
from charmarr_common.reconcile import Convergence, observe_reconcile_events
from charmarr_common.rotation import (
    ROTATION_OPTION,
    CredentialRotation,
    generate_token,
    parse_rotation_interval,
)
from charmarr_common.vpn import VpnDecision, decide, read_gateway
from charmarr_common.workload import (
    ensure_layer,
    poll,
    pull_text,
    push_if_changed,
    service_url,
    take_ownership,
)
from charmarr_interfaces.download_client import DownloadClientProvider
from charmarr_interfaces.endpoint import InvalidRelationData
from charmarr_interfaces.secret_ids import OwnedSecret, OwnedState
from charmarr_interfaces.vpn_gateway import VpnGatewayRequirer

logger = logging.getLogger(__name__)

LABEL = "sabnzbd-api-key"
API_KEY = "api-key"
REQUIRE_VPN = "require-vpn"
READY_ATTEMPTS = 20
READY_INTERVAL = 1.0


class SabnzbdCharm(ops.CharmBase):
    """SABnzbd on Kubernetes, wired to Radarr/Sonarr by secret ID."""

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._pod = PodPatcher(self)
        self._convergence = Convergence(
            self, container=CONTAINER, service=SERVICE, probe=self._answers
        )
        self._secret = OwnedSecret(
            self, LABEL, lambda: {API_KEY: generate_token()}, description="SABnzbd API key"
        )
        self.download_clients = DownloadClientProvider(self)
        self.vpn = VpnGatewayRequirer(self)
        self.rotation = CredentialRotation(
            self,
            secrets=lambda label: self._secret if label == LABEL else None,
            rotate=self._rotate_key,
            action_label=LABEL,
            reconcile=self._reconcile,
        )
        self._problems: list[CharmarrError] = []
        self._notes: list[str] = []
        self._reconciled = False

        self._follower = standby.SecretFollower(self)
        observe_reconcile_events(self, self._on_event)
        framework.observe(self.on.secret_changed, self._on_secret_changed)
        framework.observe(self.on.collect_unit_status, self._on_collect_unit_status)

    # -- events -------------------------------------------------------------------------------

    def _on_event(self, event: ops.EventBase) -> None:
        if not self._convergence.skip(event):
            self._reconcile()

    def _answers(self) -> bool:
        """The anonymous ``mode=version`` answers."""
        try:
            SabnzbdClient(LOCAL_URL, "").version()
        except CharmarrError:
            return False
        return True

    def _on_secret_changed(self, _: ops.SecretChangedEvent) -> None:
        self._reconcile(refresh=True)

    def _on_collect_unit_status(self, event: ops.CollectStatusEvent) -> None:
        if self._convergence.add_kept_status(event):
            return
        if not self._reconciled:
            self._reconcile()
        statuses = [problem.status for problem in self._problems]
        statuses.append(ops.ActiveStatus("; ".join(self._notes)))
        self._convergence.add_statuses(event, statuses)

    # -- reconcile ----------------------------------------------------------------------------

    def _reconcile(self, refresh: bool = False) -> None:
        """Converge the workload and the relations to the whole current state."""
        self._reconciled = True
        self._problems, self._notes = [], []
        try:
            # Only the leader runs SABnzbd: a standby stops it and says how to scale back.
            standby.hold(self, {CONTAINER: (SERVICE, layer())}, [self._secret])
        except CharmarrError as e:
            self._problems.append(e)
            return
        except ops.pebble.ConnectionError:
            self._problems.append(WaitingError("waiting for the sabnzbd container"))
            return
        self.unit.set_ports(PORT)
        try:
            policy = parse_rotation_interval(self.config.get(ROTATION_OPTION, "monthly"))
        except CharmarrError as e:
            self._problems.append(e)
            policy = None
        try:
            state = self._secret.ensure(policy)
        except CharmarrError as e:
            self._problems.append(e)
            return
        key = state.content.get(API_KEY, "")
        if not key:
            self._problems.append(
                CharmarrError(
                    f"{LABEL} lacks {API_KEY}: juju run {self.app.name}/leader rotate-credentials"
                )
            )
            return
        self._publish(state)
        try:
            ensure_media_volume(self._pod, self, CONTAINER)
        except CharmarrError as e:
            self._problems.append(e)
        decision, proxy = self._vpn(refresh)
        if decision.problem is not None:
            self._problems.append(decision.problem)
        try:
            self._converge_workload(key, decision.allow_downloads, proxy)
        except ops.pebble.ConnectionError:
            self._problems.append(WaitingError("waiting for the sabnzbd container"))
        except (ops.pebble.ChangeError, ops.pebble.APIError) as e:
            logger.warning("Pebble refused a change to sabnzbd: %s", type(e).__name__)
            self._problems.append(
                CharmarrError(
                    "sabnzbd did not start: see "
                    f"juju ssh --container {CONTAINER} {self.unit.name} pebble logs {SERVICE}"
                )
            )
        except CharmarrError as e:
            self._problems.append(e)
        else:
            if decision.note:
                self._notes.append(decision.note)

    def _publish(self, state: OwnedState) -> None:
        """Grant the key secret to each download-client relation and publish its ID."""
        if self.unit.is_leader():
            url = service_url(self, PORT)
            self.download_clients.publish_credentials(state, url=url, kind="sabnzbd")

    def _vpn(self, refresh: bool) -> tuple[VpnDecision, str | None]:
        """Whether SABnzbd may download, and the wanted ``socks5_proxy_url``.

        The proxy is "" without a gateway and None (leave as is) when the gateway's data
        cannot be read.
        """
        require_vpn = bool(self.config.get(REQUIRE_VPN, False))
        try:
            gateway = read_gateway(self, self.vpn, refresh=refresh)
        except CharmarrError as e:
            return VpnDecision(not require_vpn, e), None
        if gateway is None:
            return decide(self.app.name, require_vpn, None), ""
        url = socks5_url(
            gateway.socks5_host, gateway.socks5_port, gateway.username, gateway.password
        )
        if url is None:
            problem = CharmarrError(
                f"proxy credentials from {gateway.app} are not URL-safe; SABnzbd cannot use them"
            )
            return VpnDecision(not require_vpn, problem), ""
        return decide(self.app.name, require_vpn, gateway), url

    def _converge_workload(self, key: str, allowed: bool, proxy: str | None) -> None:
        """sabnzbd.ini, the layer, the service, then (when running) the categories.

        Raises:
            ops.pebble.ConnectionError: the container is not reachable.
            CharmarrError: SABnzbd is not usable yet or refused something.
        """
        container = self.unit.get_container(CONTAINER)
        current = pull_text(container, INI_PATH)
        if current is None and not take_ownership(container, CONFIG_DIR, USER_ID, GROUP_ID):
            # Before the first start, as the image's init does: SABnzbd (uid 1000) exits at
            # once when it cannot write its logs to a root-owned fresh volume. Without
            # sabnzbd.ini, the next hook tries again.
            raise WaitingError(f"waiting to take ownership of {CONFIG_DIR}")
        wanted = render_ini(current, api_key=key, whitelist=self._whitelist(), proxy_url=proxy)
        ensure_layer(container, SERVICE, layer())
        running = container.get_service(SERVICE).is_running()
        if wanted != current:
            # Stop first: SABnzbd saves its in-memory settings over the file on changes.
            if running:
                container.stop(SERVICE)
                running = False
            self._push_ini(container, wanted, current)
            logger.info("sabnzbd.ini updated")
        if not allowed:
            if running:
                container.stop(SERVICE)
                logger.info("sabnzbd stopped: downloads not allowed without the VPN")
            return
        if not running:
            container.start(SERVICE)
            raise WaitingError("waiting for sabnzbd to start")
        self._converge_categories(SabnzbdClient(LOCAL_URL, key), container)

    def _push_ini(self, container: ops.Container, wanted: str, current: str | None) -> None:
        push_if_changed(
            container, INI_PATH, wanted, current=current, user_id=USER_ID, group_id=GROUP_ID
        )

    def _whitelist(self) -> list[str]:
        number = int(self.unit.name.rsplit("/", 1)[1])
        return host_whitelist(self.app.name, self.model.name, number)

    def _converge_categories(self, client: SabnzbdClient, container: ops.Container) -> None:
        """Create each requirer's category; delete managed orphans; never touch the user's."""
        wanted: dict[str, str] = {}
        for remote in self.download_clients.read():
            if isinstance(remote, InvalidRelationData):
                self._problems.append(CharmarrError(remote.message))
                continue
            wanted[remote.data.category] = category_dir(remote.data.category)
        try:
            result = converge_categories(client, wanted)
        except ApiKeyRefusedError:
            # sabnzbd.ini carries the secret's key (written above), so the running SABnzbd
            # holds another one: restart it to load the file.
            container.restart(SERVICE)
            raise WaitingError("restarting sabnzbd to load its API key") from None
        if result.foreign:
            self._problems.append(
                CharmarrError(
                    f"category {', '.join(result.foreign)} exists in SABnzbd with another "
                    "folder and is left as the user's: delete or rename it in SABnzbd"
                )
            )
        if result.served:
            self._notes.append(f"categories: {', '.join(result.served)}")

    # -- rotation -----------------------------------------------------------------------------

    def _rotate_key(self, label: str, current: dict[str, str]) -> dict[str, str]:
        """Make SABnzbd use a new key and confirm it, before the revision is published.

        Through the running app: ``set_apikey``, then the new key must work and the old one
        must be refused. If SABnzbd does not answer: a charm-generated key goes into
        sabnzbd.ini, SABnzbd is restarted and the new key confirmed the same way. While
        ``require-vpn`` keeps SABnzbd stopped, the key is written for its next start.

        Raises:
            CharmarrError: SABnzbd did not accept a new key; nothing is to be published.
        """
        old = current.get(API_KEY, "")
        try:
            return {API_KEY: rotate_through_api(LOCAL_URL, old)}
        except WorkloadUnreachableError:
            new, started = self._rotate_offline()
        if started:
            confirm_key(LOCAL_URL, new, old)
        return {API_KEY: new}

    def _rotate_offline(self) -> tuple[str, bool]:
        """Rewrite sabnzbd.ini with a new key and restart SABnzbd unless it must stay stopped.

        Returns:
            The new key and whether SABnzbd was started with it (and answers).
        """
        container = self.unit.get_container(CONTAINER)
        new = generate_token()
        decision, _ = self._vpn(refresh=False)
        try:
            current = pull_text(container, INI_PATH)
            wanted = render_ini(current, api_key=new, whitelist=self._whitelist(), proxy_url=None)
            ensure_layer(container, SERVICE, layer())
            if container.get_service(SERVICE).is_running():
                container.stop(SERVICE)
            self._push_ini(container, wanted, current)
            if not decision.allow_downloads:
                if pull_text(container, INI_PATH) != wanted:
                    raise WaitingError("sabnzbd.ini could not be written; old key kept")
                return new, False
            container.start(SERVICE)
        except ops.pebble.ConnectionError:
            raise WaitingError("sabnzbd container unreachable; old key kept") from None
        except (ops.pebble.ChangeError, ops.pebble.APIError):
            raise WaitingError("sabnzbd did not restart with its new key; old key kept") from None
        client = SabnzbdClient(LOCAL_URL, new)

        def answers() -> bool | None:
            try:
                client.version()
            except WorkloadUnreachableError:
                return None
            return True

        if poll(answers, attempts=READY_ATTEMPTS, delay=READY_INTERVAL):
            return new, True
        raise WaitingError("sabnzbd did not come back with its new key; old key kept")


if __name__ == "__main__":  # pragma: nocover
    ops.main(SabnzbdCharm)
