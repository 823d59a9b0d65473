"""The claim: every status of the claim-token secret and of the exchange with plex.tv."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from typing import Any

import ops
import pytest
from ops import testing
from plex_wired import PROCESSED_ID, config_dir

from charmarr_testing import builders
from charmarr_testing.fake_plex import PLEX_ADDRESS, PLEX_TV_ADDRESS, FakePlexServer, FakePlexTv
from charmarr_testing.pytest_plugin import ungranted_secrets

APP = "plex-k8s"
WRITES = ("push", "add_layer", "replan", "restart", "start", "stop", "make_dir")

MEDIA = {"media-volume": "charmarr-media"}


def claim_secret(token: str, key: str = "claim-token") -> testing.Secret:
    """The user's claim-token secret (created by the user, granted to plex)."""
    return builders.granted_secret({key: token})


def media_server(app: str, relation_id: int | None = None) -> testing.Relation:
    return builders.media_server_from_arr(remote_app=app, relation_id=relation_id).relation


def prefs_attrs(unclaimed: Any) -> dict[str, str]:
    return dict(ET.fromstring(unclaimed.prefs.read_text()).attrib)


def plex_token(state: testing.State) -> testing.Secret:
    return state.get_secret(label="plex-token")


def blocked(state: testing.State) -> str:
    assert isinstance(state.unit_status, ops.BlockedStatus), state.unit_status
    return state.unit_status.message


def waiting(state: testing.State) -> str:
    assert isinstance(state.unit_status, ops.WaitingStatus), state.unit_status
    return state.unit_status.message


# ---------------------------------------------------------------------------------------------
# The claim-token secret
# ---------------------------------------------------------------------------------------------


def test_unclaimed_without_secret_says_how_to_claim(ctx, unclaimed, plex_tv):
    out = ctx.run(ctx.on.update_status(), unclaimed.state())

    message = blocked(out)
    assert "https://plex.tv/claim" in message
    assert "about 4 minutes" in message
    assert f"juju add-secret {APP}-claim-token-secret claim-token=<token>" in message
    assert f"juju grant-secret {APP}-claim-token-secret {APP}" in message
    assert f"juju config {APP} claim-token-secret=<secret-uri>" in message
    assert plex_tv.requests == []


def test_secret_added_later_claims_the_server(ctx, unclaimed, plex_tv, pebble):
    relations = [media_server("radarr"), media_server("sonarr")]
    before = ctx.run(ctx.on.update_status(), unclaimed.state(relations=relations))
    assert "unclaimed" in blocked(before)

    token = plex_tv.issue_claim_token()
    secret = claim_secret(token)
    state = dataclasses.replace(
        before,
        config={**MEDIA, "claim-token-secret": secret.id},
        secrets=[*before.secrets, secret],
    )
    pebble.clear()
    out = ctx.run(ctx.on.config_changed(), state)

    # plex.tv was asked once, as this server, with the user's claim token.
    assert len(plex_tv.exchanges) == 1
    exchange = plex_tv.exchanges[0]
    assert exchange.method == "POST"
    assert exchange.query == {"token": token}
    assert exchange.headers["X-Plex-Client-Identifier"] == PROCESSED_ID
    assert exchange.headers["X-Plex-Product"] == "Plex Media Server"
    assert exchange.headers["X-Plex-Provides"] == "server"
    assert plex_tv.claimed_by == [PROCESSED_ID]
    # Preferences.xml got the server token; every other setting kept, in order.
    attrs = prefs_attrs(unclaimed)
    assert attrs["PlexOnlineToken"] == plex_tv.server_token
    assert list(attrs)[:-1] == [k for k in list(attrs) if k != "PlexOnlineToken"]
    assert attrs["FriendlyName"] == "living-room"
    assert attrs["MachineIdentifier"] and attrs["ProcessedMachineIdentifier"] == PROCESSED_ID
    assert attrs["AcceptedEULA"] == "1" and attrs["PublishServerOnPlexOnlineKey"] == "1"
    # Plex was stopped before the write and started after it.
    assert pebble.index("stop") < pebble.index("push") < pebble.index("start")
    assert unclaimed.server.is_claimed
    # The server token is wrapped into plex-token, granted and published on both relations.
    owned = plex_token(out)
    assert owned.latest_content == {"token": plex_tv.server_token}
    assert owned.owner == "app"
    assert owned.rotate is None
    for relation in out.relations:
        assert relation.id in owned.remote_grants
        assert relation.local_app_data["token_secret_id"] == f'"{owned.id}"'
        assert relation.local_app_data["url"] == f'"http://{APP}.media.svc.cluster.local:32400"'
    assert out.unit_status == ops.ActiveStatus(
        "claimed; claim-token-secret is no longer needed and may be removed"
    )
    # Neither token went anywhere but the file and the owned secret.
    for layer in out.get_container("plex").layers.values():
        assert token not in layer.to_yaml() and plex_tv.server_token not in layer.to_yaml()


