"""The secret-ID pattern, through a dummy charm under ops.testing."""

from __future__ import annotations

import dataclasses

import ops
import pytest
from dummy_charm import LABEL, DummyCharm
from ops import testing

from charmarr_common import errors, rotation
from charmarr_interfaces import secret_ids
from charmarr_interfaces.media_indexer import API_KEY
from charmarr_testing import builders


def _owned(state: testing.State) -> testing.Secret:
    return state.get_secret(label=LABEL)


# --- rotation-interval ------------------------------------------------------------------------


@pytest.mark.parametrize("value", list(rotation.ROTATION_INTERVALS))
def test_every_rotation_value_becomes_the_secret_policy(ctx, value):
    out = ctx.run(
        ctx.on.config_changed(), testing.State(leader=True, config={"rotation-interval": value})
    )
    assert _owned(out).rotate == rotation.ROTATION_INTERVALS[value]
    assert out.unit_status == testing.ActiveStatus()


def test_never_switches_rotation_off_on_an_existing_secret(ctx):
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True))
    assert _owned(out).rotate == ops.SecretRotate.MONTHLY
    out = ctx.run(
        ctx.on.config_changed(), dataclasses.replace(out, config={"rotation-interval": "never"})
    )
    assert _owned(out).rotate == ops.SecretRotate.NEVER


@pytest.mark.parametrize("value", ["fortnightly", "", "Monthly", "1h"])
def test_an_invalid_rotation_value_blocks_naming_the_option_and_values(ctx, value):
    out = ctx.run(
        ctx.on.config_changed(), testing.State(leader=True, config={"rotation-interval": value})
    )
    assert isinstance(out.unit_status, testing.BlockedStatus)
    message = out.unit_status.message
    assert "rotation-interval" in message
    for accepted in rotation.ROTATION_INTERVALS:
        assert accepted in message


def test_parse_rotation_interval_rejects_non_strings():
    with pytest.raises(errors.InvalidConfigError):
        rotation.parse_rotation_interval(3)


# --- owned secrets ------------------------------------------------------------------------------


def test_leader_creates_the_secret_once_and_a_second_hook_changes_nothing(ctx, hook_tools):
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True))
    owned = _owned(out)
    assert owned.owner == "app"
    assert len(owned.latest_content[API_KEY]) == 32
    hook_tools.clear()
    again = ctx.run(ctx.on.update_status(), out)
    assert _owned(again).latest_content == owned.latest_content
    assert _owned(again)._latest_revision == owned._latest_revision
    assert hook_tools.count("secret-add") == 0
    assert hook_tools.count("secret-set") == 0


def test_non_leader_waits_for_the_leader_and_never_manages(ctx, hook_tools):
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=False))
    assert out.unit_status == testing.WaitingStatus(f"waiting for the leader to create {LABEL}")
    assert hook_tools.management == []
    assert not out.secrets


def test_non_leader_reads_the_existing_secret_without_management_calls(ctx, hook_tools):
    remote = builders.media_indexer_from_prowlarr()
    leader_out = ctx.run(
        ctx.on.config_changed(),
        testing.State(leader=True, relations=[remote.relation], secrets=remote.secrets),
    )
    hook_tools.clear()
    out = ctx.run(ctx.on.update_status(), dataclasses.replace(leader_out, leader=False))
    assert out.unit_status == testing.ActiveStatus()
    assert hook_tools.management == []


def test_grant_once_then_publish_the_id(ctx, hook_tools):
    remote = builders.media_indexer_from_prowlarr()
    state = testing.State(leader=True, relations=[remote.relation], secrets=remote.secrets)
    out = ctx.run(ctx.on.relation_changed(remote.relation), state)
    owned = _owned(out)
    assert owned.remote_grants == {remote.relation.id: frozenset({"prowlarr"})}
    bag = out.get_relation(remote.relation.id).local_app_data
    assert bag["api_key_secret_id"] == f'"{owned.id}"'
    assert owned.latest_content[API_KEY] not in str(bag)
    hook_tools.clear()
    ctx.run(ctx.on.update_status(), out)
    assert hook_tools.count("secret-grant") == 0
    assert hook_tools.count("relation-set") == 0


