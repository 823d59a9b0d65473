"""Rotating SABnzbd's API key: through the app, with the app down, failures, pruning."""

from __future__ import annotations

import dataclasses

import pytest
import sabnzbd_wired as wired
from ops import pebble, testing

from charmarr_testing import builders
from charmarr_testing.fake_sabnzbd import FakeSabnzbd

BOTH = ("radarr", "sonarr")


def ini_of(state_in) -> str:
    return (state_in.get_container("sabnzbd").mounts["config"].source / "sabnzbd.ini").read_text()


def key_checks(fake: FakeSabnzbd) -> list[tuple[str, str]]:
    """(mode, key) of each authenticated request, in order."""
    return [
        (r.query.get("name") or r.query["mode"], r.query["apikey"])
        for r in fake.requests
        if "apikey" in r.query
    ]


def test_action_rotates_through_the_app_then_publishes(ctx, fake_network, pebble_calls):
    state_in, fake = wired.wired_state(fake_network, consumers=BOTH)
    fake.requests.clear()

    out = ctx.run(ctx.on.action("rotate-credentials"), state_in)

    new = fake.api_key
    assert new != wired.API_KEY
    secret = out.get_secret(label=wired.LABEL)
    assert secret.latest_content == {"api-key": new}
    assert ctx.action_results == {"secret-id": secret.id, "revision": 2}
    checks = key_checks(fake)
    # set_apikey with the old key, then the new key works, then the old one is refused
    assert checks[0] == ("set_apikey", wired.API_KEY)
    assert checks[1] == ("get_config", new)
    assert checks[2] == ("get_config", wired.API_KEY)
    # SABnzbd saved the new key itself: no rewrite, no restart
    assert f"api_key = {new}" in ini_of(state_in)
    assert not {"push", "stop", "restart"} & set(pebble_calls)
    assert out.unit_status.name == "active"


def test_rotation_on_secret_rotate_event(ctx, fake_network):
    state_in, fake = wired.wired_state(fake_network, consumers=BOTH)
    secret = state_in.get_secret(label=wired.LABEL)

    out = ctx.run(ctx.on.secret_rotate(secret), state_in)

    assert out.get_secret(label=wired.LABEL).latest_content == {"api-key": fake.api_key}
    assert fake.retired_keys == [wired.API_KEY]


def test_action_on_non_leader_fails_and_changes_nothing(ctx, fake_network):
    state_in, fake = wired.wired_state(fake_network, leader=False, consumers=BOTH)

    with pytest.raises(testing.ActionFailed, match="run this on the leader"):
        ctx.run(ctx.on.action("rotate-credentials"), state_in)
    assert fake.retired_keys == []


@pytest.mark.parametrize("fault", ["401", "500", "garbage"])
def test_failed_rotation_publishes_nothing(ctx, fake_network, fault):
    state_in, fake = wired.wired_state(fake_network, consumers=BOTH)
    fake.fault = fault

    with pytest.raises(testing.ActionFailed, match="old credential kept") as failure:
        ctx.run(ctx.on.action("rotate-credentials"), state_in)

    secret = failure.value.state.get_secret(label=wired.LABEL)
    assert secret.latest_content == {"api-key": wired.API_KEY}


class _StubbornSabnzbd(FakeSabnzbd):
    """Answers set_apikey with a key it then does not accept."""

    def _mode_config(self, q):
        from charmarr_testing.fakes import json_response

        return json_response({"apikey": "9" * 32})


def test_new_key_not_accepted_is_not_published(ctx, fake_network):
    state_in, _ = wired.wired_state(fake_network, consumers=BOTH)
    fake_network.add("localhost:8080", _StubbornSabnzbd(wired.API_KEY))

    with pytest.raises(testing.ActionFailed, match="refused its new API key") as failure:
        ctx.run(ctx.on.action("rotate-credentials"), state_in)

    secret = failure.value.state.get_secret(label=wired.LABEL)
    assert secret.latest_content == {"api-key": wired.API_KEY}


def test_rotation_with_sabnzbd_down_rewrites_ini_restarts_confirms(
    ctx, fake_network, pebble_calls
):
    state_in, fake = wired.wired_state(fake_network, consumers=BOTH)
    fake.down_requests = 2  # set_apikey and the first readiness poll find nothing

    out = ctx.run(ctx.on.action("rotate-credentials"), state_in)

    new = out.get_secret(label=wired.LABEL).latest_content["api-key"]
    assert new != wired.API_KEY
    assert fake.api_key == new  # came back with the key the charm wrote
    assert f"api_key = {new}" in ini_of(state_in)
    assert pebble_calls.index("stop") < pebble_calls.index("push") < pebble_calls.index("start")
    # confirmed before publishing: the new key worked and the old one was refused
    assert ("get_config", new) in key_checks(fake)
    assert ("get_config", wired.API_KEY) in key_checks(fake)


