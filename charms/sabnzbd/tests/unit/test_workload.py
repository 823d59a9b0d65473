"""First start, sabnzbd.ini, the Pebble layer, idempotency, leadership and workload faults."""

from __future__ import annotations

import dataclasses
import re

import ops
import pytest
import sabnzbd_wired as wired
from ops import pebble, testing

from charmarr_testing import builders
from charmarr_testing.fake_sabnzbd import FakeSabnzbd

BOTH = ("radarr", "sonarr")

PEBBLE_WRITES = ("push", "add_layer", "replan", "start", "stop", "restart")

MEDIA = {"media-volume": "charmarr-media"}


def ini(config_dir):
    return (config_dir / "sabnzbd.ini").read_text()


def writes(calls):
    return [c for c in calls if c in PEBBLE_WRITES]


APP = wired.APP
HOST_NAMES = [
    APP,
    f"{APP}.media",
    f"{APP}.media.svc",
    f"{APP}.media.svc.cluster.local",
    f"{APP}-0.{APP}-endpoints",
    f"{APP}-0.{APP}-endpoints.media",
    f"{APP}-0.{APP}-endpoints.media.svc",
    f"{APP}-0.{APP}-endpoints.media.svc.cluster.local",
]

SABNZBD_WROTE = """__version__ = 19
__encoding__ = utf-8
[misc]
api_key = 0123456789abcdef0123456789abcdef
host_whitelist = myhost.example, sabnzbd
queue_complete = ""
cache_limit = 1G
download_dir = /mnt/usenet/incomplete
complete_dir = /mnt/usenet/done
socks5_proxy_url = ""
[servers]
[[news.example.com]]
name = news.example.com
host = news.example.com
port = 563
username = reader
[categories]
[[*]]
name = *
order = 0
pp = 3
dir = ""
"""


def state(config_dir, *, leader=True, secret=True, running=True, with_layer=True, **kw):
    kw.setdefault("config", {**MEDIA, "require-vpn": False})
    return testing.State(
        leader=leader,
        model=testing.Model(name="media"),
        secrets=[wired.owned_secret()] if secret else [],
        containers=[wired.container(config_dir, running=running, with_layer=with_layer)],
        **kw,
    )


def test_first_start_writes_ini_with_generated_key_then_starts(ctx, fake, config_dir):
    before = state(config_dir, secret=False, with_layer=False)
    out = ctx.run(ctx.on.pebble_ready(before.get_container("sabnzbd")), before)

    secret = out.get_secret(label=wired.LABEL)
    key = secret.latest_content["api-key"]
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    text = ini(config_dir)
    assert f"api_key = {key}" in text
    for name in HOST_NAMES:
        assert name in text
    assert "download_dir = /data/downloads/incomplete" in text
    assert "complete_dir = /data/downloads/complete" in text
    container = out.get_container("sabnzbd")
    service = container.plan.services["sabnzbd"]
    # The image's interpreter and environment, not whatever python3 is on PATH.
    assert service.command.startswith("/lsiopy/bin/python3 /app/sabnzbd/SABnzbd.py")
    assert "--config-file /config/sabnzbd.ini" in service.command
    assert "--browser 0" in service.command
    assert service.environment["HOME"] == "/config"
    assert service.environment["PATH"].startswith("/lsiopy/bin:")
    assert (service.user_id, service.group_id, service.startup) == (1000, 1000, "disabled")
    # /config (a root-owned fresh volume) became SABnzbd's user's before its first start.
    assert [e.command for e in ctx.exec_history["sabnzbd"]] == [["chown", "1000:1000", "/config"]]
    assert "localhost:8080/api?mode=version" in container.plan.checks["sabnzbd-ready"].http["url"]
    assert container.service_statuses["sabnzbd"] == pebble.ServiceStatus.ACTIVE
    assert out.unit_status == testing.WaitingStatus("waiting for sabnzbd to start")
    assert out.opened_ports == {testing.TCPPort(8080)}