def test_claim_fills_in_missing_identifiers(ctx, fake_network, charm_module, plex_tv):
    root, prefs = config_dir('<?xml version="1.0" encoding="utf-8"?>\n<Preferences Foo="bar"/>\n')
    server = FakePlexServer(prefs)
    fake_network.add("localhost:32400", server)
    token = plex_tv.issue_claim_token()
    secret = claim_secret(token)
    from plex_wired import plex_container

    state = testing.State(
        leader=True,
        config={**MEDIA, "claim-token-secret": secret.id},
        containers=[plex_container(root)],
        secrets=[secret],
    )
    out = ctx.run(ctx.on.update_status(), state)

    attrs = dict(ET.fromstring(prefs.read_text()).attrib)
    assert attrs["Foo"] == "bar"
    assert len(attrs["ProcessedMachineIdentifier"]) == 40
    assert plex_tv.claimed_by == [attrs["ProcessedMachineIdentifier"]]
    assert attrs["PlexOnlineToken"] == plex_tv.server_token
    assert isinstance(out.unit_status, ops.ActiveStatus)


def test_claim_token_secret_not_granted(ctx, unclaimed, plex_tv, ungranted):
    secret = claim_secret(plex_tv.issue_claim_token())
    ungranted(secret.id)

    out = ctx.run(
        ctx.on.update_status(),
        unclaimed.state(config={**MEDIA, "claim-token-secret": secret.id}, secrets=[secret]),
    )

    assert blocked(out) == f"claim-token-secret not granted: juju grant-secret {secret.id} {APP}"
    assert plex_tv.requests == []


def test_claim_token_secret_granted_later_is_picked_up_on_update_status(ctx, unclaimed, plex_tv):
    secret = claim_secret(plex_tv.issue_claim_token())
    state = unclaimed.state(config={**MEDIA, "claim-token-secret": secret.id}, secrets=[secret])
    with ungranted_secrets(secret.id):
        before = ctx.run(ctx.on.update_status(), state)
    assert "not granted" in blocked(before)

    out = ctx.run(ctx.on.update_status(), before)

    assert len(plex_tv.exchanges) == 1
    assert isinstance(out.unit_status, ops.ActiveStatus)
    assert plex_token(out).latest_content == {"token": plex_tv.server_token}


def test_claim_token_secret_removed(ctx, unclaimed, plex_tv):
    gone = claim_secret("claim-gone-gone-gone")

    out = ctx.run(ctx.on.update_status(), unclaimed.state(config={"claim-token-secret": gone.id}))

    message = blocked(out)
    assert message.startswith(f"claim-token-secret {gone.id} not found")
    assert f"juju config {APP} claim-token-secret=<uri>" in message
    assert plex_tv.requests == []


