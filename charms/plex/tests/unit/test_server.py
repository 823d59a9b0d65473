"""The claimed server: the plex-token secret, media-server data, idempotency, faults, workload."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import ops
import pytest
from charms_under_test import wired_state
from ops import pebble as ops_pebble
from ops import testing
from plex_wired import config_dir, plex_container, preferences_xml

from charmarr_interfaces.endpoint import parse_app_data
from charmarr_interfaces.media_server import MediaServerProviderData
from charmarr_testing import builders
from charmarr_testing.fake_plex import FakePlexServer

APP = "plex-k8s"
CHARM_DIR = Path(__file__).resolve().parents[2]
WRITES = ("push", "add_layer", "replan", "restart", "start", "stop", "make_dir")
SECRET_WRITES = ("add_secret", "set_content", "set_info", "grant", "remove_all_revisions")

MEDIA = {"media-volume": "charmarr-media"}


def wired(fake_network: Any, *, leader: bool = True) -> tuple[testing.State, FakePlexServer]:
    return wired_state("plex", fake_network, leader=leader)


def plex_token(state: testing.State) -> testing.Secret:
    return state.get_secret(label="plex-token")


def set_server_token(server: FakePlexServer, token: str) -> None:
    assert server.preferences is not None
    text = server.preferences.read_text()
    server.preferences.write_text(
        re.sub(r'PlexOnlineToken="[^"]*"', f'PlexOnlineToken="{token}"', text)
    )


def published(relation: testing.RelationBase) -> dict[str, str]:
    return dict(relation.local_app_data)


# ---------------------------------------------------------------------------------------------
# Steady state and the plex-token secret
# ---------------------------------------------------------------------------------------------


def test_wired_state_is_active_and_a_second_update_status_changes_nothing(
    ctx, fake_network, pebble, secret_writes
):
    state, server = wired(fake_network)
    prefs_before = server.preferences.read_text()  # type: ignore[union-attr]

    first = ctx.run(ctx.on.update_status(), state)
    pebble.clear()
    secret_writes.clear()
    second = ctx.run(ctx.on.update_status(), first)

    assert second.unit_status == ops.ActiveStatus(
        "claimed; claim-token-secret is no longer needed and may be removed"
    )
    # No Pebble write (no push, no replan, no restart), at most three Pebble calls.
    assert [c for c in pebble if c in WRITES] == []
    assert len(pebble) <= 3, pebble
    # No new secret revision, no grant, no databag change, no workload write.
    assert secret_writes == []
    assert plex_token(second).latest_content == plex_token(state).latest_content
    assert [published(r) for r in second.relations] == [published(r) for r in state.relations]
    assert server.preferences.read_text() == prefs_before  # type: ignore[union-attr]
    assert server.writes == []
    assert [r for r in fake_network.requests if "plex.tv" in r.url] == []


def test_media_server_data_is_valid_for_radarr_and_sonarr(ctx, fake_network):
    state, _ = wired(fake_network)
    out = ctx.run(ctx.on.update_status(), state)

    secret = plex_token(out)
    assert len(out.relations) == 2
    for relation in out.relations:
        parsed = parse_app_data(relation, MediaServerProviderData, dict(relation.local_app_data))
        assert isinstance(parsed, MediaServerProviderData)
        assert parsed.url == f"http://{APP}.media.svc.cluster.local:32400"
        assert parsed.token_secret_id == secret.id
    assert testing.TCPPort(32400) in out.opened_ports


def test_plex_token_changed_publishes_a_new_revision(ctx, fake_network, secret_writes):
    state, server = wired(fake_network)
    old_id = plex_token(state).id
    set_server_token(server, "ABCdefGHIjkl-new-token")

    out = ctx.run(ctx.on.update_status(), state)

    secret = plex_token(out)
    assert secret.latest_content == {"token": "ABCdefGHIjkl-new-token"}
    assert secret.id == old_id
    assert secret_writes == ["set_content"]
    # Same ID on the relations: consumers get secret-changed, nothing to re-publish.
    assert [published(r) for r in out.relations] == [published(r) for r in state.relations]
    assert isinstance(out.unit_status, ops.ActiveStatus)


def test_plex_token_unchanged_makes_no_revision(ctx, fake_network, secret_writes):
    state, _ = wired(fake_network)

    out = ctx.run(ctx.on.update_status(), state)

    assert secret_writes == []
    assert plex_token(out).latest_content == plex_token(state).latest_content


def test_plex_token_created_when_first_known_and_granted_to_new_relations(
    ctx, fake_network, secret_writes
):
    state, _ = wired(fake_network)
    lidarr = builders.media_server_from_arr(remote_app="radarr-4k").relation
    state = dataclasses.replace(
        state,
        secrets=[s for s in state.secrets if s.label != "plex-token"],
        relations=[*state.relations, lidarr],
    )

    out = ctx.run(ctx.on.relation_joined(lidarr), state)

    secret = plex_token(out)
    assert secret_writes.count("add_secret") == 1
    for relation in out.relations:
        assert relation.id in secret.remote_grants
        assert relation.local_app_data["token_secret_id"] == f'"{secret.id}"'


def test_relation_broken_leaves_the_others_alone(ctx, fake_network, secret_writes):
    state, _ = wired(fake_network)
    radarr, sonarr = state.relations

    out = ctx.run(ctx.on.relation_broken(radarr), state)

    assert isinstance(out.unit_status, ops.ActiveStatus)
    assert published(out.get_relation(sonarr.id)) == published(sonarr)
    assert secret_writes == []


def test_old_revisions_are_pruned_on_secret_remove(ctx, fake_network):
    state, server = wired(fake_network)
    set_server_token(server, "ABCdefGHIjkl-new-token")
    changed = ctx.run(ctx.on.update_status(), state)

    out = ctx.run(ctx.on.secret_remove(plex_token(changed), revision=1), changed)

    assert ctx.removed_secret_revisions == [1]
    assert plex_token(out).latest_content == {"token": "ABCdefGHIjkl-new-token"}
    assert isinstance(out.unit_status, ops.ActiveStatus)


def test_non_leader_does_not_prune(ctx, fake_network):
    state, _ = wired(fake_network, leader=False)

    ctx.run(ctx.on.secret_remove(plex_token(state), revision=1), state)

    assert ctx.removed_secret_revisions == []


def test_non_leader_stands_by_and_manages_no_secret(ctx, fake_network, secret_writes, pebble):
    state, _ = wired(fake_network, leader=False)

    out = ctx.run(ctx.on.update_status(), state)

    assert out.unit_status == ops.BlockedStatus(
        "plex-k8s runs on one unit only; this one stands by, stopped: "
        "juju scale-application plex-k8s 1"
    )
    assert secret_writes == []
    assert [published(r) for r in out.relations] == [published(r) for r in state.relations]
    assert (
        out.get_container("plex").service_statuses.get("plex") != ops.pebble.ServiceStatus.ACTIVE
    )
    assert "push" not in pebble and "replan" not in pebble


def test_non_leader_never_claims_a_server(ctx, unclaimed, plex_tv):
    """A second Plex would be a second server on the user's account: a standby stays off."""
    out = ctx.run(ctx.on.update_status(), unclaimed.state(leader=False))

    assert out.unit_status.name == "blocked"
    assert "juju scale-application plex-k8s 1" in out.unit_status.message
    assert plex_tv.exchanges == []
    assert not out.secrets