def test_remove_deletes_every_revision(ctx):
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True))
    with ctx(ctx.on.update_status(), out) as mgr:
        assert mgr.charm.owned.remove() is True
        assert mgr.charm.owned.get() is None
    with ctx(ctx.on.update_status(), testing.State(leader=True)) as mgr:
        assert mgr.charm.owned.remove() is False


# --- rotation --------------------------------------------------------------------------------


def test_scheduled_rotation_applies_first_and_publishes_second(ctx):
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True))
    before = _owned(out)
    after = ctx.run(ctx.on.secret_rotate(before), out)
    rotated = _owned(after)
    assert rotated.latest_content[API_KEY] != before.latest_content[API_KEY]
    assert rotated._latest_revision == before._latest_revision + 1
    # When the workload was asked to take the new key, the old one was still published.
    assert DummyCharm.workload_keys == [before.latest_content[API_KEY]]
    # The owner tracks the new revision, so Juju can prune the old one.
    assert rotated.tracked_content == rotated.latest_content


def test_rotation_refused_by_the_workload_publishes_nothing(ctx):
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True))
    DummyCharm.refuse_rotation = True
    before = _owned(out)
    after = ctx.run(ctx.on.secret_rotate(before), out)
    assert _owned(after).latest_content == before.latest_content
    assert any("postponed" in line.message for line in ctx.juju_log)


def test_rotate_action_returns_id_and_revision_never_content(ctx):
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True))
    after = ctx.run(ctx.on.action("rotate-credentials"), out)
    rotated = _owned(after)
    assert ctx.action_results == {"secret-id": rotated.id, "revision": 2}


def test_rotate_action_failure_keeps_the_old_credential(ctx):
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True))
    DummyCharm.refuse_rotation = True
    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("rotate-credentials"), out)
    assert "old credential kept" in failure.value.message
    assert failure.value.state is not None
    assert _owned(failure.value.state).latest_content == _owned(out).latest_content


def test_rotate_action_on_a_non_leader_says_to_run_it_on_the_leader(ctx, hook_tools):
    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("rotate-credentials"), testing.State(leader=False))
    assert (
        failure.value.message == "run this on the leader: juju run dummy/leader rotate-credentials"
    )
    assert hook_tools.management == []


def test_secret_rotate_on_a_non_leader_does_nothing(ctx, hook_tools):
    secret = testing.Secret({API_KEY: "k" * 32}, label=LABEL, owner="app")
    out = ctx.run(ctx.on.secret_rotate(secret), testing.State(leader=False, secrets=[secret]))
    assert _owned(out).latest_content == secret.latest_content
    assert hook_tools.management == []


def test_secret_remove_prunes_that_revision(ctx):
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True))
    rotated = ctx.run(ctx.on.secret_rotate(_owned(out)), out)
    ctx.run(ctx.on.secret_remove(_owned(rotated), revision=1), rotated)
    assert ctx.removed_secret_revisions == [1]


def test_secret_remove_of_a_foreign_label_is_ignored(ctx):
    other = testing.Secret({"x": "y" * 10}, label="someone-else", owner="app")
    ctx.run(ctx.on.secret_remove(other, revision=1), testing.State(leader=True, secrets=[other]))
    assert ctx.removed_secret_revisions == []


def test_rotate_now_refuses_labels_it_does_not_own(ctx):
    with ctx(ctx.on.update_status(), testing.State(leader=True)) as mgr:
        with pytest.raises(errors.CharmarrError):
            mgr.charm.rotation.rotate_now("not-ours")


# --- consumed secrets ---------------------------------------------------------------------------


