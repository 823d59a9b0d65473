#!/usr/bin/env python3
"""The plex-k8s charm: Plex Media Server, claimed with a Juju user secret.

Every event runs one holistic reconcile (:meth:`PlexCharm.converge`):

1. plan the Plex service under Pebble (directories on the ``config`` storage first);
2. ask the server's anonymous ``/identity`` whether it is claimed;
3. if not, read the claim token from the ``claim-token-secret`` user secret, exchange it
   with plex.tv for the server's token, write that into ``Preferences.xml`` (every other
   setting kept) and restart Plex; a token plex.tv refused is not tried again until the
   secret changes (``juju update-secret`` fires ``secret-changed``);
4. on the leader, once claimed, keep the owned secret ``plex-token`` equal to the token in
   ``Preferences.xml`` (a new revision only when Plex's token changed), grant it to each
   ``media-server`` relation and publish Plex's URL and the secret ID;
5. remote access (:mod:`_plex.remote`): the ``<app>-remote`` Service that
   ``remote-access`` asks for, and the URLs Plex advertises (``customConnections``,
   rewritten while Plex is stopped, only when they differ).

A claimed server never uses the claim token again. Neither token is ever put into the
Pebble environment, a log line, a status or a databag.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

import ops
from _plex import api, remote, workload
from _plex.preferences import MACHINE_ID, PROCESSED_ID, Preferences
from ops import pebble

from charmarr_common.charm import CharmarrCharm, Report
from charmarr_common.errors import CharmarrError, WaitingError
from charmarr_common.http import WorkloadUnreachableError
from charmarr_common.k8s import KubernetesApi, PodPatcher, ensure_media_volume
from charmarr_common.rotation import RevisionPruning
from charmarr_common.workload import ensure_layer, pull_text, service_url, take_ownership
from charmarr_interfaces.media_server import TOKEN, MediaServerProvider
from charmarr_interfaces.secret_ids import (
    OwnedSecret,
    SecretError,
    read_user_secret,
)

logger = logging.getLogger(__name__)

CLAIM_OPTION = "claim-token-secret"
CLAIM_KEY = "claim-token"
TOKEN_LABEL = "plex-token"
CLAIM_URL = "https://plex.tv/claim"

CONFIRM_ATTEMPTS = 15
CONFIRM_DELAY = 2.0
"""After writing the token, poll /identity this often, this far apart, for claimed="1"."""
START_ATTEMPTS = 10
START_DELAY = 1.0
"""After the first start, poll /identity this often, this far apart, before giving up for now."""


class ClaimFailedError(CharmarrError):
    """plex.tv refused the claim token; a fresh one is needed."""


def _fingerprint(value: str) -> str:
    """A one-way fingerprint of a claim token, to remember that it failed without storing it."""
    return hashlib.sha256(value.encode()).hexdigest()


class PlexCharm(CharmarrCharm):
    """Plex Media Server on Kubernetes."""

    _stored = ops.StoredState()
    workload = workload.CONTAINER
    ports = (api.PORT,)

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self._stored.set_default(
            failed_claim="", failed_reason="", remote_mode="none", advertised=""
        )
        self._server_token = ""
        self.media_server = MediaServerProvider(self)
        self._pod = PodPatcher(self)
        self.token_secret = OwnedSecret(
            self,
            TOKEN_LABEL,
            lambda: {TOKEN: self._server_token},
            description="Plex Media Server token (follows the token Plex holds)",
        )
        # plex-token is never rotated by the charm, but its old revisions are pruned.
        self._pruning = RevisionPruning(self, self.owned_secret)

    def owned_secrets(self) -> list[OwnedSecret]:
        """The server token Plex holds, shared with Radarr and Sonarr."""
        return [self.token_secret]

    def standby_layers(self) -> dict[str, tuple[str, pebble.LayerDict]]:
        """Plex's service and checks."""
        return {workload.CONTAINER: (workload.LAYER, workload.layer())}

    def pebble_problem(self, error: Exception) -> CharmarrError:
        """Pebble in the plex container did not answer or refused a call."""
        if isinstance(error, pebble.ConnectionError):
            return WaitingError("waiting for Pebble in the plex container")
        return WaitingError(
            f"Pebble error in the plex container ({type(error).__name__}); retrying"
        )

    # ----------------------------------------------------------------------------------------
    # Reconcile
    # ----------------------------------------------------------------------------------------

    def converge(self, report: Report) -> None:
        """The media volume; the service; the claim while unclaimed; the token's publication."""
        report.attempt(ensure_media_volume, self._pod, self, workload.CONTAINER)
        container = self.unit.get_container(workload.CONTAINER)
        started = self._ensure_service(container)
        identity = self._identity(container, just_started=started)
        prefs = Preferences.parse(pull_text(container, workload.PREFERENCES))
        if not identity.claimed:
            prefs = self._claim(container, identity, prefs)
        if self.unit.is_leader():
            self._share_token(prefs.token)
        report.attempt(self._remote_access, container, prefs, report)
        if self.config.get(CLAIM_OPTION):
            report.note(f"claimed; {CLAIM_OPTION} is no longer needed and may be removed")

    def _ensure_service(self, container: ops.Container) -> bool:
        """Plan the service; before its first start, create Plex's directories as 1000:1000.

        Returns:
            True if the service was (re)planned in this hook.
        """
        if workload.SERVICE not in container.get_plan().services:
            for path in workload.DIRECTORIES:
                container.make_dir(
                    path,
                    make_parents=True,
                    user_id=workload.USER_ID,
                    group_id=workload.GROUP_ID,
                )
            self._prepare_transcoder(container)
        if ensure_layer(container, workload.LAYER, workload.layer()):
            logger.info("planned the plex service")
            return True
        return False

    def _prepare_transcoder(self, container: ops.Container) -> None:
        """What the image's first-run script does for the transcoder, which Pebble skips."""
        container.make_dir(workload.TRANSCODE_DIR, make_parents=True)
        take_ownership(container, workload.TRANSCODE_DIR, workload.USER_ID, workload.GROUP_ID)
        prefs = Preferences.parse(pull_text(container, workload.PREFERENCES))
        if prefs.ensure_transcoder_temp(workload.TRANSCODE_DIR):
            _push_preferences(container, prefs)

    def _identity(self, container: ops.Container, *, just_started: bool) -> api.Identity:
        """The server's identity; starts a stopped service when nothing answers.

        Right after (re)planning, give Plex a few seconds to come up, so that a claim token
        configured at deploy time is used while it is still valid.
        """
        try:
            return api.get_identity()
        except WorkloadUnreachableError:
            if just_started:
                identity = api.wait_for_identity(START_ATTEMPTS, START_DELAY)
                if identity is not None:
                    return identity
            service = container.get_services(workload.SERVICE).get(workload.SERVICE)
            if service is not None and not service.is_running():
                container.start(workload.SERVICE)
                logger.info("started the plex service, which was not running")
            raise

    # ----------------------------------------------------------------------------------------
    # The claim
    # ----------------------------------------------------------------------------------------

    def _claim(
        self, container: ops.Container, identity: api.Identity, prefs: Preferences
    ) -> Preferences:
        """Claim the unclaimed server with the user's claim token; return the new preferences.

        Raises:
            SecretError: the claim-token secret is unset, not granted, gone or lacks its key.
            ClaimFailedError: plex.tv refused this token (now or in an earlier hook).
            PlexTvUnreachableError: plex.tv did not answer; retried on the next hook.
            WaitingError: claimed, but the restarted server has not confirmed it yet.
        """
        claim_token = self._read_claim_token()
        uri = str(self.config.get(CLAIM_OPTION))
        fingerprint = _fingerprint(claim_token)
        if fingerprint == self._stored.failed_claim:
            raise ClaimFailedError(self._claim_failed(uri, str(self._stored.failed_reason)))
        client_identifier = prefs.ensure_identifiers()
        try:
            server_token = api.exchange_claim_token(
                claim_token, client_identifier, identity.version
            )
        except api.ClaimRejectedError as e:
            self._stored.failed_claim = fingerprint
            self._stored.failed_reason = e.message
            logger.warning("claim failed: %s", e.message)
            raise ClaimFailedError(self._claim_failed(uri, e.message)) from None
        self._stored.failed_claim = ""
        self._stored.failed_reason = ""
        prefs = self._write_server_token(container, prefs, server_token)
        logger.info("plex.tv accepted the claim; plex restarted with its server token")
        if api.wait_for_identity(CONFIRM_ATTEMPTS, CONFIRM_DELAY, claimed=True) is None:
            raise WaitingError("claimed with plex.tv; waiting for plex to restart and confirm")
        return prefs

    def _read_claim_token(self) -> str:
        try:
            # Only while unclaimed, which is rare: always take the latest token.
            content = read_user_secret(
                self, CLAIM_OPTION, [CLAIM_KEY], example=f"{CLAIM_KEY}=<token>", refresh=True
            )
        except SecretError as e:
            if not self.config.get(CLAIM_OPTION):
                raise SecretError(
                    f"unclaimed: get a claim token at {CLAIM_URL} "
                    f"(it lasts about 4 minutes), then {e.message}"
                ) from None
            raise
        return content[CLAIM_KEY]

    @staticmethod
    def _claim_failed(uri: str, reason: str) -> str:
        return (
            f"claim failed: {reason}; claim tokens last about 4 minutes: get a fresh one at "
            f"{CLAIM_URL} and run juju update-secret {uri} {CLAIM_KEY}=<token>"
        )

    def _write_server_token(
        self, container: ops.Container, prefs: Preferences, server_token: str
    ) -> Preferences:
        """Stop Plex, store its token in Preferences.xml (all else kept), start it again."""

        def change(fresh: Preferences) -> None:
            for key in (MACHINE_ID, PROCESSED_ID):
                if not fresh.attributes.get(key):
                    fresh.attributes[key] = prefs.attributes[key]
            fresh.attributes["PlexOnlineToken"] = server_token

        return _rewrite_preferences(container, change)

    # ----------------------------------------------------------------------------------------
    # Remote access (leader)
    # ----------------------------------------------------------------------------------------

    def _remote_access(self, container: ops.Container, prefs: Preferences, report: Report) -> None:
        """The ``<app>-remote`` Service as ``remote-access`` says; the URLs Plex advertises."""
        mode = remote.parse_mode(self.config.get(remote.REMOTE_ACCESS, "none"))
        urls = remote.parse_urls(self.config.get(remote.ADVERTISE_URLS, ""))
        reach = None
        # No Kubernetes call while remote access stays off (a converged hook makes none).
        if mode != "none" or self._stored.remote_mode != "none":
            reach = remote.ensure_service(KubernetesApi(self.model.name), self.app.name, mode)
            self._stored.remote_mode = mode
        wanted = remote.advertised(urls, reach)
        self._advertise(container, prefs, wanted)
        name = remote.service_name(self.app.name)
        if mode == "nodeport" and not urls:
            port = reach.node_port if reach is not None and reach.node_port else "<node port>"
            raise CharmarrError(
                f"remote-access nodeport: set {remote.ADVERTISE_URLS}=http://<node address>:"
                f"{port} (Service {name}'s node port, reachable by your clients)"
            )
        if mode == "loadbalancer" and (reach is None or reach.url is None):
            raise WaitingError(f"waiting for the cloud to give Service {name} an address")
        if wanted:
            report.note(f"remote clients connect at {wanted.replace(',', ', ')}")

    def _advertise(self, container: ops.Container, prefs: Preferences, wanted: str) -> None:
        """``customConnections`` = ``wanted``, Plex restarted only if it changes.

        A value the user set in Plex's own settings while the charm advertises nothing
        is left alone; one the charm wrote is removed when nothing is to be advertised.
        """
        current = prefs.attributes.get(remote.CUSTOM_CONNECTIONS, "")
        if current == wanted or (not wanted and current != self._stored.advertised):
            self._stored.advertised = wanted
            return

        def change(fresh: Preferences) -> None:
            if wanted:
                fresh.attributes[remote.CUSTOM_CONNECTIONS] = wanted
            else:
                fresh.attributes.pop(remote.CUSTOM_CONNECTIONS, None)

        _rewrite_preferences(container, change)
        self._stored.advertised = wanted
        logger.info("plex advertises %s; restarted", wanted or "no custom URL")

    # ----------------------------------------------------------------------------------------
    # The plex-token secret and the media-server relations (leader)
    # ----------------------------------------------------------------------------------------

    def _share_token(self, server_token: str) -> None:
        """Keep plex-token equal to Plex's token; grant and publish it on every relation."""
        if not server_token:
            raise WaitingError("plex says it is claimed; waiting for it to save PlexOnlineToken")
        self._server_token = server_token
        state = self.token_secret.ensure(None)
        if state.content.get(TOKEN) != server_token:
            revision = self.token_secret.publish(state, {TOKEN: server_token})
            logger.info("%s: revision %s (Plex's token changed)", TOKEN_LABEL, revision)
        from charmarr_interfaces.media_server.models import MediaServerProviderData

        url = service_url(self, api.PORT)
        for relation in self.media_server.relations:
            self.media_server.publish_secret_id(
                relation,
                "token_secret_id",
                state,
                lambda secret_id: MediaServerProviderData(url=url, token_secret_id=secret_id),
            )


def _rewrite_preferences(
    container: ops.Container, change: Callable[[Preferences], None]
) -> Preferences:
    """Stop Plex, apply ``change`` to Preferences.xml (all else kept), start it again.

    Plex writes its settings back when it stops, so the file is read once it has.
    """
    container.stop(workload.SERVICE)
    try:
        fresh = Preferences.parse(pull_text(container, workload.PREFERENCES))
        change(fresh)
        _push_preferences(container, fresh)
    finally:
        container.start(workload.SERVICE)
    return fresh


def _push_preferences(container: ops.Container, prefs: Preferences) -> None:
    """Write Preferences.xml as Plex keeps it: the plex user's, readable by it alone."""
    container.push(
        workload.PREFERENCES,
        prefs.render(),
        make_dirs=True,
        user_id=workload.USER_ID,
        group_id=workload.GROUP_ID,
        permissions=0o600,
    )


if __name__ == "__main__":  # pragma: nocover
    ops.main(PlexCharm)