def test_config_is_owned_once_and_again_until_it_worked(ctx, fake, config_dir):
    # The chown fails: nothing is written, so the next hook tries again.
    failing = dataclasses.replace(
        wired.container(config_dir, with_layer=False),
        execs={testing.Exec(["chown"], return_code=1)},
    )
    before = dataclasses.replace(state(config_dir, with_layer=False), containers=[failing])
    out = ctx.run(ctx.on.pebble_ready(before.get_container("sabnzbd")), before)
    assert out.unit_status == testing.WaitingStatus("waiting to take ownership of /config")
    assert not (config_dir / "sabnzbd.ini").exists()
    assert "sabnzbd" not in out.get_container("sabnzbd").service_statuses

    # Once sabnzbd.ini exists, /config is SABnzbd's: no more chown.
    (config_dir / "sabnzbd.ini").write_text(wired.ini_text(wired.API_KEY))
    ctx.run(ctx.on.update_status(), state(config_dir))
    assert len(ctx.exec_history["sabnzbd"]) == 1


def test_ini_keeps_every_setting_sabnzbd_wrote(ctx, fake, config_dir, pebble_calls):
    (config_dir / "sabnzbd.ini").write_text(SABNZBD_WROTE)

    out = ctx.run(ctx.on.update_status(), state(config_dir))

    text = ini(config_dir)
    assert f"api_key = {wired.API_KEY}" in text
    # the user's own settings, servers and categories are untouched, line for line
    for line in SABNZBD_WROTE.splitlines():
        if not line.startswith(("api_key", "host_whitelist")):
            assert line in text.splitlines()
    assert "host_whitelist = myhost.example, sabnzbd, " in text
    # SABnzbd was stopped before the file changed, and started again
    assert pebble_calls.index("stop") < pebble_calls.index("push") < pebble_calls.index("start")
    assert out.unit_status.name == "waiting"


def test_second_update_status_changes_nothing(ctx, fake_network, pebble_calls, hook_tools):
    state_in, fake = wired.wired_state(fake_network, consumers=BOTH)
    first = ctx.run(ctx.on.update_status(), state_in)
    assert first.unit_status.name == "active"
    before = ini(wired_dir(state_in))
    fake.requests.clear()
    pebble_calls.clear()
    hook_tools.clear()

    second = ctx.run(ctx.on.update_status(), first)

    assert second.unit_status == first.unit_status
    assert writes(pebble_calls) == []
    assert len(pebble_calls) <= 3
    assert fake.api_writes == []
    assert ini(wired_dir(state_in)) == before
    secret_in = first.get_secret(label=wired.LABEL)
    secret_out = second.get_secret(label=wired.LABEL)
    assert secret_out.latest_content == secret_in.latest_content
    assert hook_tools.count("secret-set") == 0
    assert hook_tools.count("secret-grant") == 0
    assert hook_tools.count("relation-set") == 0
    assert hook_tools.count("secret-add") == 0
    for relation in second.relations:
        assert relation.local_app_data == first.get_relation(relation.id).local_app_data


def wired_dir(state_in):
    return state_in.get_container("sabnzbd").mounts["config"].source


def test_non_leader_stands_by_and_manages_nothing(ctx, fake_network, hook_tools):
    state_in, fake = wired.wired_state(fake_network, leader=False, consumers=BOTH)
    categories = dict(fake.categories)

    out = ctx.run(ctx.on.update_status(), state_in)

    assert out.unit_status == testing.BlockedStatus(
        "sabnzbd-k8s runs on one unit only; this one stands by, stopped: "
        "juju scale-application sabnzbd-k8s 1"
    )
    assert hook_tools.management == []
    for relation in out.relations:
        assert relation.local_app_data == {}
    assert fake.categories == categories, "categories are the leader's to make"
    assert out.get_container("sabnzbd").service_statuses.get("sabnzbd") != (
        ops.pebble.ServiceStatus.ACTIVE
    )