def test_consumer_reads_the_tracked_revision_until_secret_changed(ctx):
    remote = builders.media_indexer_from_prowlarr(api_key="old-key-0123456789")
    secret = testing.Secret(
        {API_KEY: "old-key-0123456789"},
        latest_content={API_KEY: "new-key-0123456789"},
        id=remote.secret.id,
    )
    state = testing.State(leader=True, relations=[remote.relation], secrets=[secret])
    with ctx(ctx.on.update_status(), state) as mgr:
        content = secret_ids.read_consumed_secret(
            mgr.charm.model, secret.id, [API_KEY], source="prowlarr"
        )
        assert content[API_KEY] == "old-key-0123456789"
        mgr.run()
    with ctx(ctx.on.secret_changed(secret), state) as mgr:
        content = secret_ids.read_consumed_secret(
            mgr.charm.model, secret.id, [API_KEY], source="prowlarr", refresh=True
        )
        assert content[API_KEY] == "new-key-0123456789"
        out = mgr.run()
    assert out.get_secret(id=secret.id).tracked_content[API_KEY] == "new-key-0123456789"


def test_consumed_not_granted_waits_for_the_grant(ctx, ungranted):
    remote = builders.media_indexer_from_prowlarr()
    ungranted(remote.secret.id)
    out = ctx.run(
        ctx.on.update_status(),
        testing.State(leader=True, relations=[remote.relation], secrets=remote.secrets),
    )
    assert out.unit_status == testing.WaitingStatus(
        "waiting for prowlarr (media-indexer) to grant its secret"
    )


def test_consumed_not_found_is_its_own_status(ctx):
    remote = builders.media_indexer_from_prowlarr()
    out = ctx.run(ctx.on.update_status(), testing.State(leader=True, relations=[remote.relation]))
    assert out.unit_status == testing.WaitingStatus(
        "secret from prowlarr (media-indexer) not found; waiting for a new one"
    )


def test_consumed_missing_key_is_its_own_status(ctx):
    remote = builders.media_indexer_from_prowlarr()
    wrong = testing.Secret({"apikey": "x" * 32}, id=remote.secret.id)
    out = ctx.run(
        ctx.on.update_status(),
        testing.State(leader=True, relations=[remote.relation], secrets=[wrong]),
    )
    assert out.unit_status == testing.BlockedStatus(
        "secret from prowlarr (media-indexer) lacks api-key; upgrade that application"
    )


@pytest.mark.parametrize(
    "bad", ["secret:", "notasecret", "secret://nope/abc", "secret:UPPER0123456789ABCD"]
)
def test_consumed_malformed_id_is_typed(ctx, bad):
    with ctx(ctx.on.update_status(), testing.State(leader=True)) as mgr:
        with pytest.raises(secret_ids.MalformedSecretIdError) as e:
            secret_ids.read_consumed_secret(mgr.charm.model, bad, [API_KEY], source="prowlarr")
    assert "malformed secret ID" in e.value.message


def test_model_error_saying_not_found_is_not_found(ctx, monkeypatch):
    from scenario.mocking import _MockModelBackend

    def boom(self, **kwargs):
        raise ops.ModelError("ERROR secret not found")

    with ctx(ctx.on.update_status(), testing.State(leader=True)) as mgr:
        with monkeypatch.context() as patch:
            patch.setattr(_MockModelBackend, "secret_get", boom)
            with pytest.raises(secret_ids.SecretNotFoundError):
                secret_ids.read_consumed_secret(
                    mgr.charm.model, "secret:" + "a" * 20, [API_KEY], source="x"
                )


def test_both_secret_uri_forms_are_accepted():
    assert secret_ids.is_secret_uri("secret:cektar2jffvo4pjxkoxa")
    assert secret_ids.is_secret_uri(
        "secret://0b3a1e4e-59d5-4b8a-8f2c-5c3a7b0a1d2e/cektar2jffvo4pjxkoxa"
    )
    assert not secret_ids.is_secret_uri("secret://model/cektar2jffvo4pjxkoxa")
    assert not secret_ids.is_secret_uri(None)


# --- user secrets -------------------------------------------------------------------------------


