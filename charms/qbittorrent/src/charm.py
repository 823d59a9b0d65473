#!/usr/bin/env python3
"""qbittorrent-k8s: qBittorrent with generated, rotated WebUI credentials and a VPN by default.

One holistic reconcile per hook (see CONTRIBUTING.md):

1. the leader keeps the ``qbittorrent-credentials`` secret (username, password) and its
   rotate policy; every unit reads it;
2. the leader grants it to every ``download-client`` relation and publishes the URL,
   kind and secret ID;
3. the VPN decision: with ``require-vpn`` and no connected gateway the daemon is stopped
   (fail closed) and the Pebble service is not started on boot either;
4. ``qBittorrent.conf`` carries the PBKDF2 hash of the secret's password; the hash is
   verified, not compared, so it is rewritten (with the service stopped) only when the
   password differs;
5. through the WebUI API: automatic torrent management with the default save path
   ``/data/downloads`` (so Radarr's and Sonarr's category-only adds land in their
   category's folder), the proxy preferences follow the gateway, and each requirer gets
   its category under ``/data/downloads/<category>``; managed orphans go.

Behind an ``ingress`` (traefik-k8s) the provider strips the path prefix: qBittorrent has
no base path setting, and its web UI links relative to the page, so its URL ends in ``/``
(:class:`charmarr_common.service.WebIngress`).

Rotation (``secret-rotate`` and ``rotate-credentials``) changes the password through the
running app and confirms it before the new revision is published; with the app down it
rewrites the conf, restarts and confirms instead.
"""

from __future__ import annotations

import logging

import ops
from _qbittorrent import config as conf
from _qbittorrent import desired
from _qbittorrent.api import (
    LoginRejectedError,
    QBittorrentClient,
    WorkloadUnreachableError,
    change_password,
    confirm_password,
    login_page_answers,
    wait_until_answering,
)
from _qbittorrent.layer import CONFIG_DIR, GROUP_ID, PORT, SERVICE, USER_ID, pebble_layer
from ops import pebble

from charmarr_common import workload
from charmarr_common.charm import CharmarrCharm, Report, VpnConfig
from charmarr_common.download_clients import report_category_requests
from charmarr_common.errors import CharmarrError, WaitingError
from charmarr_common.k8s import PodPatcher, ensure_media_volume
from charmarr_common.network_policy import KillSwitch
from charmarr_common.rotation import generate_token
from charmarr_common.service import WebIngress
from charmarr_common.vpn import VpnDecision, decide, read_gateway, with_kill_switch
from charmarr_interfaces.download_client import (
    DownloadClientProvider,
)
from charmarr_interfaces.secret_ids import OwnedSecret, OwnedState
from charmarr_interfaces.vpn_gateway import Gateway, VpnGatewayRequirer

logger = logging.getLogger(__name__)

CONTAINER = "qbittorrent"
LOCAL_URL = f"http://localhost:{PORT}"
SECRET_LABEL = "qbittorrent-credentials"
USERNAME = "admin"

RESTART_TIMEOUT = 10.0
"""Seconds a rotation with the app down waits for qBittorrent to answer after a restart."""


def _generate_credentials() -> dict[str, str]:
    return {"username": USERNAME, "password": generate_token(16)}


