"""Sweeps over every charm under ``charms/``: what no input may ever do.

Each charm is discovered from the tree and driven through its wired state
(``charms/<name>/tests/<name>_wired.py``), so a charm added later is covered with
no change here; a charm without a wired state fails ``test_every_charm_has_a_wired_state``.

- non-leader: every event a charm can receive runs on a non-leader unit without an
  uncaught error and without a single secret-management hook-tool call; a non-leader
  stands by (workload stopped and off at boot, its ready checks failing at once, a status
  that names ``juju scale-application <app> 1``), and starts its workload once elected;
- adversarial relation data: for every endpoint, leader and non-leader,
  ``relation-changed`` then ``update-status`` with arbitrary remote databags ends in a
  status, never an uncaught error;
- workload faults: the charm's own workload down, answering 401, 500 or garbage ends in
  Waiting/Blocked/Maintenance with a reason, never a hook error, and no secret revision
  the workload did not accept is published (neither by reconcile nor by rotate-credentials).
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml
from charms_under_test import charm_dirs, context, wired_state
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ops import pebble, testing

from charmarr_testing.fakes import FakeNetwork
from charmarr_testing.juju_semantics import owner_secret_changed
from charmarr_testing.pytest_plugin import SECRET_MANAGEMENT_TOOLS, record_hook_tools

CHARMS = sorted(charm_dirs())
SETTLED = ("active", "waiting", "blocked", "maintenance")


def _has_wired(name: str) -> bool:
    return (charm_dirs()[name] / "tests" / f"{name}_wired.py").is_file()


def _meta(name: str) -> dict:
    return yaml.safe_load((charm_dirs()[name] / "charmcraft.yaml").read_text())


def _endpoints(name: str) -> list[str]:
    meta = _meta(name)
    return sorted([*meta.get("provides", {}), *meta.get("requires", {})])


def _wired(name: str, network: FakeNetwork, *, leader: bool):
    if not _has_wired(name):
        pytest.fail(f"charm {name} has no tests/{name}_wired.py")
    return wired_state(name, network, leader=leader)


def _owned_contents(state: testing.State) -> dict[str, dict[str, str]]:
    return {s.label or s.id: dict(s.latest_content) for s in state.secrets if s.owner is not None}


@pytest.mark.parametrize("name", CHARMS)
def test_every_charm_has_a_wired_state(name):
    assert _has_wired(name), f"add charms/{name}/tests/{name}_wired.py"


def _every_event(ctx, state: testing.State, actions: list[str]):
    on = ctx.on
    yield "install", on.install()
    yield "start", on.start()
    yield "config-changed", on.config_changed()
    yield "update-status", on.update_status()
    yield "leader-elected", on.leader_elected()
    yield "upgrade-charm", on.upgrade_charm()
    for container in state.containers:
        yield f"{container.name}-pebble-ready", on.pebble_ready(container)
    for relation in state.relations:
        label = f"{relation.endpoint}:{relation.id}"
        yield f"{label} created", on.relation_created(relation)
        yield f"{label} joined", on.relation_joined(relation, remote_unit=0)
        yield f"{label} changed", on.relation_changed(relation)
        yield f"{label} departed", on.relation_departed(relation, remote_unit=0)
        yield f"{label} broken", on.relation_broken(relation)
    for secret in state.secrets:
        if secret.owner is None:
            yield f"secret-changed {secret.label or secret.id}", on.secret_changed(secret)
        else:
            yield f"secret-rotate {secret.label}", on.secret_rotate(secret)
            # Juju sends secret-changed to the owner's other units (PR 15127).
            yield f"secret-changed {secret.label}", owner_secret_changed(secret)
    for storage in state.storages:
        yield f"{storage.name}-storage-attached", on.storage_attached(storage)
    for action in actions:
        yield f"action {action}", on.action(action)


@pytest.mark.parametrize("name", CHARMS)
def test_non_leader_handles_every_event_without_managing_secrets(name, fake_network):
    state, _ = _wired(name, fake_network, leader=False)
    actions = sorted(_meta(name).get("actions") or {})
    ctx = context(name)
    for label, event in _every_event(ctx, state, actions):
        with record_hook_tools() as calls:
            try:
                out = ctx.run(event, state)
            except testing.ActionFailed as failure:
                assert "leader" in failure.message, f"{name} {label}: {failure.message}"
                out = failure.state
        management = [c for c in calls.calls if c in SECRET_MANAGEMENT_TOOLS]
        assert management == [], f"{name} non-leader {label} called {management}"
        if out is not None:
            assert out.unit_status.name in SETTLED, f"{name} {label}: {out.unit_status}"


@pytest.mark.parametrize("name", CHARMS)
def test_a_non_leader_stands_by_until_it_is_elected(name, fake_network):
    """One workload per app: a non-leader keeps its workload stopped (and off at boot), its
    pod fails its readiness probe at the first check (the Service sends it nothing), its
    status names the command that scales back, and it sends its workload nothing. Elected,
    it runs the workload and ends Active."""
    state, own = _wired(name, fake_network, leader=False)
    ctx = context(name)
    out = ctx.run(ctx.on.update_status(), ctx.run(ctx.on.config_changed(), state))

    assert out.unit_status.name == "blocked", f"{name}: {out.unit_status}"
    assert out.unit_status.message.endswith(" 1") and "juju scale-application " in (
        out.unit_status.message
    )
    for container in out.containers:
        plan = container.plan
        assert plan.checks, f"{name} {container.name}: no check, so the pod stays ready"
        for check in plan.checks.values():
            assert (check.level, check.threshold) == (pebble.CheckLevel.READY, 1), check.name
        for service, info in plan.services.items():
            assert info.startup == "disabled", f"{name}: {service} would start on boot"
        for service, status in container.service_statuses.items():
            assert status != pebble.ServiceStatus.ACTIVE, f"{name}: {service} runs"
    assert getattr(own, "requests", []) == [], f"{name}: a standby called its workload"

    elected = ctx.run(ctx.on.leader_elected(), dataclasses.replace(out, leader=True))
    elected = ctx.run(ctx.on.update_status(), elected)
    assert elected.unit_status.name == "active", f"{name} elected: {elected.unit_status}"
    for container in elected.containers:
        for service, status in container.service_statuses.items():
            assert status == pebble.ServiceStatus.ACTIVE, f"{name} elected: {service}"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=4,
)
_KEYS = st.sampled_from(
    [
        "version",
        "url",
        "kind",
        "category",
        "api_key_secret_id",
        "credentials_secret_id",
        "token_secret_id",
        "http_proxy_url",
        "socks5_proxy_url",
        "control_url",
        "proxy_credentials_secret_id",
        "control_secret_id",
        "connected",
        "public_ip",
        "foreign",
    ]
)
_VALUES = st.one_of(
    _JSON.map(json.dumps),
    st.text(max_size=24),
    st.sampled_from(
        [
            '"secret:cektar2jffvo4pjxkoxa"',
            '"secret://0b3a1e4e-59d5-4b8a-8f2c-5c3a7b0a1d2e/cektar2jffvo4pjxkoxa"',
            '"secret:nope"',
            '"radarr"',
            '"qbittorrent"',
            '"http://x:1"',
            "2",
            "1",
            "true",
        ]
    ),
)
_DATABAGS = st.dictionaries(_KEYS, _VALUES, max_size=8)

_GARBAGE_CASES = [
    (name, endpoint, leader)
    for name in CHARMS
    for endpoint in _endpoints(name)
    for leader in (True, False)
]


@pytest.mark.parametrize(("name", "endpoint", "leader"), _GARBAGE_CASES)
def test_adversarial_relation_data_ends_in_a_status(name, endpoint, leader):
    network = FakeNetwork()
    from charmarr_common.http import use_transport

    with use_transport(network):
        state, _ = _wired(name, network, leader=leader)
        ctx = context(name)

        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
        @given(raw=_DATABAGS)
        def run(raw):
            others = [r for r in state.relations if r.endpoint != endpoint]
            mine = [r for r in state.relations if r.endpoint == endpoint]
            if mine:
                target = dataclasses.replace(mine[0], remote_app_data=raw)
                relations = [*others, target, *mine[1:]]
            else:
                target = testing.Relation(endpoint, remote_app_name="foreign", remote_app_data=raw)
                relations = [*others, target]
            fuzzed = dataclasses.replace(state, relations=relations)
            out = ctx.run(ctx.on.relation_changed(target), fuzzed)
            out = ctx.run(ctx.on.update_status(), out)
            assert out.unit_status.name in SETTLED

        run()


@pytest.mark.parametrize("fault", ["down", "401", "500", "garbage"])
@pytest.mark.parametrize("name", CHARMS)
def test_workload_faults_end_in_a_reason_and_publish_nothing(name, fault, fake_network):
    state, own = _wired(name, fake_network, leader=True)
    ctx = context(name)
    converged = ctx.run(ctx.on.update_status(), ctx.run(ctx.on.config_changed(), state))
    assert converged.unit_status.name == "active", f"{name} wired state: {converged.unit_status}"
    before = _owned_contents(converged)
    own.fault = fault
    out = ctx.run(ctx.on.update_status(), converged)
    assert out.unit_status.name in ("waiting", "blocked", "maintenance"), (
        f"{name}: {out.unit_status}"
    )
    assert out.unit_status.message
    assert _owned_contents(out) == before
    if "rotate-credentials" in (_meta(name).get("actions") or {}):
        try:
            out = ctx.run(ctx.on.action("rotate-credentials"), converged)
        except testing.ActionFailed as failure:
            out = failure.state
        assert out is not None
        # A rotation the workload did not confirm must not reach the consumers.
        changed = {k for k, v in _owned_contents(out).items() if before.get(k) != v}
        assert not changed, f"{name} published {changed} under {fault}"