def test_user_secret_unset_option_gives_the_three_commands(ctx):
    with ctx(ctx.on.update_status(), testing.State(leader=True)) as mgr:
        with pytest.raises(secret_ids.SecretError) as e:
            secret_ids.read_user_secret(mgr.charm, "token-secret", ["token"], example="token=<t>")
    assert e.value.message == (
        "token-secret unset: juju add-secret dummy-token-secret token=<t>; "
        "juju grant-secret dummy-token-secret dummy; "
        "juju config dummy token-secret=<secret-uri>"
    )


def test_user_secret_granted_and_read(ctx):
    user = testing.Secret({"token": "user-token-value"})
    out = ctx.run(
        ctx.on.config_changed(),
        testing.State(leader=True, secrets=[user], config={"token-secret": user.id}),
    )
    assert out.unit_status == testing.ActiveStatus()


def test_user_secret_not_granted_names_the_exact_command(ctx, ungranted):
    user = testing.Secret({"token": "user-token-value"})
    ungranted(user.id)
    out = ctx.run(
        ctx.on.config_changed(),
        testing.State(leader=True, secrets=[user], config={"token-secret": user.id}),
    )
    assert out.unit_status == testing.BlockedStatus(
        f"token-secret not granted: juju grant-secret {user.id} dummy"
    )


def test_user_secret_granted_later_is_picked_up_on_update_status(ctx):
    user = testing.Secret({"token": "user-token-value"})
    state = testing.State(leader=True, secrets=[user], config={"token-secret": user.id})
    from charmarr_testing.pytest_plugin import ungranted_secrets

    with ungranted_secrets(user.id):
        blocked = ctx.run(ctx.on.config_changed(), state)
    assert "not granted" in blocked.unit_status.message
    # `juju grant-secret` fires no hook: the next update-status sees it.
    assert ctx.run(ctx.on.update_status(), blocked).unit_status == testing.ActiveStatus()


def test_user_secret_not_found(ctx):
    uri = "secret:" + "c" * 20
    out = ctx.run(
        ctx.on.config_changed(), testing.State(leader=True, config={"token-secret": uri})
    )
    assert out.unit_status == testing.BlockedStatus(
        f"token-secret {uri} not found: juju grant-secret {uri} dummy if it exists, else "
        "juju add-secret, then juju config dummy token-secret=<uri>"
    )


def test_user_secret_missing_key_says_how_to_update_it(ctx):
    user = testing.Secret({"tokn": "user-token-value"})
    out = ctx.run(
        ctx.on.config_changed(),
        testing.State(leader=True, secrets=[user], config={"token-secret": user.id}),
    )
    assert out.unit_status == testing.BlockedStatus(
        f"token-secret lacks token: juju update-secret {user.id} token=<value>"
    )


def test_user_secret_option_holding_garbage(ctx, monkeypatch):
    # Juju validates secret-typed options, so this is defence in depth only.
    with ctx(ctx.on.update_status(), testing.State(leader=True)) as mgr:
        monkeypatch.setitem(mgr.charm.config._data, "token-secret", "my-token")
        with pytest.raises(secret_ids.MalformedSecretIdError) as e:
            secret_ids.read_user_secret(mgr.charm, "token-secret", ["token"], example="")
        monkeypatch.delitem(mgr.charm.config._data, "token-secret")
    assert e.value.message == (
        "token-secret is not a secret URI: set it to the URI juju add-secret printed"
    )


def test_user_secret_update_is_read_at_once(ctx):
    user = testing.Secret(
        {"token": "first-value-123"}, latest_content={"token": "second-value-456"}
    )
    state = testing.State(leader=True, secrets=[user], config={"token-secret": user.id})
    with ctx(ctx.on.secret_changed(user), state) as mgr:
        content = secret_ids.read_user_secret(mgr.charm, "token-secret", ["token"], example="")
        assert content["token"] == "first-value-123"  # what this unit tracks
        content = secret_ids.read_user_secret(
            mgr.charm, "token-secret", ["token"], example="", refresh=True
        )
        assert content["token"] == "second-value-456"
        mgr.run()