def test_rotation_with_sabnzbd_never_back_keeps_the_old_key_and_heals(ctx, fake_network):
    state_in, fake = wired.wired_state(fake_network, consumers=BOTH)
    fake.fault = "down"

    with pytest.raises(testing.ActionFailed, match="did not come back") as failure:
        ctx.run(ctx.on.action("rotate-credentials"), state_in)
    after = failure.value.state
    assert after.get_secret(label=wired.LABEL).latest_content == {"api-key": wired.API_KEY}

    # The next hook puts the published key back into sabnzbd.ini.
    fake.fault = None
    ctx.run(ctx.on.update_status(), after)
    assert f"api_key = {wired.API_KEY}" in ini_of(state_in)


def test_rotation_while_vpn_keeps_sabnzbd_stopped(ctx, fake_network, pebble_calls):
    state_in, fake = wired.wired_state(fake_network, consumers=BOTH)
    state_in = dataclasses.replace(
        state_in,
        relations=[r for r in state_in.relations if r.endpoint != "vpn-gateway"],
        containers=[
            wired.container(
                state_in.get_container("sabnzbd").mounts["config"].source, running=False
            )
        ],
    )
    fake.fault = "down"

    out = ctx.run(ctx.on.action("rotate-credentials"), state_in)

    new = out.get_secret(label=wired.LABEL).latest_content["api-key"]
    assert f"api_key = {new}" in ini_of(state_in)
    assert "start" not in pebble_calls
    assert out.get_container("sabnzbd").service_statuses["sabnzbd"] != pebble.ServiceStatus.ACTIVE


def test_secret_remove_prunes_the_revision(ctx, fake_network):
    state_in, _ = wired.wired_state(fake_network, consumers=BOTH)
    rotated = ctx.run(ctx.on.action("rotate-credentials"), state_in)
    secret = rotated.get_secret(label=wired.LABEL)

    ctx.run(ctx.on.secret_remove(secret, revision=1), rotated)

    assert ctx.removed_secret_revisions == [1]


def test_secret_remove_on_non_leader_prunes_nothing(ctx, fake_network):
    state_in, _ = wired.wired_state(fake_network, leader=False, consumers=BOTH)
    secret = state_in.get_secret(label=wired.LABEL)

    ctx.run(ctx.on.secret_remove(secret, revision=1), state_in)

    assert ctx.removed_secret_revisions == []


def test_consumers_see_the_rotated_secret_id_unchanged(ctx, fake_network):
    state_in, _ = wired.wired_state(fake_network, consumers=BOTH)
    first = ctx.run(ctx.on.update_status(), state_in)
    published = first.get_relation(11).local_app_data["credentials_secret_id"]

    out = ctx.run(ctx.on.action("rotate-credentials"), first)

    assert out.get_relation(11).local_app_data["credentials_secret_id"] == published
    assert builders  # the ID stays; consumers follow the new revision


class _TwoKeysSabnzbd(FakeSabnzbd):
    """Hands out a new key but keeps accepting the old one too."""

    def handle(self, request):
        if request.query.get("apikey") in self.retired_keys:
            request = type(request)(
                request.method,
                request.url.replace(request.query["apikey"], self.api_key),
                request.headers,
                request.body,
            )
        return super().handle(request)


def test_old_key_still_accepted_is_not_published(ctx, fake_network):
    state_in, _ = wired.wired_state(fake_network, consumers=BOTH)
    fake_network.add("localhost:8080", _TwoKeysSabnzbd(wired.API_KEY))

    with pytest.raises(testing.ActionFailed, match="still accepts the old API key") as failure:
        ctx.run(ctx.on.action("rotate-credentials"), state_in)

    secret = failure.value.state.get_secret(label=wired.LABEL)
    assert secret.latest_content == {"api-key": wired.API_KEY}


def test_rotation_with_container_unreachable_keeps_the_key(ctx, fake_network):
    state_in, fake = wired.wired_state(fake_network, consumers=BOTH)
    fake.fault = "down"
    container = dataclasses.replace(state_in.get_container("sabnzbd"), can_connect=False)
    state_in = dataclasses.replace(state_in, containers=[container])

    with pytest.raises(testing.ActionFailed, match="container unreachable") as failure:
        ctx.run(ctx.on.action("rotate-credentials"), state_in)

    secret = failure.value.state.get_secret(label=wired.LABEL)
    assert secret.latest_content == {"api-key": wired.API_KEY}


def test_owned_secret_without_its_key_is_blocked(ctx, fake_network):
    state_in, _ = wired.wired_state(fake_network, consumers=BOTH)
    broken = testing.Secret({"other": "x" * 10}, label=wired.LABEL, owner="app")
    state_in = dataclasses.replace(
        state_in, secrets=[broken, *[s for s in state_in.secrets if s.label != wired.LABEL]]
    )

    out = ctx.run(ctx.on.update_status(), state_in)

    assert out.unit_status == testing.BlockedStatus(
        "sabnzbd-api-key lacks api-key: juju run sabnzbd-k8s/leader rotate-credentials"
    )