def test_claim_token_secret_missing_key(ctx, unclaimed, plex_tv):
    secret = claim_secret(plex_tv.issue_claim_token(), key="token")

    out = ctx.run(
        ctx.on.update_status(),
        unclaimed.state(config={**MEDIA, "claim-token-secret": secret.id}, secrets=[secret]),
    )

    assert blocked(out) == (
        f"claim-token-secret lacks claim-token: juju update-secret {secret.id} claim-token=<value>"
    )
    assert plex_tv.requests == []


# ---------------------------------------------------------------------------------------------
# The exchange with plex.tv
# ---------------------------------------------------------------------------------------------


def test_expired_claim_token_blocks_with_the_update_secret_command(
    ctx, unclaimed, plex_tv, pebble
):
    token = plex_tv.issue_claim_token()
    plex_tv.expire(token)
    secret = claim_secret(token)
    state = unclaimed.state(config={**MEDIA, "claim-token-secret": secret.id}, secrets=[secret])

    out = ctx.run(ctx.on.update_status(), state)

    message = blocked(out)
    assert message.startswith("claim failed: plex.tv rejected the claim token (HTTP 404)")
    assert "about 4 minutes" in message
    assert "https://plex.tv/claim" in message
    assert f"juju update-secret {secret.id} claim-token=<token>" in message
    assert "PlexOnlineToken" not in unclaimed.prefs.read_text()
    assert not [c for c in pebble if c in ("push", "stop", "restart")]
    assert not [s for s in out.secrets if s.label == "plex-token"]

    # No retry loop: the same token is not sent again on later hooks.
    again = ctx.run(ctx.on.update_status(), out)
    assert len(plex_tv.exchanges) == 1
    assert blocked(again) == message


def test_secret_changed_retries_a_failed_claim(ctx, unclaimed, plex_tv):
    expired = plex_tv.issue_claim_token()
    plex_tv.expire(expired)
    secret = claim_secret(expired)
    failed = ctx.run(
        ctx.on.update_status(),
        unclaimed.state(config={**MEDIA, "claim-token-secret": secret.id}, secrets=[secret]),
    )
    assert blocked(failed).startswith("claim failed")

    fresh = plex_tv.issue_claim_token()
    updated = dataclasses.replace(secret, latest_content={"claim-token": fresh})
    state = dataclasses.replace(failed, secrets=[updated])
    out = ctx.run(ctx.on.secret_changed(updated), state)

    assert [r.query["token"] for r in plex_tv.exchanges] == [expired, fresh]
    assert isinstance(out.unit_status, ops.ActiveStatus)
    assert prefs_attrs(unclaimed)["PlexOnlineToken"] == plex_tv.server_token


def test_used_claim_token_is_rejected(ctx, unclaimed, plex_tv):
    token = plex_tv.issue_claim_token()
    plex_tv.tokens[token].used = True
    secret = claim_secret(token)

    out = ctx.run(
        ctx.on.update_status(),
        unclaimed.state(config={**MEDIA, "claim-token-secret": secret.id}, secrets=[secret]),
    )

    assert blocked(out).startswith("claim failed")


def test_plex_tv_unreachable_waits_and_retries(ctx, unclaimed, fake_network, clock):
    plex_tv = FakePlexTv(clock=clock)
    token = plex_tv.issue_claim_token()
    secret = claim_secret(token)
    state = unclaimed.state(config={**MEDIA, "claim-token-secret": secret.id}, secrets=[secret])

    out = ctx.run(ctx.on.update_status(), state)

    assert waiting(out) == "plex.tv unreachable for the claim; retrying on the next update-status"
    assert "PlexOnlineToken" not in unclaimed.prefs.read_text()

    fake_network.add(PLEX_TV_ADDRESS, plex_tv)
    retried = ctx.run(ctx.on.update_status(), out)
    assert len(plex_tv.exchanges) == 1
    assert isinstance(retried.unit_status, ops.ActiveStatus)