def test_claimed_server_without_token_in_preferences_waits(ctx, fake_network):
    root, _ = config_dir(preferences_xml(None))
    fake_network.add("localhost:32400", FakePlexServer(None, claimed=True))
    state = testing.State(leader=True, config=MEDIA, containers=[plex_container(root)])

    out = ctx.run(ctx.on.update_status(), state)

    assert out.unit_status == ops.WaitingStatus(
        "plex says it is claimed; waiting for it to save PlexOnlineToken"
    )
    assert [s for s in out.secrets if s.label == "plex-token"] == []


def test_garbage_preferences_block(ctx, fake_network):
    root, _ = config_dir("this is not <xml")
    fake_network.add("localhost:32400", FakePlexServer(None, claimed=True))
    state = testing.State(leader=True, config=MEDIA, containers=[plex_container(root)])

    out = ctx.run(ctx.on.update_status(), state)

    assert out.unit_status == ops.BlockedStatus(
        "Preferences.xml is not valid XML: restore it from a backup or remove it"
    )


# ---------------------------------------------------------------------------------------------
# Plex server faults
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        ("down", ops.WaitingStatus("waiting for plex to answer (ConnectionRefusedError)")),
        ("401", ops.BlockedStatus("plex answered GET /identity with HTTP 401")),
        ("500", ops.WaitingStatus("plex answered GET /identity with HTTP 500")),
        (
            "garbage",
            ops.BlockedStatus(
                "plex answered /identity with something that is not Plex's identity; "
                "is another program listening on port 32400?"
            ),
        ),
    ],
)
def test_server_faults_give_a_status_not_a_hook_error(
    ctx, fake_network, secret_writes, fault, status
):
    state, server = wired(fake_network)
    server.fault = fault

    out = ctx.run(ctx.on.update_status(), state)

    assert out.unit_status == status
    assert secret_writes == []