class QBittorrentCharm(CharmarrCharm):
    """Charm the qBittorrent BitTorrent client."""

    config_type = VpnConfig
    workload = CONTAINER
    ports = (PORT,)

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._downloads = DownloadClientProvider(self)
        self._vpn = VpnGatewayRequirer(self)
        self._pod = PodPatcher(self)
        self._kill_switch = KillSwitch(self)
        self._credentials = OwnedSecret(
            self,
            SECRET_LABEL,
            _generate_credentials,
            description="qBittorrent WebUI credentials (username, password)",
        )
        self.rotate_with(
            rotate=self._rotate, action_label=SECRET_LABEL, restore=self._restore_password
        )
        self.converge_with(service=SERVICE, probe=lambda: login_page_answers(LOCAL_URL))
        # qBittorrent has no base path setting: the ingress strips its prefix.
        self.ingress = WebIngress(
            self,
            port=PORT,
            internal_url=lambda: workload.service_url(self, PORT),
            serves_base_path=False,
        )

    def owned_secrets(self) -> list[OwnedSecret]:
        """The WebUI credentials."""
        return [self._credentials]

    def standby_layers(self) -> dict[str, tuple[str, pebble.LayerDict]]:
        """QBittorrent's service and checks."""
        return {CONTAINER: (SERVICE, pebble_layer(True))}

    def pebble_problem(self, error: Exception) -> CharmarrError:
        """Pebble refusing a request is retried."""
        if isinstance(error, (pebble.APIError, pebble.ChangeError)):
            return WaitingError("Pebble refused a request; retrying later")
        return super().pebble_problem(error)

    # ------------------------------------------------------------------------------------
    # Reconcile
    # ------------------------------------------------------------------------------------

    def reconcile(self) -> None:
        """The holistic reconcile, then the ingress request (a standby's unit data too)."""
        super().reconcile()
        self.ingress.publish()

    def converge(self, report: Report) -> None:
        """Media volume, VPN and kill switch, credentials, conf, layer, preferences, categories."""
        # Bad options are reported but never stop the VPN rule from being enforced.
        config: VpnConfig = self.typed_config
        report.attempt(ensure_media_volume, self._pod, self, CONTAINER)
        gateway, decision, keep_proxy = self._vpn_decision(config.require_vpn, report)
        # The network-level kill switch before the client may run (fail closed).
        decision, problem = with_kill_switch(
            self, self._kill_switch, decision, require_vpn=config.require_vpn
        )
        if problem is not None:
            report.add(problem)
        container = self.unit.get_container(CONTAINER)
        try:
            state = self.ensure_owned(self._credentials, "username", "password")
            username, password = state.content["username"], state.content["password"]
        except CharmarrError:
            if not decision.allow_downloads:
                _stop_if_running(container)
            raise

        self._publish(state)
        running = self._ensure_workload(container, username, password, decision.allow_downloads)
        if not decision.allow_downloads:
            return
        if not running:
            raise WaitingError("waiting for qbittorrent to start")

        client = QBittorrentClient(LOCAL_URL)
        client.login(username, password)
        version = client.version()
        changes = desired.preference_changes(
            client.preferences(), version, gateway, keep_proxy=keep_proxy
        )
        if changes:
            client.set_preferences(changes)
            logger.info("preferences updated: %s", ", ".join(sorted(changes)))
        report.note(decision.note or "no VPN (require-vpn=false)")
        self._reconcile_categories(client, report)
        report.add(*self.ingress.problems())
        note = self.ingress.note()
        if note:
            report.note(note)

    def _publish(self, state: OwnedState) -> None:
        """Grant the secret to each download-client relation and publish (leader only)."""
        if self.unit.is_leader():
            url = workload.service_url(self, PORT)
            self._downloads.publish_credentials(state, url=url, kind="qbittorrent")

    def _vpn_decision(
        self, require_vpn: bool, report: Report
    ) -> tuple[Gateway | None, VpnDecision, bool]:
        """(usable gateway, decision, keep the proxy preferences as they are)."""
        try:
            gateway = read_gateway(self, self._vpn, refresh=self.refresh)
        except CharmarrError as e:
            if require_vpn:
                report.add(e)
                return None, VpnDecision(False, e), True
            # Downloads may go on without the VPN; leave the proxy as it is until the
            # gateway's data can be read again.
            report.add(e)
            return None, VpnDecision(True, None, "VPN unusable"), True
        decision = decide(self.app.name, require_vpn, gateway)
        if decision.problem is not None:
            report.add(decision.problem)
        return gateway, decision, False

    def _ensure_workload(
        self, container: ops.Container, username: str, password: str, allowed: bool
    ) -> bool:
        """Conf, layer and service state; returns whether the service runs.

        Three Pebble calls when nothing changes (plan, services, conf); the conf is
        rewritten only with the service stopped, because qBittorrent rewrites its conf
        from memory on exit.
        """
        layer = pebble_layer(allowed)
        plan = container.get_plan()
        services = container.get_services(SERVICE)
        running = SERVICE in services and services[SERVICE].is_running()
        current = workload.pull_text(container, conf.CONF_PATH)
        if current is None and not workload.take_ownership(
            container, CONFIG_DIR, USER_ID, GROUP_ID
        ):
            # Before the first start, as the image's init does; retried until it worked.
            raise WaitingError(f"waiting to take ownership of {CONFIG_DIR}")
        verified = self.leader_memo.values  # a verified hash is not derived again
        if not conf.credentials_match(current, username, password, verified=verified):
            if running:
                container.stop(SERVICE)
                running = False
            self._push_conf(container, conf.render(current, username, password))
            logger.info("wrote the WebUI credentials to qBittorrent.conf")
        layer_changed = workload.layer_differs(plan, layer)
        if layer_changed:
            container.add_layer(SERVICE, layer, combine=True)
        if allowed:
            if layer_changed:
                container.replan()
                running = True
            elif not running:
                container.start(SERVICE)
                running = True
        elif running:
            container.stop(SERVICE)
            logger.info("qbittorrent stopped: downloads are not allowed without the VPN")
            running = False
        return running

    def _push_conf(self, container: ops.Container, text: str) -> None:
        container.push(
            conf.CONF_PATH,
            text,
            make_dirs=True,
            user_id=USER_ID,
            group_id=GROUP_ID,
            permissions=0o600,
        )

    def _reconcile_categories(self, client: QBittorrentClient, report: Report) -> None:
        requests = self._downloads.category_requests()
        report_category_requests(requests, report)
        wanted = set(requests.categories)
        plan = desired.plan_categories(wanted, client.categories())
        for name, path in plan.create.items():
            client.create_category(name, path)
            logger.info("created category %s", name)
        # A relation with unreadable data is not gone: keep what it may still use.
        if plan.delete and requests.complete:
            client.remove_categories(plan.delete)
            logger.info("removed categories %s", ", ".join(plan.delete))
        if wanted:
            report.note(f"categories: {', '.join(sorted(wanted))}")
        if plan.user_owned:
            # As SABnzbd does: downloads would land outside /data/downloads/<category>.
            report.add(
                CharmarrError(
                    f"category {', '.join(sorted(plan.user_owned))} exists in qBittorrent "
                    "with another folder and is left as the user's: delete or rename it "
                    "in qBittorrent"
                )
            )

    # ------------------------------------------------------------------------------------
    # Rotation
    # ------------------------------------------------------------------------------------

    def _rotate(self, label: str, current: dict[str, str]) -> dict[str, str]:
        """Apply a new password to qBittorrent, confirm it, return the new content.

        Through the API when the app answers (no restart); otherwise by rewriting the
        conf and restarting. Nothing is published unless qBittorrent accepts the new
        password and refuses the old one.
        """
        try:
            return self._rotate_password(label, current)
        except (pebble.ConnectionError, pebble.APIError, pebble.ChangeError):
            raise WaitingError("the qbittorrent container did not answer Pebble") from None

    def _rotate_password(self, label: str, current: dict[str, str]) -> dict[str, str]:
        username, old = _credentials_of(current)
        new = generate_token(16)
        container = self.unit.get_container(CONTAINER)
        try:
            change_password(LOCAL_URL, username, old, new)
        except WorkloadUnreachableError:
            self._rotate_offline(container, username, old, new)
        except LoginRejectedError:
            raise CharmarrError(
                "qbittorrent refused the current password; the next hook re-applies it"
            ) from None
        else:
            confirm_password(LOCAL_URL, username, old, new)
            self._keep_conf_in_step(container, username, new)
        logger.info("qbittorrent accepted the new password of %s", label)
        return {"username": username, "password": new}

    def _keep_conf_in_step(self, container: ops.Container, username: str, new: str) -> None:
        """Write our hash of the password qBittorrent now runs with (best effort).

        qBittorrent writes its own hash of it to the conf in a moment; ours now spares the
        next reconcile a restart. Both hashes verify the same password. The password is
        already live, so a Pebble failure here must not stop it being published.
        """
        try:
            current = workload.pull_text(container, conf.CONF_PATH)
            if not conf.credentials_match(current, username, new):
                self._push_conf(container, conf.render(current, username, new))
        except (pebble.ConnectionError, pebble.APIError, pebble.PathError) as e:
            logger.warning("qBittorrent.conf not updated after the rotation: %s", type(e).__name__)

    def _restore_password(
        self, label: str, published: dict[str, str], applied: dict[str, str] | None
    ) -> None:
        """After an interrupted rotation, make qBittorrent take the published password again.

        If the app took the new password, it is changed back the same way, live. Otherwise
        (or if that fails) and the running app refuses the published password, the conf is
        rewritten and the app restarted on it: the reconcile compares only the conf, and
        qBittorrent may run with a password its conf does not show yet.
        """
        username, password = _credentials_of(published)
        if applied is not None:
            try:
                change_password(LOCAL_URL, username, applied["password"], password)
                logger.info("qbittorrent put back on the published password of %s", label)
                return
            except CharmarrError:
                pass
        try:
            QBittorrentClient(LOCAL_URL).login(username, password)
            return
        except LoginRejectedError:
            pass
        except WorkloadUnreachableError:
            return  # down: the reconcile's conf check is what it reads at start
        # It answers, so it runs (and was allowed to): restart it on the published password.
        container = self.unit.get_container(CONTAINER)
        current = workload.pull_text(container, conf.CONF_PATH)
        container.stop(SERVICE)
        self._push_conf(container, conf.render(current, username, password))
        container.start(SERVICE)
        logger.info("qbittorrent restarted on the published password of %s", label)

    def _rotate_offline(self, container: ops.Container, username: str, old: str, new: str) -> None:
        """Rotate with the app not answering: conf first, restart, confirm."""
        services = container.get_services(SERVICE)
        running = SERVICE in services and services[SERVICE].is_running()
        plan = container.get_plan()
        fail_closed = SERVICE in plan.services and plan.services[SERVICE].startup == "disabled"
        if running:
            container.stop(SERVICE)
        current = workload.pull_text(container, conf.CONF_PATH)
        self._push_conf(container, conf.render(current, username, new))
        if fail_closed:
            # Stopped on purpose (no VPN): qBittorrent reads the conf when allowed to
            # start again. Confirm what it will read.
            if not conf.credentials_match(
                workload.pull_text(container, conf.CONF_PATH), username, new
            ):
                raise CharmarrError("qBittorrent.conf did not keep the new password")
            return
        container.start(SERVICE)
        if not wait_until_answering(LOCAL_URL, RESTART_TIMEOUT):
            raise WaitingError("qbittorrent did not answer after the restart; old password kept")
        confirm_password(LOCAL_URL, username, old, new)


# ----------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------


def _stop_if_running(container: ops.Container) -> None:
    services = container.get_services(SERVICE)
    if SERVICE in services and services[SERVICE].is_running():
        container.stop(SERVICE)
        logger.info("qbittorrent stopped: downloads are not allowed without the VPN")


def _credentials_of(content: dict[str, str]) -> tuple[str, str]:
    username = content.get("username") or ""
    password = content.get("password") or ""
    if not username or not password:
        raise CharmarrError(
            f"{SECRET_LABEL} lacks username or password: "
            "juju run qbittorrent/leader rotate-credentials"
        )
    return username, password


if __name__ == "__main__":  # pragma: nocover
    ops.main(QBittorrentCharm)