@pytest.mark.parametrize("fault", ["500", "down"])
def test_plex_tv_faults_wait(ctx, unclaimed, plex_tv, fault):
    plex_tv.fault = fault
    secret = claim_secret(plex_tv.issue_claim_token())

    out = ctx.run(
        ctx.on.update_status(),
        unclaimed.state(config={**MEDIA, "claim-token-secret": secret.id}, secrets=[secret]),
    )

    assert "retrying on the next update-status" in waiting(out)
    assert "plex.tv" in out.unit_status.message


def test_plex_tv_refusing_the_request_blocks(ctx, unclaimed, plex_tv):
    plex_tv.fault = "401"
    secret = claim_secret(plex_tv.issue_claim_token())

    out = ctx.run(
        ctx.on.update_status(),
        unclaimed.state(config={**MEDIA, "claim-token-secret": secret.id}, secrets=[secret]),
    )

    assert blocked(out).startswith("claim failed: plex.tv rejected the claim token (HTTP 401)")


def test_plex_tv_answer_without_token_blocks(ctx, unclaimed, plex_tv):
    plex_tv.fault = "garbage"
    secret = claim_secret(plex_tv.issue_claim_token())

    out = ctx.run(
        ctx.on.update_status(),
        unclaimed.state(config={**MEDIA, "claim-token-secret": secret.id}, secrets=[secret]),
    )

    assert blocked(out).startswith(
        "claim failed: plex.tv answered the claim without a server token"
    )
    assert "PlexOnlineToken" not in unclaimed.prefs.read_text()


def test_server_slow_to_confirm_the_claim_waits(ctx, fake_network, charm_module, plex_tv):
    from plex_wired import plex_container, preferences_xml

    root, prefs = config_dir(preferences_xml(None))
    server = FakePlexServer(None, claimed=False)  # keeps saying unclaimed after the restart
    fake_network.add("localhost:32400", server)
    secret = claim_secret(plex_tv.issue_claim_token())
    state = testing.State(
        leader=True,
        config={**MEDIA, "claim-token-secret": secret.id},
        containers=[plex_container(root)],
        secrets=[secret],
    )

    out = ctx.run(ctx.on.update_status(), state)

    assert waiting(out) == "claimed with plex.tv; waiting for plex to restart and confirm"
    assert "PlexOnlineToken" in prefs.read_text()
    assert len([r for r in server.requests if r.path == "/identity"]) == 1 + 3


def test_claimed_server_never_uses_the_claim_token(ctx, fake_network, plex_tv):
    from charms_under_test import wired_state

    state, _ = wired_state("plex", fake_network)
    claim = next(s for s in state.secrets if s.label is None)
    fresh = dataclasses.replace(claim, latest_content={"claim-token": plex_tv.issue_claim_token()})
    state = dataclasses.replace(
        state, secrets=[s for s in state.secrets if s is not claim] + [fresh]
    )

    for event in (ctx.on.update_status(), ctx.on.secret_changed(fresh), ctx.on.config_changed()):
        out = ctx.run(event, state)
        assert isinstance(out.unit_status, ops.ActiveStatus)
    assert plex_tv.requests == []
    assert [r for r in fake_network.requests if "plex.tv" in r.url] == []


def test_claim_configured_at_deploy_is_used_once_plex_comes_up(
    ctx, unclaimed, plex_tv, fake_network
):
    """pebble-ready plans Plex, waits a few seconds for it to answer, then claims at once."""
    tries: list[str] = []

    def starting_up(request):
        tries.append(request.path)
        if len(tries) <= 2:  # not listening yet
            raise ConnectionRefusedError("starting")
        return unclaimed.server(request)

    fake_network.add(PLEX_ADDRESS, starting_up)
    secret = claim_secret(plex_tv.issue_claim_token())
    state = unclaimed.state(
        planned=False, config={**MEDIA, "claim-token-secret": secret.id}, secrets=[secret]
    )

    out = ctx.run(ctx.on.pebble_ready(state.get_container("plex")), state)

    assert len(plex_tv.exchanges) == 1
    assert isinstance(out.unit_status, ops.ActiveStatus)
    assert plex_token(out).latest_content == {"token": plex_tv.server_token}