def test_stopped_service_is_started_when_plex_does_not_answer(ctx, fake_network, pebble):
    state, server = wired(fake_network)
    server.fault = "down"
    container = dataclasses.replace(
        state.get_container("plex"),
        service_statuses={"plex": pebble_status("inactive")},
    )
    state = dataclasses.replace(state, containers=[container])

    out = ctx.run(ctx.on.update_status(), state)

    assert "start" in pebble
    assert out.get_container("plex").service_statuses["plex"] == pebble_status("active")
    assert isinstance(out.unit_status, ops.WaitingStatus)


def pebble_status(value: str) -> ops_pebble.ServiceStatus:
    return ops_pebble.ServiceStatus(value)


def test_pebble_not_ready_waits(ctx, fake_network):
    state, _ = wired(fake_network)
    container = dataclasses.replace(state.get_container("plex"), can_connect=False)

    out = ctx.run(ctx.on.update_status(), dataclasses.replace(state, containers=[container]))

    assert out.unit_status == ops.WaitingStatus("waiting for Pebble in the plex container")


# ---------------------------------------------------------------------------------------------
# The workload
# ---------------------------------------------------------------------------------------------


def test_first_start_plans_plex_as_1000_with_config_on_storage(ctx, unclaimed, pebble):
    state = unclaimed.state(planned=False)

    out = ctx.run(ctx.on.pebble_ready(state.get_container("plex")), state)

    container = out.get_container("plex")
    plan = container.plan
    service = plan.services["plex"]
    assert service.command == '"/usr/lib/plexmediaserver/Plex Media Server"'
    assert service.user_id == 1000 and service.group_id == 1000
    assert service.startup == "enabled"
    assert service.environment["PLEX_MEDIA_SERVER_APPLICATION_SUPPORT_DIR"] == (
        "/config/Library/Application Support"
    )
    assert "PLEX_CLAIM" not in service.environment
    check = plan.checks["plex-ready"]
    assert check.level == ops_pebble.CheckLevel.READY
    assert check.http == {"url": "http://localhost:32400/identity"}
    assert container.service_statuses["plex"] == ops_pebble.ServiceStatus.ACTIVE
    assert pebble.index("make_dir") < pebble.index("replan")
    assert testing.TCPPort(32400) in out.opened_ports


def test_media_volume_is_mounted_at_data_and_unset_blocks(fake_network):
    from charms_under_test import context, wired_state

    state, _ = wired_state("plex", fake_network, leader=True)
    ctx = context("plex", app_name="plex")
    out = ctx.run(ctx.on.config_changed(), state)
    assert out.unit_status.name == "active"
    mounts = fake_network.kubernetes.container("plex", "plex")["volumeMounts"]
    assert mounts == [{"name": "charmarr-media", "mountPath": "/data"}]
    unset = dataclasses.replace(out, config={**out.config, "media-volume": ""})
    out = ctx.run(ctx.on.config_changed(), unset)
    assert out.unit_status == ops.BlockedStatus(
        f"media-volume unset: create a ReadWriteMany PVC in namespace {out.model.name}, "
        "then juju config plex media-volume=<pvc>"
    )
    assert fake_network.kubernetes.container("plex", "plex")["volumeMounts"] == []


def test_first_start_prepares_the_transcoder_as_the_images_first_run_script_does(
    ctx, unclaimed, pebble
):
    """pms-docker's 40-plex-first-run hands /transcode to the plex user and sets
    TranscoderTempDirectory to it; Pebble skips that script, so the charm does both."""
    state = unclaimed.state(planned=False)

    out = ctx.run(ctx.on.pebble_ready(state.get_container("plex")), state)

    assert ["chown", "1000:1000", "/transcode"] in [e.command for e in ctx.exec_history["plex"]]
    assert 'TranscoderTempDirectory="/transcode"' in unclaimed.prefs.read_text()
    assert pebble.index("push") < pebble.index("replan"), "set before Plex first starts"
    assert out.unit_status.name != "error"


def test_a_transcoder_directory_the_user_chose_is_kept(ctx, unclaimed):
    unclaimed.prefs.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<Preferences TranscoderTempDirectory="/data/transcode"/>\n'
    )
    state = unclaimed.state(planned=False)

    ctx.run(ctx.on.pebble_ready(state.get_container("plex")), state)

    assert 'TranscoderTempDirectory="/data/transcode"' in unclaimed.prefs.read_text()