def test_errors_carry_their_status_type():
    assert isinstance(errors.WaitingError("x").status, ops.WaitingStatus)
    assert isinstance(errors.CharmarrError("x").status, ops.BlockedStatus)
    assert errors.CharmarrError("x").status.message == "x"


# --- Juju's in-hook semantics: what a rotating hook and a follower see -----------------------


def test_the_rest_of_a_rotating_hook_applies_the_new_key(ctx):
    """Juju keeps the new revision pending until the hook ends; the reconcile that follows a
    rotation in the same hook must still apply the new key, never undo the rotation."""
    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True))
    DummyCharm.applied.clear()
    after = ctx.run(ctx.on.action("rotate-credentials"), out)
    new = _owned(after).latest_content[API_KEY]
    assert new != _owned(out).latest_content[API_KEY]
    assert DummyCharm.applied and set(DummyCharm.applied) == {new}
    assert ctx.action_results["revision"] == _owned(after)._latest_revision == 2


def _tracking_revision_1_of_2() -> testing.Secret:
    """The app's own secret at revision 2, while this unit still tracks revision 1."""
    secret = testing.Secret(
        {API_KEY: "key-of-revision-1"},
        latest_content={API_KEY: "key-of-revision-2"},
        owner="app",
        label=LABEL,
    )
    object.__setattr__(secret, "_latest_revision", 2)
    return secret


def test_a_follower_applies_each_revision_its_leader_publishes(ctx, hook_tools):
    """Units of the owner track revisions like consumers (Juju >= 3.1.7): a non-leader
    reads the latest with refresh, and tracks it from then on."""
    secret = _tracking_revision_1_of_2()
    DummyCharm.applied.clear()
    out = ctx.run(ctx.on.update_status(), testing.State(leader=False, secrets=[secret]))
    assert DummyCharm.applied == ["key-of-revision-2"]
    assert _owned(out).tracked_content == {API_KEY: "key-of-revision-2"}
    assert hook_tools.management == []


@pytest.mark.parametrize("fault", ["leadership lost", "secret removed"])
def test_juju_refusing_the_new_revision_puts_the_old_key_back(ctx, fault):
    from charmarr_testing.faults import before_hook_tool
    from charmarr_testing.juju_semantics import leadership

    out = ctx.run(ctx.on.config_changed(), testing.State(leader=True))
    old = _owned(out).latest_content[API_KEY]
    DummyCharm.applied.clear()

    def gone() -> None:
        raise ops.SecretNotFoundError("removed")

    with leadership() as lead:
        action = lead.lose if fault == "leadership lost" else gone
        with before_hook_tool("secret-set", action), pytest.raises(testing.ActionFailed) as e:
            ctx.run(ctx.on.action("rotate-credentials"), out)
    assert e.value.message.startswith("rotation failed, old credential kept")
    assert DummyCharm.applied[-1] == old
    assert _owned(e.value.state).latest_content[API_KEY] == old
    assert _owned(e.value.state)._latest_revision == 1


def test_a_new_leader_applies_the_latest_revision_in_its_leader_elected_hook():
    """A follower elected before the secret-changed of the last revision reached it: its
    leader-elected hook reads the latest revision, not the one it tracked."""
    secret = _tracking_revision_1_of_2()

    class ElectedCharm(DummyCharm):
        def __init__(self, framework: ops.Framework):
            super().__init__(framework)
            framework.observe(self.on.leader_elected, self._reconcile)

    from dummy_charm import ACTIONS, CONFIG, META

    ctx = testing.Context(ElectedCharm, meta=META, config=CONFIG, actions=ACTIONS)
    DummyCharm.applied.clear()
    out = ctx.run(ctx.on.leader_elected(), testing.State(leader=True, secrets=[secret]))
    assert DummyCharm.applied[0] == "key-of-revision-2"
    assert _owned(out).tracked_content == {API_KEY: "key-of-revision-2"}
