#!/usr/bin/env python3
"""The sabnzbd-k8s charm: SABnzbd with a generated, rotated API key.

One holistic reconcile converges the workload (``sabnzbd.ini``, the Pebble layer, the
service, the per-requirer categories) and the ``download-client`` relations to the whole
current state. The API key lives in the owned secret ``sabnzbd-api-key``; Radarr and
Sonarr get its ID. With a ready ``vpn-gateway`` SABnzbd talks through Gluetun's SOCKS5
proxy (though its downloader resolves news-server names with the cluster's DNS first,
outside the proxy: sabnzbd/downloader.py ``request_addrinfo``); with ``require-vpn`` and
no usable gateway the service is stopped (fail closed). Behind an ``ingress`` (traefik-k8s)
SABnzbd serves under the URL's path (``url_base``, read at start: a change restarts it),
accepts the external host name (``host_whitelist``) and publishes its in-cluster URL
with that path (:class:`charmarr_common.service.WebIngress`).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

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
from ops import pebble

from charmarr_common.charm import CharmarrCharm, Report, VpnConfig
from charmarr_common.download_clients import report_category_requests
from charmarr_common.errors import CharmarrError, WaitingError
from charmarr_common.http import WorkloadUnreachableError
from charmarr_common.k8s import PodPatcher, ensure_media_volume
from charmarr_common.network_policy import KillSwitch
from charmarr_common.rotation import generate_token
from charmarr_common.service import WebIngress
from charmarr_common.vpn import VpnDecision, decide, read_gateway, with_kill_switch
from charmarr_common.workload import (
    answers,
    ensure_layer,
    poll,
    pull_text,
    push_if_changed,
    service_url,
    take_ownership,
)
from charmarr_interfaces.download_client import DownloadClientProvider
from charmarr_interfaces.secret_ids import OwnedSecret, OwnedState
from charmarr_interfaces.vpn_gateway import VpnGatewayRequirer

logger = logging.getLogger(__name__)

LABEL = "sabnzbd-api-key"
API_KEY = "api-key"
READY_ATTEMPTS = 20
READY_INTERVAL = 1.0


class SabnzbdCharm(CharmarrCharm):
    """SABnzbd on Kubernetes, wired to Radarr/Sonarr by secret ID."""

    config_type = VpnConfig
    workload = CONTAINER
    ports = (PORT,)

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._pod = PodPatcher(self)
        self._kill_switch = KillSwitch(self)
        self._secret = OwnedSecret(
            self, LABEL, lambda: {API_KEY: generate_token()}, description="SABnzbd API key"
        )
        self.download_clients = DownloadClientProvider(self)
        self.vpn = VpnGatewayRequirer(self)
        self.rotate_with(rotate=self._rotate_key, action_label=LABEL)
        self.converge_with(service=SERVICE, probe=self._answers)
        self.ingress = WebIngress(self, port=PORT, internal_url=self._url)

    def owned_secrets(self) -> list[OwnedSecret]:
        """The API key."""
        return [self._secret]

    def standby_layers(self) -> dict[str, tuple[str, pebble.LayerDict]]:
        """SABnzbd's service and checks."""
        return {CONTAINER: (SERVICE, layer())}

    def _answers(self) -> bool:
        """The anonymous ``mode=version`` answers."""
        return answers(SabnzbdClient(LOCAL_URL, "").version)

    def _url(self) -> str:
        """The in-cluster URL, under the ingress's path (SABnzbd serves at / too)."""
        return service_url(self, PORT) + self.ingress.base_path

    # -- reconcile ----------------------------------------------------------------------------

    def reconcile(self) -> None:
        """The holistic reconcile, then the ingress request (a standby's unit data too)."""
        super().reconcile()
        self.ingress.publish()

    def converge(self, report: Report) -> None:
        """The key secret, its publication, the media volume, then the workload."""
        state = self.ensure_owned(self._secret, API_KEY)
        key = state.content[API_KEY]
        self._publish(state)
        report.attempt(ensure_media_volume, self._pod, self, CONTAINER)
        decision, proxy = self._vpn(self.refresh)
        if decision.problem is not None:
            report.add(decision.problem)
        # The network-level kill switch before SABnzbd may run (fail closed).
        decision, problem = with_kill_switch(
            self, self._kill_switch, decision, require_vpn=self.typed_config.require_vpn
        )
        if problem is not None:
            report.add(problem)
        try:
            self._converge_workload(key, decision.allow_downloads, proxy, report)
        except (ops.pebble.ChangeError, ops.pebble.APIError) as e:
            logger.warning("Pebble refused a change to sabnzbd: %s", type(e).__name__)
            raise CharmarrError(
                "sabnzbd did not start: see "
                f"juju ssh --container {CONTAINER} {self.unit.name} pebble logs {SERVICE}"
            ) from None
        if decision.note:
            report.note(decision.note)
        report.add(*self.ingress.problems())
        note = self.ingress.note()
        if note:
            report.note(note)

    def _publish(self, state: OwnedState) -> None:
        """Grant the key secret to each download-client relation and publish its ID."""
        if self.unit.is_leader():
            self.download_clients.publish_credentials(state, url=self._url(), kind="sabnzbd")

    def _vpn(self, refresh: bool) -> tuple[VpnDecision, str | None]:
        """Whether SABnzbd may download, and the wanted ``socks5_proxy_url``.

        The proxy is "" without a gateway and None (leave as is) when the gateway's data
        cannot be read.
        """
        require_vpn = self.typed_config.require_vpn
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

    def _converge_workload(
        self, key: str, allowed: bool, proxy: str | None, report: Report
    ) -> None:
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
        wanted = self._ini(current, key, proxy)
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
        self._converge_categories(SabnzbdClient(LOCAL_URL, key), container, report)

    def _push_ini(self, container: ops.Container, wanted: str, current: str | None) -> None:
        push_if_changed(
            container, INI_PATH, wanted, current=current, user_id=USER_ID, group_id=GROUP_ID
        )

    def _ini(self, current: str | None, key: str, proxy: str | None) -> str:
        """sabnzbd.ini with ``key``, ``proxy`` (None: as it is), host names and base path.

        ``current`` itself when nothing changes.
        """
        return render_ini(
            current,
            api_key=key,
            whitelist=self._whitelist(),
            proxy_url=proxy,
            url_base=self.ingress.base_path,
        )

    def _whitelist(self) -> list[str]:
        number = int(self.unit.name.rsplit("/", 1)[1])
        names = host_whitelist(self.app.name, self.model.name, number)
        # SABnzbd refuses a Host it does not know (interface.py check_hostname): the
        # ingress passes the browser's, its external host name.
        external = urlsplit(self.ingress.url or "").hostname
        return [*names, external] if external and external not in names else names

    def _converge_categories(
        self, client: SabnzbdClient, container: ops.Container, report: Report
    ) -> None:
        """Create each requirer's category; delete managed orphans; never touch the user's."""
        requests = self.download_clients.category_requests()
        report_category_requests(requests, report)
        wanted = {name: category_dir(name) for name in requests.categories}
        try:
            # A relation with unreadable data is not gone: keep what it may still use.
            result = converge_categories(client, wanted, delete=requests.complete)
        except ApiKeyRefusedError:
            # sabnzbd.ini carries the secret's key (written above), so the running SABnzbd
            # holds another one: restart it to load the file.
            container.restart(SERVICE)
            raise WaitingError("restarting sabnzbd to load its API key") from None
        if result.foreign:
            report.add(
                CharmarrError(
                    f"category {', '.join(result.foreign)} exists in SABnzbd with another "
                    "folder and is left as the user's: delete or rename it in SABnzbd"
                )
            )
        if result.served:
            report.note(f"categories: {', '.join(result.served)}")

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
            wanted = self._ini(current, new, None)
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