def test_a_fresh_non_leader_writes_no_ini(ctx, fake, config_dir, hook_tools):
    out = ctx.run(ctx.on.config_changed(), state(config_dir, leader=False, secret=False))

    assert out.unit_status.name == "blocked"
    assert "juju scale-application sabnzbd-k8s 1" in out.unit_status.message
    assert hook_tools.management == []
    assert not (config_dir / "sabnzbd.ini").exists()


def test_container_not_reachable_is_waiting(ctx, fake, config_dir):
    container = testing.Container("sabnzbd", can_connect=False)
    out = ctx.run(
        ctx.on.update_status(),
        testing.State(
            leader=True, config=MEDIA, secrets=[wired.owned_secret()], containers=[container]
        ),
    )
    assert out.unit_status == testing.WaitingStatus("waiting for the sabnzbd container")


@pytest.mark.parametrize(
    ("fault", "status", "text"),
    [
        ("down", "waiting", "waiting for sabnzbd to answer"),
        ("401", "blocked", "HTTP 401"),
        ("500", "waiting", "HTTP 500"),
        ("garbage", "blocked", "non-JSON"),
    ],
)
def test_workload_faults_end_in_a_status(ctx, fake_network, fault, status, text):
    state_in, fake = wired.wired_state(fake_network, consumers=BOTH)
    fake.fault = fault

    out = ctx.run(ctx.on.update_status(), state_in)

    assert out.unit_status.name == status
    assert text in out.unit_status.message
    assert fake.api_writes == []


@pytest.mark.parametrize("refusal", ["403", "body"])
def test_refused_key_restarts_sabnzbd_to_load_it(ctx, fake_network, pebble_calls, refusal):
    """SABnzbd 3.7 refuses with HTTP 403; others with HTTP 200 and an error body."""
    state_in, fake = wired.wired_state(fake_network, consumers=BOTH)
    fake.api_key = "ffffffffffffffffffffffffffffffff"
    fake.refusal = refusal  # type: ignore[assignment]

    out = ctx.run(ctx.on.update_status(), state_in)

    assert out.unit_status == testing.WaitingStatus("restarting sabnzbd to load its API key")
    assert "restart" in pebble_calls
    assert fake.api_writes == []


def test_ini_changed_by_the_user_is_put_back_with_a_restart(ctx, fake_network, pebble_calls):
    state_in, _ = wired.wired_state(fake_network, consumers=BOTH)
    path = wired_dir(state_in) / "sabnzbd.ini"
    path.write_text(path.read_text().replace(wired.API_KEY, "ab" * 16))

    ctx.run(ctx.on.update_status(), state_in)

    assert f"api_key = {wired.API_KEY}" in path.read_text()
    assert pebble_calls.index("stop") < pebble_calls.index("push") < pebble_calls.index("start")


def test_invalid_rotation_interval_is_blocked_naming_the_values(ctx, fake_network):
    state_in, _ = wired.wired_state(fake_network, consumers=BOTH)
    state_in = dataclasses.replace(state_in, config={**MEDIA, "rotation-interval": "fortnightly"})

    out = ctx.run(ctx.on.config_changed(), state_in)

    assert out.unit_status.name == "blocked"
    assert "rotation-interval" in out.unit_status.message
    assert "never, hourly, daily, weekly, monthly, quarterly, yearly" in out.unit_status.message


@pytest.mark.parametrize(
    ("value", "policy"),
    [
        ("weekly", ops.SecretRotate.WEEKLY),
        ("hourly", ops.SecretRotate.HOURLY),
        ("yearly", ops.SecretRotate.YEARLY),
    ],
)
def test_rotation_interval_sets_the_secret_policy(ctx, fake_network, value, policy):
    state_in, _ = wired.wired_state(fake_network, consumers=BOTH)
    state_in = dataclasses.replace(
        state_in, config={**MEDIA, "rotation-interval": value, "require-vpn": False}
    )

    out = ctx.run(ctx.on.config_changed(), state_in)

    assert out.get_secret(label=wired.LABEL).rotate == policy


