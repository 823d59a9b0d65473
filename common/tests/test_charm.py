"""The skeleton (charmarr_common.charm): one reconcile per hook, problems worst first."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import ops
import pytest
from ops import pebble, testing

from charmarr_common.charm import CharmarrCharm, Report, VpnConfig
from charmarr_common.errors import CharmarrError, WaitingError
from charmarr_interfaces.secret_ids import OwnedSecret

META = {"name": "app", "containers": {"app": {}}}
CONFIG = {
    "options": {
        "rotation-interval": {"type": "string", "default": "monthly"},
        "require-vpn": {"type": "boolean", "default": True},
    }
}
ACTIONS = {"rotate-credentials": {}}
LABEL = "app-key"
LAYER: pebble.LayerDict = {
    "services": {"app": {"override": "replace", "command": "run-app", "startup": "enabled"}},
}  # type: ignore[assignment]


class App(CharmarrCharm):
    """Fills in the skeleton; each test sets what its converge does."""

    config_type = VpnConfig
    workload = "app"
    ports = (8000,)
    steps: ClassVar[list[str]] = []
    """What converge does, in order: "problem", "waiting", "note", "pebble", "raise"."""
    seen: ClassVar[list[VpnConfig]] = []

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.key = OwnedSecret(self, LABEL, lambda: {"api-key": "k" * 32})
        self.rotate_with(rotate=lambda label, current: {"api-key": "n" * 32}, action_label=LABEL)

    def owned_secrets(self) -> list[OwnedSecret]:
        """The key."""
        return [self.key]

    def standby_layers(self) -> dict[str, tuple[str, pebble.LayerDict]]:
        """The one service."""
        return {"app": ("app", LAYER)}

    def converge(self, report: Report) -> None:
        """Does what the test asked, in order."""
        type(self).seen.append(self.typed_config)
        self.ensure_owned(self.key, "api-key")
        for step in type(self).steps:
            if step == "problem":
                report.add(CharmarrError("something to fix"))
            elif step == "waiting":
                report.add(WaitingError("something on its way"))
            elif step == "note":
                report.note("serving")
            elif step == "pebble":
                raise pebble.ConnectionError("socket gone")
            elif step == "raise":
                raise CharmarrError("stopped here")


@pytest.fixture
def ctx() -> testing.Context[App]:
    App.steps, App.seen = [], []
    return testing.Context(App, meta=META, config=CONFIG, actions=ACTIONS)


def _state(**kwargs) -> testing.State:
    container = testing.Container("app", can_connect=True, layers={"app": pebble.Layer(LAYER)})
    return testing.State(leader=True, containers={container}, **kwargs)


def test_notes_make_the_active_message(ctx):
    App.steps = ["note"]
    out = ctx.run(ctx.on.config_changed(), _state())
    assert out.unit_status == testing.ActiveStatus("serving")
    assert out.opened_ports == {testing.TCPPort(8000)}


def test_problems_are_reported_worst_first(ctx):
    App.steps = ["waiting", "note", "problem"]
    out = ctx.run(ctx.on.config_changed(), _state())
    assert out.unit_status == testing.BlockedStatus("something to fix")


def test_a_raised_problem_ends_the_reconcile_as_a_status(ctx):
    App.steps = ["raise", "note"]
    out = ctx.run(ctx.on.config_changed(), _state())
    assert out.unit_status == testing.BlockedStatus("stopped here")


def test_a_pebble_failure_is_waiting_naming_the_container(ctx):
    App.steps = ["pebble"]
    out = ctx.run(ctx.on.config_changed(), _state())
    assert out.unit_status == testing.WaitingStatus("waiting for the app container")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"rotation-interval": "fortnightly"},
            "invalid rotation-interval 'fortnightly': use one of never, hourly, daily, weekly, "
            "monthly, quarterly, yearly",
        ),
    ],
)
def test_an_invalid_option_is_blocked_naming_it_and_the_others_still_apply(ctx, config, message):
    App.steps = ["note"]
    out = ctx.run(ctx.on.config_changed(), _state(config={**config, "require-vpn": False}))
    assert out.unit_status == testing.BlockedStatus(message)
    (seen,) = App.seen
    assert seen.require_vpn is False
    assert seen.rotate is None  # the secrets' policy is left alone


def test_a_non_boolean_require_vpn_is_a_problem_and_fails_closed():
    # Juju refuses such a value for a boolean option; the dataclass does not rely on it.
    config = VpnConfig(rotation_interval="weekly", require_vpn="no")  # type: ignore[arg-type]
    assert [p.status for p in config.problems] == [
        ops.BlockedStatus("invalid require-vpn: use true or false")
    ]
    assert config.require_vpn is True
    assert config.rotate == ops.SecretRotate.WEEKLY


def test_a_valid_option_sets_the_owned_secrets_policy(ctx):
    out = ctx.run(ctx.on.config_changed(), _state(config={"rotation-interval": "weekly"}))
    (secret,) = out.secrets
    assert secret.rotate == ops.SecretRotate.WEEKLY


def test_an_action_hook_still_ends_with_a_true_status(ctx):
    App.steps = ["problem"]
    out = ctx.run(ctx.on.action("rotate-credentials"), _state())
    assert out.unit_status == testing.BlockedStatus("something to fix")


def test_a_standby_stops_and_says_how_to_scale_back(ctx):
    App.steps = ["note"]
    state = dataclasses.replace(_state(), leader=False)
    out = ctx.run(ctx.on.update_status(), state)
    assert out.unit_status == testing.BlockedStatus(
        "app runs on one unit only; this one stands by, stopped: juju scale-application app 1"
    )
    assert App.seen == []


def test_an_owned_secret_lacking_a_key_says_how_to_rotate(ctx):
    secret = testing.Secret({"other": "x"}, owner="app", label=LABEL)
    out = ctx.run(ctx.on.config_changed(), _state(secrets={secret}))
    assert out.unit_status == testing.BlockedStatus(
        "app-key lacks api-key: juju run app/leader rotate-credentials"
    )


def test_the_leader_prunes_a_revision_nobody_tracks(ctx):
    created = ctx.run(ctx.on.config_changed(), _state())
    rotated = ctx.run(ctx.on.action("rotate-credentials"), created)
    (secret,) = rotated.secrets
    assert secret.latest_content == {"api-key": "n" * 32}
    ctx.run(ctx.on.secret_remove(secret, revision=1), rotated)
    assert ctx.removed_secret_revisions == [1]


# -- the leader memo: what Juju keeps is not asked again while this unit stays leader --------


class Publisher(App):
    """The App, publishing one databag on ``clients``."""

    def converge(self, report: Report) -> None:
        """Publishes, then does what App does."""
        from charmarr_interfaces.download_client.models import DownloadClientRequirerData
        from charmarr_interfaces.endpoint import Endpoint

        clients: Endpoint = Endpoint(self, "clients", None)
        for relation in clients.relations:
            clients.publish(relation, DownloadClientRequirerData(kind="radarr", category="movies"))
        super().converge(report)


PUBLISHED = {"category": '"movies"', "kind": '"radarr"', "version": "1"}


@pytest.fixture
def publisher() -> testing.Context[Publisher]:
    App.steps, App.seen = [], []
    meta = {**META, "provides": {"clients": {"interface": "download-client"}}}
    return testing.Context(Publisher, meta=meta, config=CONFIG, actions=ACTIONS)


def _tools(ctx, event, state):
    from charmarr_testing.pytest_plugin import record_hook_tools

    with record_hook_tools() as tools:
        out = ctx.run(event, state)
    return out, tools.by_tool()


def _bag(state: testing.State) -> dict[str, str]:
    (relation,) = [r for r in state.relations if r.endpoint == "clients"]
    return dict(relation.local_app_data)


def test_a_second_full_reconcile_asks_juju_nothing_the_leader_wrote(publisher):
    state = _state(relations={testing.Relation("clients", remote_app_name="radarr")})
    first, asked = _tools(publisher, publisher.on.config_changed(), state)
    assert _bag(first) == PUBLISHED
    assert first.opened_ports == {testing.TCPPort(8000)}
    again, asked_again = _tools(publisher, publisher.on.config_changed(), first)
    assert _bag(again) == PUBLISHED
    assert asked["opened-ports"] == 1
    for tool in ("opened-ports", "secret-info-get", "relation-get"):
        assert tool not in asked_again, asked_again


@pytest.mark.parametrize("between", ["standby", "leader-elected"])
def test_a_leader_that_was_not_the_leader_meanwhile_reads_and_repairs(publisher, between):
    """Another leader may have written the databag meanwhile: the memo is forgotten."""
    state = _state(relations={testing.Relation("clients", remote_app_name="radarr")})
    first = publisher.run(publisher.on.config_changed(), state)
    (relation,) = first.relations
    other = dataclasses.replace(relation, local_app_data={"kind": '"sonarr"', "version": "1"})
    state = dataclasses.replace(first, relations={other})
    if between == "standby":
        state = publisher.run(
            publisher.on.update_status(), dataclasses.replace(state, leader=False)
        )
        out = publisher.run(publisher.on.config_changed(), dataclasses.replace(state, leader=True))
    else:
        out = publisher.run(publisher.on.leader_elected(), state)
    assert _bag(out) == PUBLISHED


def test_ops_debug_lines_spawn_no_juju_log_but_the_charms_lines_do(ctx):
    """Each line is a juju-log process; ops' DEBUG ones Juju drops at its default level."""
    App.steps = ["pebble"]  # the reconcile logs nothing else; a Pebble failure is told
    out = ctx.run(ctx.on.config_changed(), _state())
    assert out.unit_status.name == "waiting"
    assert not [line for line in ctx.juju_log if line.level == "DEBUG"], ctx.juju_log


def test_after_a_rotation_the_revision_is_asked_of_juju_again(ctx):
    """A rotated secret's revision is this hook's belief until Juju commits it: re-read."""
    created = ctx.run(ctx.on.config_changed(), _state())
    rotated = ctx.run(ctx.on.action("rotate-credentials"), created)
    assert ctx.action_results == {"secret-id": mock_id(rotated), "revision": 2}
    out, asked = _tools(ctx, ctx.on.config_changed(), rotated)
    assert asked.get("secret-info-get") == 1
    _, asked_again = _tools(ctx, ctx.on.config_changed(), out)
    assert "secret-info-get" not in asked_again


def mock_id(state: testing.State) -> str:
    (secret,) = state.secrets
    return secret.id