def test_rotation_interval_never_turns_rotation_off(ctx, fake_network):
    state_in, _ = wired.wired_state(fake_network, consumers=BOTH)
    secret = testing.Secret(
        {"api-key": wired.API_KEY}, label=wired.LABEL, owner="app", rotate=ops.SecretRotate.DAILY
    )
    state_in = dataclasses.replace(
        state_in,
        config={**MEDIA, "rotation-interval": "never", "require-vpn": False},
        secrets=[secret, *[s for s in state_in.secrets if s.label != wired.LABEL]],
    )

    out = ctx.run(ctx.on.config_changed(), state_in)

    assert out.get_secret(label=wired.LABEL).rotate == ops.SecretRotate.NEVER


def test_publishes_url_kind_and_secret_id_and_grants(ctx, fake, config_dir):
    radarr = builders.download_client_from_arr(kind="radarr", relation_id=7)
    state_in = state(config_dir, relations=[radarr.relation])
    (config_dir / "sabnzbd.ini").write_text(wired.ini_text(wired.API_KEY))

    out = ctx.run(ctx.on.relation_joined(radarr.relation), state_in)

    secret = out.get_secret(label=wired.LABEL)
    data = out.get_relation(7).local_app_data
    assert data["url"] == f'"http://{APP}.media.svc.cluster.local:8080"'
    assert data["kind"] == '"sabnzbd"'
    assert data["credentials_secret_id"] == f'"{secret.id}"'
    assert 7 in secret.remote_grants
    assert out.unit_status.name == "active"


def test_fake_and_wired_agree(fake_network):
    """The wired state's ini carries the key its fake accepts (used by the repo sweeps)."""
    state_in, fake = wired.wired_state(fake_network, consumers=BOTH)
    assert isinstance(fake, FakeSabnzbd)
    assert f"api_key = {fake.api_key}" in ini(wired_dir(state_in))


def test_service_that_fails_to_start_is_blocked_not_a_hook_error(
    ctx, fake, config_dir, monkeypatch
):
    def fail(self, *names):
        raise pebble.ChangeError("cannot start service: exited quickly", change=None)  # type: ignore[arg-type]

    monkeypatch.setattr(ops.Container, "start", fail)
    out = ctx.run(ctx.on.update_status(), state(config_dir, running=False))

    assert out.unit_status == testing.BlockedStatus(
        f"sabnzbd did not start: see juju ssh --container sabnzbd {APP}/0 pebble logs sabnzbd"
    )


def test_readiness_check_recovery_reconciles(ctx, fake_network):
    state_in, fake = wired.wired_state(fake_network, consumers=BOTH)
    container = state_in.get_container("sabnzbd")
    check = testing.CheckInfo(
        "sabnzbd-ready", level=pebble.CheckLevel.READY, status=pebble.CheckStatus.UP
    )
    container = dataclasses.replace(container, check_infos=frozenset({check}))
    state_in = dataclasses.replace(state_in, containers=[container])

    out = ctx.run(ctx.on.pebble_check_recovered(container, check), state_in)

    assert {"radarr", "sonarr"} <= set(fake.categories)
    assert out.unit_status.name == "active"


def test_media_volume_is_mounted_at_data(ctx, config_dir, fake, fake_network):
    out = ctx.run(ctx.on.config_changed(), state(config_dir))
    mounts = fake_network.kubernetes.container("sabnzbd-k8s", "sabnzbd")["volumeMounts"]
    assert mounts == [{"name": "charmarr-media", "mountPath": "/data"}]
    unset = dataclasses.replace(out, config={"require-vpn": False})
    out = ctx.run(ctx.on.config_changed(), unset)
    assert out.unit_status.message.startswith("media-volume unset: create a ReadWriteMany PVC")
    assert fake_network.kubernetes.container("sabnzbd-k8s", "sabnzbd")["volumeMounts"] == []
