"""The whole stack in one process: the seven charms chained through ``ops.testing`` as Juju would.

Most tests start from bundle.yaml deployed with the user secrets granted (once per session,
copied per test: the ``deployed`` fixture); the others deploy what they need into an empty
:class:`~stack.Stack` (one ``State`` per unit, one fake workload per unit on one
network). Each checks what an operator would see in ``juju status`` and inside the apps. Every hook also runs under the leak guard and the
stack's own whole-run checks (no secret value in any databag or status, no secret
management by a non-leader); each test ends by asserting there was no violation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import expect
import ops
import pytest
from charms_under_test import repo_root
from guide import WIREGUARD, deploy_charmarr, set_up_apps
from kits import bundle
from records import MODEL_NAME, Hook
from stack import Stack, _writes

from charmarr_common.cleanup import managed_name
from charmarr_testing.faults import before_hook_tool, pebble_outage
from charmarr_testing.juju_semantics import leadership
from charmarr_testing.pytest_plugin import SecretLeakError


def test_deploy_and_integrate_everything_delivers_every_credential(deployed: Stack):
    stack = deployed  # bundle.yaml + user secrets, deployed once per session (conftest)

    assert expect.all_active(stack) == {}, "every unit Active after deploy + integrate"
    assert stack.app("plex").fake.is_claimed, "Plex claimed with the user's claim token"
    assert "VPN connected via mullvad" in stack.statuses()["gluetun/0"]
    expect.check_delivered(stack)
    expect.check_media_volume(stack)
    assert len(stack.plex_tv.exchanges) == 1, "the claim token is exchanged exactly once"
    # Every secret ID in a databag was granted to that relation (a grant comes first).
    for rel in stack.relations.values():
        for app, bag in rel.app_data.items():
            for key, value in bag.items():
                if key.endswith("secret_id"):
                    record = stack.secrets[value.strip('"')]
                    assert rel.id in record.grants, f"{app} published {key} without a grant"
    assert stack.violations == []


def test_a_converged_stack_stays_still(deployed: Stack):
    """One more update-status everywhere changes nothing: no revision, no write, no restart."""
    stack = deployed
    before = stack.fingerprint()
    boots = {
        u.name: [w.boots for w in u.workloads.values()]
        for a in stack.apps.values()
        for u in a.units
    }
    mark = len(stack.hooks)
    stack.update_status()
    stack.settle()

    assert stack.fingerprint() == before
    assert [h.kind for h in stack.hooks_since(mark)] == ["update-status"] * 7
    after = {
        u.name: [w.boots for w in u.workloads.values()]
        for a in stack.apps.values()
        for u in a.units
    }
    assert after == boots, "no workload restarted"


# ---------------------------------------------------------------------------------------------
# Rotation
# ---------------------------------------------------------------------------------------------


def test_rotation_interval_changes_the_schedule_only(deployed: Stack):
    """``juju config <app> rotation-interval=never`` on every generator: no revision, no hook
    on any consumer, every secret's rotate policy off; ``weekly`` turns it back on."""
    stack = deployed
    records = {app: stack.owned(app, label) for app, label in expect.GENERATORS.items()}
    revisions = {app: r.latest for app, r in records.items()}
    for interval, policy in (
        ("never", ops.SecretRotate.NEVER),
        ("weekly", ops.SecretRotate.WEEKLY),
    ):
        mark = len(stack.hooks)
        for app in expect.GENERATORS:
            stack.configure(app, rotation_interval=interval)
        stack.converge()
        assert {a: r.rotate for a, r in records.items()} == dict.fromkeys(records, policy)
        assert {a: r.latest for a, r in records.items()} == revisions
        assert [h for h in stack.hooks_since(mark) if h.kind.startswith("secret-")] == []
        assert expect.all_active(stack) == {}


def rotate(stack: Stack, owner: str, how: str) -> None:
    """Rotate ``owner``'s credential ``how`` ("action" or "schedule") and check it converges."""
    label = expect.GENERATORS[owner]
    record = stack.owned(owner, label)
    old, old_revision = record.content, record.latest
    consumers = expect.CONSUMERS[owner]
    mark = len(stack.hooks)
    problems: list[str] = []

    def at_each_hook(hook: Hook) -> None:
        if hook.app == owner and record.latest != old_revision and not published:
            # The revision was published by this hook: the workload must accept it already.
            published.append(hook)
            if not expect.owner_accepts(stack, owner, record.content):
                problems.append(f"{owner} published a credential its workload refuses")
        if hook.app in consumers:
            mine = [h for h in stack.hooks_since(mark) if h.unit == hook.unit]
            if mine[0].kind != "secret-changed" or mine[0].args[0] != record.id:
                problems.append(f"{hook.unit}: first hook after the rotation was {mine[0].kind}")
            elif (
                hook is mine[0]
                and stack.unit(hook.unit).leader  # a standby's workload uses nothing
                and not expect.holds(stack, hook.app, owner, record.content, [hook])
            ):
                problems.append(f"{hook.unit} did not use the new credential in secret-changed")

    published: list[Hook] = []
    stack.after_hook.append(at_each_hook)
    try:
        if how == "action":
            outcome = stack.run_action(f"{owner}/leader", "rotate-credentials")
            assert outcome.failure is None, outcome.failure
            assert outcome.results == {"secret-id": record.id, "revision": record.latest}
        else:
            stack.secret_rotate(owner, label)
        stack.settle()
        first = stack.hooks[mark]
        assert (first.unit, first.kind) == (
            stack.app(owner).leader.name,
            "action" if how == "action" else "secret-rotate",
        )
    finally:
        stack.after_hook.remove(at_each_hook)

    new = record.content
    assert record.latest > old_revision and new != old, f"{owner}: no new revision ({how})"
    assert expect.owner_accepts(stack, owner, new), f"{owner} does not accept its new credential"
    assert not expect.owner_accepts(stack, owner, old), f"{owner} still accepts the old one"
    assert problems == []
    changed = [h for h in stack.hooks_since(mark) if h.kind == "secret-changed"]
    per_unit = {u.name: 0 for app in consumers for u in stack.app(app).units}
    followers = {u.name: 0 for u in stack.app(owner).units if not u.leader}
    for hook in changed:
        if hook.app == owner:
            followers[hook.unit] += 1
        else:
            per_unit[hook.unit] += 1
    assert per_unit == dict.fromkeys(per_unit, 1), f"{owner}: secret-changed per consumer"
    # Juju sends the owner's other units secret-changed too (PR 15127).
    assert followers == dict.fromkeys(followers, 1), f"{owner}: secret-changed per follower"
    for consumer in consumers:
        hooks = [h for h in stack.hooks_since(mark) if h.app == consumer]
        assert expect.holds(stack, consumer, owner, new, hooks), f"{consumer} holds {owner}'s old"
    # Until their next hook, SABnzbd may say "waiting for sabnzbd to start".
    stack.converge()
    assert expect.all_active(stack) == {}
    assert old_revision in record.pruned and old_revision not in record.revisions, (
        f"{owner}: revision {old_revision} not pruned once nobody tracked it"
    )


def test_a_control_key_rotates_for_its_own_relation_only(deployed: Stack):
    stack = deployed
    rid = stack.relation("gluetun", "qbittorrent").id
    record = stack.owned("gluetun", f"gluetun-control-{rid}")
    others = {r: c.content for r, c in expect.control_secrets(stack).items() if r != rid}
    old, old_revision = record.content["api-key"], record.latest
    mark = len(stack.hooks)

    stack.secret_rotate("gluetun", f"gluetun-control-{rid}")
    stack.settle()

    new = record.content["api-key"]
    assert new != old
    assert expect.gluetun_roles(stack)[f"vpn-gateway-{rid}"] == new
    assert expect.probe_control_key(new) and not expect.probe_control_key(old)
    changed = [h for h in stack.hooks_since(mark) if h.kind == "secret-changed"]
    assert [h.unit for h in changed] == ["qbittorrent/0"], "only its own relation's app"
    control = f"gluetun.{MODEL_NAME}.svc.cluster.local:8000"
    keys = [r.headers.get("X-API-Key") for r in stack.requests_of(changed[0]) if control in r.url]
    assert keys and set(keys) == {new}, "qBittorrent asks Gluetun with the new key at once"
    assert {r: c.content for r, c in expect.control_secrets(stack).items() if r != rid} == others
    stack.converge()
    assert old_revision in record.pruned
    assert expect.all_active(stack) == {}


def test_the_plex_token_follows_the_token_plex_holds(deployed: Stack):
    """Plex got a new token (claimed again): plex-token gets a revision, and Radarr and
    Sonarr update their notifications in their one secret-changed hook."""
    stack = deployed
    record = stack.owned("plex", "plex-token")
    old, old_revision = record.content["token"], record.latest
    prefs = stack.app("plex").leader.dirs["prefs"]
    new = "plex-server-token-5e4d3c2b1a"
    prefs.write_text(
        prefs.read_text().replace(f'PlexOnlineToken="{old}"', f'PlexOnlineToken="{new}"')
    )
    mark = len(stack.hooks)

    stack.update_status("plex")
    stack.settle()

    assert record.content == {"token": new} and record.latest > old_revision
    hooks = stack.hooks_since(mark)
    assert [(h.unit, h.kind) for h in hooks] == [
        ("plex/0", "update-status"),
        ("radarr/0", "secret-changed"),
        ("sonarr/0", "secret-changed"),
        ("plex/0", "secret-remove"),
    ]
    for app in expect.MANAGERS:
        plex = stack.app(app).fake.named("notification")[managed_name("plex")]
        assert expect.fields_of(plex)["authToken"] == new
    assert old_revision in record.pruned
    assert len(stack.plex_tv.exchanges) == 1, "no new claim"


@pytest.mark.parametrize("how", ["action", "schedule"])
def test_rotating_each_generator_converges_everywhere(deployed: Stack, how: str):
    for owner in expect.GENERATORS:
        rotate(deployed, owner, how)
    expect.check_delivered(deployed)


@pytest.mark.parametrize("how", ["action", "schedule"])
def test_a_scaled_generator_publishes_only_what_its_one_workload_accepted(
    deployed: Stack, how: str
):
    """Two units of each generator: a rotation is applied to, and confirmed by, the
    leader's workload alone (the other unit's stays stopped, outside the Service); once
    elected, that unit runs on the revision the leader published."""
    stack = deployed
    for owner in expect.GENERATORS:
        stack.add_unit(owner)
    stack.converge()
    for owner, label in expect.GENERATORS.items():
        rotate(stack, owner, how)
        stack.converge()
        published = stack.owned(owner, label).content
        leader = stack.app(owner).leader
        assert expect.owner_accepts(stack, owner, published, leader), leader.name
        assert expect.active_units(stack, owner) == [leader.name]
        for unit in stack.app(owner).units:
            if unit is not leader:
                assert all(w.boots == 0 for w in unit.workloads.values()), unit.name
    assert expect.all_active(stack) == {}
    assert expect.standbys(stack) == {f"{owner}/1" for owner in expect.GENERATORS}

    for owner in expect.GENERATORS:
        stack.remove_unit(f"{owner}/0")
    stack.converge()
    # Each new leader started from its own volume: the operator adds Prowlarr's indexers
    # again and syncs them (Settings, Apps, Sync App Indexers), as the guide says.
    set_up_apps(stack)
    stack.app("prowlarr").fake.sync(None)
    stack.converge()
    for owner, label in expect.GENERATORS.items():
        published = stack.owned(owner, label).content
        assert stack.app(owner).leader.name == f"{owner}/1"
        assert expect.owner_accepts(stack, owner, published), f"{owner}: the new leader's"
        assert expect.active_units(stack, owner) == [f"{owner}/1"]
    assert expect.all_active(stack) == {}
    expect.check_delivered(stack)


@contextmanager
def _fault_at_secret_set(fault: str) -> Iterator[None]:
    """``fault`` strikes after the workload took the new credential, as Juju is asked for
    the new revision: leadership moves on, the secret is gone, or Pebble stops answering."""
    if fault == "leadership lost":
        with leadership() as lead, before_hook_tool("secret-set", lead.lose):
            yield
    elif fault == "secret removed":

        def gone() -> None:
            raise ops.SecretNotFoundError("injected: the secret was removed")

        with before_hook_tool("secret-set", gone):
            yield
    else:
        with pebble_outage() as outage, before_hook_tool("secret-set", outage.start):
            yield


@pytest.mark.parametrize("fault", ["leadership lost", "secret removed", "pebble gone"])
def test_an_interrupted_rotation_never_leaves_a_credential_no_secret_holds(
    deployed: Stack, fault: str
):
    """For every generator: a fault between the workload's change and the new revision ends
    without a hook error, and the workload runs on the revision Juju publishes: the old one
    (restored) when Juju refused it, the new one when only Pebble went away; a unit that
    lost leadership stops its workload until it leads again."""
    stack = deployed
    for owner, label in expect.GENERATORS.items():
        record = stack.owned(owner, label)
        old, old_revision = record.content, record.latest
        with _fault_at_secret_set(fault):
            outcome = stack.run_action(f"{owner}/leader", "rotate-credentials")
        if fault == "pebble gone":
            assert outcome.failure is None, f"{owner}: {outcome.failure}"
            assert outcome.results["revision"] == record.latest == old_revision + 1, owner
            assert record.content != old, owner
        else:
            assert outcome.failure is not None and "rotation failed" in outcome.failure, owner
            assert record.latest == old_revision and record.content == old, owner
        if fault == "leadership lost":
            # No longer the leader: the unit stands by, its workload stopped, until it is
            # elected again (here: its next hook), when it starts on the published one.
            assert expect.active_units(stack, owner) == [], f"{owner}: still running"
        else:
            assert expect.owner_accepts(stack, owner, record.content), (
                f"{owner} ({fault}): the workload runs on a credential no secret holds"
            )
        stack.converge()
        assert expect.owner_accepts(stack, owner, record.content), owner
    assert expect.all_active(stack) == {}


def test_a_prowlarr_rotation_reaches_every_indexer_radarr_and_sonarr_hold(deployed: Stack):
    """Radarr and Sonarr show an indexer's key masked and Prowlarr's sync takes a masked
    key as equal: only a forced sync brings them the new key."""
    stack = deployed
    record = stack.owned("prowlarr", "prowlarr-api-key")
    old = record.content["api-key"]
    for app in expect.MANAGERS:
        assert set(expect.prowlarr_indexer_keys(stack, app).values()) == {old}

    outcome = stack.run_action("prowlarr/leader", "rotate-credentials")
    assert outcome.failure is None, outcome.failure
    stack.converge()

    new = record.content["api-key"]
    assert new != old
    for app in expect.MANAGERS:
        keys = expect.prowlarr_indexer_keys(stack, app)
        assert len(keys) == 2 and set(keys.values()) == {new}, f"{app} holds an old key"
    assert expect.all_active(stack) == {}


def test_without_force_sync_the_managers_say_their_indexers_hold_an_old_key(
    deployed: Stack, monkeypatch: pytest.MonkeyPatch
):
    """What the test above guards against: a plain ApplicationIndexerSync skips every
    indexer, and Radarr and Sonarr (which test them once per Prowlarr key) say so."""
    from charmarr_servarr.api import ServarrClient

    stack = deployed
    plain = ServarrClient.command

    def without_force(self, name, **options):
        return plain(self, name)

    monkeypatch.setattr(ServarrClient, "command", without_force)
    old = stack.owned("prowlarr", "prowlarr-api-key").content["api-key"]
    stack.run_action("prowlarr/leader", "rotate-credentials")
    stack.converge()

    assert ("radarr (juju)", "skipped") in stack.app("prowlarr").fake.sync_log
    for app in expect.MANAGERS:
        assert set(expect.prowlarr_indexer_keys(stack, app).values()) == {old}
        assert stack.statuses()[f"{app}/0"] == (
            f"waiting: 2 prowlarr indexers in {app} hold an old prowlarr key; "
            "waiting for prowlarr to sync its current key"
        )


@pytest.mark.parametrize(
    ("app", "kind", "label"), [("radarr", "movie", "Movie"), ("sonarr", "show", "TV")]
)
def test_a_plex_without_a_library_blocks_until_the_user_creates_one(
    stack: Stack, app: str, kind: str, label: str
):
    """Radarr/Sonarr test the Plex connection before saving it, even with forceSave."""
    claim = stack.add_user_secret({"claim-token": stack.plex_tv.issue_claim_token()})
    stack.grant_secret(claim, "plex")
    stack.deploy("plex", config={"claim-token-secret": claim, "media-volume": "charmarr-media"})
    stack.deploy(app, config={"media-volume": "charmarr-media"})
    stack.integrate("plex:media-server", f"{app}:media-server")
    stack.converge()
    blocked = (
        f"blocked: {app} refused the Plex connection plex (juju): At least one {label} "
        f"library is required; create a {label} library in Plex; it is added at the next "
        "update-status"
    )
    assert stack.statuses()[f"{app}/0"] == blocked
    assert managed_name("plex") not in stack.app(app).fake.named("notification")
    plex = stack.app("plex").fake
    other = "show" if kind == "movie" else "movie"
    plex.add_library(other, "Other")
    stack.update_status()
    stack.settle()
    assert stack.statuses()[f"{app}/0"] == blocked, "a library of the other kind is not enough"

    plex.add_library(kind, "Mine")  # in Plex's web app: no Juju event
    stack.update_status()
    stack.settle()

    assert stack.statuses()[f"{app}/0"].startswith("active"), "connected at the next hook"
    entry = stack.app(app).fake.named("notification")[managed_name("plex")]
    assert (
        expect.fields_of(entry)["authToken"] == stack.owned("plex", "plex-token").content["token"]
    )
    assert stack.violations == []


# ---------------------------------------------------------------------------------------------
# User secrets
# ---------------------------------------------------------------------------------------------


def _integration_expectations():
    """tests/integration/expected.py: what the jubilant tests wait for."""
    import importlib.util

    path = repo_root(Path(__file__)) / "tests" / "integration" / "expected.py"
    spec = importlib.util.spec_from_file_location("integration_expected", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("vpn", "plex"), [(False, False), (True, False), (False, True)])
def test_what_the_integration_tests_wait_for_is_what_the_charms_reach(
    stack: Stack, vpn: bool, plex: bool
):
    """The bundle deployed as tests/integration does, with or without a VPN account and a
    Plex claim: every app settles in the status the jubilant tests expect."""
    expected = _integration_expectations()
    extra: dict[str, dict] = {
        "gluetun": {"cluster-cidrs": "10.1.0.0/16,10.152.183.0/24"},
        "qbittorrent": {} if vpn else {"require-vpn": False},
    }
    if vpn:
        uri = stack.add_user_secret(WIREGUARD)
        stack.grant_secret(uri, "gluetun")
        extra["gluetun"].update({"vpn-provider": "mullvad", "credentials-secret": uri})
    if plex:
        claim = stack.add_user_secret({"claim-token": stack.plex_tv.issue_claim_token()})
        stack.grant_secret(claim, "plex")
        extra["plex"] = {"claim-token-secret": claim}
    stack.deploy_bundle(extra=extra)
    set_up_apps(stack)
    stack.converge()
    statuses = {
        name.split("/")[0]: tuple(text.split(": ", 1)) for name, text in stack.statuses().items()
    }
    assert expected.mismatches(statuses, expected.settled(vpn=vpn, plex=plex)) == {}


def test_user_secrets_granted_late_then_updated(stack: Stack):
    uris = deploy_charmarr(stack, grant=False)
    status = stack.statuses()
    assert status["gluetun/0"] == (
        f"blocked: credentials-secret not granted: juju grant-secret {uris['vpn']} gluetun"
    )
    assert status["plex/0"] == (
        f"blocked: claim-token-secret not granted: juju grant-secret {uris['claim']} plex"
    )
    assert "plex (juju)" not in stack.app("radarr").fake.named("notification")
    assert not stack.app("qbittorrent").leader.workloads["qbittorrent", "qbittorrent"].running, (
        "qBittorrent must not download before the VPN is up (require-vpn)"
    )

    # juju grant-secret fires no hook: update-status picks the grants up.
    stack.grant_secret(uris["vpn"], "gluetun")
    stack.grant_secret(uris["claim"], "plex")
    assert not stack.queue
    mark = len(stack.hooks)
    stack.update_status()
    stack.settle()
    picked_up = {h.unit: h.status for h in stack.hooks_since(mark) if h.kind == "update-status"}
    assert picked_up["gluetun/0"].startswith("active: VPN connected")
    assert picked_up["plex/0"].startswith("active")
    assert stack.app("plex").fake.is_claimed
    stack.converge()
    assert expect.all_active(stack) == {}
    expect.check_delivered(stack)

    # juju update-secret: secret-changed on Gluetun, which applies the new key at once.
    secrets_dir = stack.app("gluetun").leader.dirs["secrets"]
    new_key = "bmV3LWtleS1vZi10aGlydHktdHdvLWJ5dGVzLW9rISE="
    mark = len(stack.hooks)
    stack.update_user_secret(uris["vpn"], {**WIREGUARD, "private-key": new_key})
    stack.settle()
    hooks = stack.hooks_since(mark)
    assert [(h.unit, h.kind) for h in hooks][:1] == [("gluetun/0", "secret-changed")]
    assert (secrets_dir / "wireguard_private_key").read_text() == new_key
    assert stack.app("gluetun").leader.workloads["gluetun", "gluetun"].boots >= 2
    assert expect.all_active(stack) == {}
    assert stack.violations == []


def _plex_and_radarr(stack: Stack, claim_token: str) -> str:
    """Plex (claimed with ``claim_token``, in a granted user secret) related to Radarr,
    converged; the user secret's URI."""
    claim = stack.add_user_secret({"claim-token": claim_token})
    stack.grant_secret(claim, "plex")
    stack.deploy("plex", config={"claim-token-secret": claim, "media-volume": "charmarr-media"})
    stack.deploy("radarr", config={"media-volume": "charmarr-media"})
    stack.integrate("plex:media-server", "radarr:media-server")
    set_up_apps(stack)
    stack.converge()
    return claim


def test_an_expired_claim_token_blocks_until_the_user_updates_it(stack: Stack):
    claim_token = stack.plex_tv.issue_claim_token()
    stack.plex_tv.expire(claim_token)
    claim = _plex_and_radarr(stack, claim_token)
    assert stack.statuses()["plex/0"].startswith("blocked: claim failed: plex.tv rejected")
    assert f"juju update-secret {claim} claim-token=<token>" in stack.statuses()["plex/0"]

    mark = len(stack.hooks)
    stack.update_user_secret(claim, {"claim-token": stack.plex_tv.issue_claim_token()})
    stack.settle()

    first = stack.hooks_since(mark)[0]
    assert (first.unit, first.kind) == ("plex/0", "secret-changed")
    assert first.status.startswith("active"), "claimed in the secret-changed hook"
    assert stack.app("plex").fake.is_claimed and len(stack.plex_tv.claimed_by) == 1
    stack.converge()
    token = stack.owned("plex", "plex-token").content["token"]
    assert token == stack.plex_tv.server_token
    plex = stack.app("radarr").fake.named("notification")[managed_name("plex")]
    assert expect.fields_of(plex)["authToken"] == token
    assert stack.violations == []


# ---------------------------------------------------------------------------------------------
# Relation removal
# ---------------------------------------------------------------------------------------------


def user_entries(stack: Stack) -> dict:
    """Entries an operator made by hand in the apps, before any removal."""
    radarr, prowlarr = stack.app("radarr").fake, stack.app("prowlarr").fake
    qbt, sab = stack.app("qbittorrent").fake, stack.app("sabnzbd").fake
    radarr.add(
        "downloadclient", {"name": "my-qbittorrent", "implementation": "QBittorrent", "fields": []}
    )
    radarr.add("notification", {"name": "my-plex", "implementation": "PlexServer", "fields": []})
    prowlarr.add("applications", {"name": "my-radarr", "implementation": "Radarr", "fields": []})
    qbt.categories["manual"] = "/data/manual"
    qbt.categories["radarr-old"] = "/somewhere/else"
    sab.add_user_category("manual", "/data/manual")
    return {
        "radarr": (set(radarr.named("downloadclient")) | set(radarr.named("notification"))),
        "prowlarr": set(prowlarr.named("applications")),
        "qbittorrent": dict(qbt.categories),
        "sabnzbd": {n: c["dir"] for n, c in sab.categories.items()},
    }


def test_removing_each_relation_cleans_up_only_what_it_made(deployed: Stack):
    stack = deployed
    user = user_entries(stack)
    radarr, sonarr = stack.app("radarr").fake, stack.app("sonarr").fake
    prowlarr, qbt, sab = (stack.app(a).fake for a in ("prowlarr", "qbittorrent", "sabnzbd"))

    def remove(a: str, b: str) -> None:
        stack.remove_relation(stack.relation(a, b))
        stack.converge()

    # media-indexer: one, then the last.
    remove("prowlarr", "radarr")
    assert set(prowlarr.named("applications")) == {managed_name("sonarr"), "my-radarr"}
    remove("prowlarr", "sonarr")
    assert set(prowlarr.named("applications")) == {"my-radarr"}

    # download-client: each pair, the last of each provider included.
    remove("qbittorrent", "radarr")
    assert set(radarr.named("downloadclient")) == {managed_name("sabnzbd"), "my-qbittorrent"}
    assert "radarr" not in qbt.categories and "sonarr" in qbt.categories
    remove("qbittorrent", "sonarr")
    assert set(sonarr.named("downloadclient")) == {managed_name("sabnzbd")}
    assert qbt.categories == {"manual": "/data/manual", "radarr-old": "/somewhere/else"}
    remove("sabnzbd", "radarr")
    remove("sabnzbd", "sonarr")
    assert set(radarr.named("downloadclient")) == {"my-qbittorrent"}
    assert set(sonarr.named("downloadclient")) == set()
    suggestions = {"*": "", "movies": "", "tv": "", "audio": "", "software": ""}  # SABnzbd's
    assert {n: c["dir"] for n, c in sab.categories.items()} == {
        **suggestions,
        "manual": "/data/manual",
    }

    # media-server.
    remove("plex", "radarr")
    assert set(radarr.named("notification")) == {"my-plex"}
    assert set(sonarr.named("notification")) == {managed_name("plex")}
    remove("plex", "sonarr")
    assert set(sonarr.named("notification")) == set()

    # vpn-gateway: the per-relation control secret and role go with each relation.
    controls = expect.control_secrets(stack)
    for app in ("qbittorrent", "sabnzbd", "prowlarr"):
        rid = stack.relation("gluetun", app).id
        remove("gluetun", app)
        assert rid not in expect.control_secrets(stack), f"gluetun-control-{rid} left behind"
        assert f"vpn-gateway-{rid}" not in expect.gluetun_roles(stack)
        assert not expect.probe_control_key(controls[rid].content["api-key"])
    assert expect.control_secrets(stack) == {}
    assert stack.owned_labels("gluetun") == {expect.PROXY_LABEL}
    assert sab.misc["socks5_proxy_url"] == ""
    assert prowlarr.host["proxyEnabled"] is False and prowlarr.host["proxyPassword"] == ""
    # qBittorrent fails closed without its VPN (require-vpn defaults to true): stopped, and
    # its proxy goes once the operator lets it run without one.
    assert stack.statuses()["qbittorrent/0"].startswith("blocked: no VPN")
    assert not stack.app("qbittorrent").leader.workloads["qbittorrent", "qbittorrent"].running
    stack.configure("qbittorrent", require_vpn=False)
    stack.converge()
    assert qbt.preferences["proxy_password"] == "" and qbt.preferences["dht"] is True
    assert stack.statuses()["qbittorrent/0"].startswith("active")

    # The user's own entries were never touched.
    assert user["radarr"] >= {"my-qbittorrent", "my-plex"}
    assert "my-radarr" in prowlarr.named("applications")
    assert qbt.categories["manual"] == "/data/manual"
    assert qbt.categories["radarr-old"] == "/somewhere/else"
    assert sab.categories["manual"]["dir"] == "/data/manual"
    # No app can read a secret granted over a relation that is gone.
    for record in stack.secrets.values():
        assert record.grants == {}, f"{record.label} still granted to {record.grants}"

    # Integrating everything again wires it all again, with the current credentials.
    stack.configure("qbittorrent", require_vpn=None)
    for a, b in bundle()["relations"]:
        if {a.split(":")[0], b.split(":")[0]} <= set(stack.apps):  # traefik: not deployed
            stack.integrate(a, b)
    stack.converge()
    assert expect.all_active(stack) == {}
    expect.check_delivered(stack)


# ---------------------------------------------------------------------------------------------
# Leadership
# ---------------------------------------------------------------------------------------------


def test_scaling_every_app_to_two_units_and_back(deployed: Stack):
    """``juju scale-application <app> 2`` for all seven: one workload per app runs and is
    ready (the Service reaches it alone), every other unit says how to scale back, and
    removing the leader promotes the other unit to a running, Active workload."""
    stack = deployed
    apps = sorted(stack.apps)
    for app in apps:
        stack.add_unit(app)
    stack.converge()

    for app in apps:
        leader = stack.app(app).leader
        assert expect.active_units(stack, app) == [leader.name], f"{app}: one workload"
        follower = stack.unit(f"{app}/1")
        assert stack.statuses()[follower.name] == (
            f"blocked: {app} runs on one unit only; this one stands by, stopped: "
            f"juju scale-application {app} 1"
        )
        assert all(w.boots == 0 for w in follower.workloads.values()), follower.name
        if follower.fake is not None and hasattr(follower.fake, "writes"):
            assert _writes(follower.fake) == [], f"{follower.name} was wired"
    assert expect.all_active(stack) == {}
    expect.check_delivered(stack)  # the wiring, reached through each Service: the leaders'
    assert stack.violations == [], "a non-leader managed a secret or wrote an app databag"

    for app in apps:
        stack.remove_unit(f"{app}/0")
    stack.converge()
    # Each new leader started from its own volume. Plex is a new, unclaimed server: the
    # operator gives it a fresh claim token. Then the first steps in the new apps again.
    assert stack.statuses()["plex/1"].startswith("blocked: claim failed")
    claim = stack.app("plex").config["claim-token-secret"]
    stack.update_user_secret(claim, {"claim-token": stack.plex_tv.issue_claim_token()})
    set_up_apps(stack)
    stack.app("prowlarr").fake.sync(None)
    stack.converge()

    for app in apps:
        assert stack.app(app).leader.name == f"{app}/1"
        assert expect.active_units(stack, app) == [f"{app}/1"], app
    assert expect.all_active(stack) == {} and expect.standbys(stack) == set()
    expect.check_delivered(stack)


def test_leader_change_mid_way_still_converges(deployed: Stack):
    stack = deployed
    stack.add_unit("radarr")
    stack.converge()
    assert expect.all_active(stack) == {}
    old, new = stack.app("radarr").unit(0), stack.app("radarr").unit(1)
    key = stack.owned("radarr", "radarr-api-key").content["api-key"]
    assert expect.active_units(stack, "radarr") == ["radarr/0"], "the non-leader stands by"

    # rotate-credentials on a non-leader fails, saying where to run it, and changes nothing.
    record = stack.owned("radarr", "radarr-api-key")
    before = record.latest
    outcome = stack.run_action("radarr/1", "rotate-credentials")
    assert outcome.failure is not None and "radarr/leader rotate-credentials" in outcome.failure
    assert record.latest == before

    stack.elect("radarr", 1)
    stack.converge()
    assert expect.all_active(stack) == {}
    assert stack.app("radarr").leader is new
    # The new leader runs Radarr with the app's key; the old one stopped at its next hook.
    assert expect.active_units(stack, "radarr") == ["radarr/1"]
    assert new.fake.api_key == key
    assert stack.statuses()["radarr/0"].endswith("juju scale-application radarr 1")
    # The new leader takes the app's secret over: no second key, no new revision.
    assert stack.owned_labels("radarr") == {"radarr-api-key"}
    assert stack.owned("radarr", "radarr-api-key") is record and record.latest == before

    # A rotation by the new leader: Prowlarr follows in one secret-changed; the old
    # leader's workload stays stopped.
    rotate(stack, "radarr", "action")
    stack.converge()
    new_key = stack.owned("radarr", "radarr-api-key").content["api-key"]
    assert new_key != key and new.fake.api_key == new_key
    assert not old.workloads["radarr", "radarr"].running
    # ... and on Juju's schedule, which reaches the leader wherever it is.
    rotate(stack, "radarr", "schedule")

    # A relation removal: the leader drops the download client, qBittorrent its category.
    stack.remove_relation(stack.relation("qbittorrent", "radarr"))
    stack.converge()
    assert managed_name("qbittorrent") not in new.fake.named("downloadclient")
    assert managed_name("sabnzbd") in new.fake.named("downloadclient")
    assert "radarr" not in stack.app("qbittorrent").fake.categories
    assert expect.all_active(stack) == {}

    non_leader_hooks = [h for h in stack.hooks if h.unit == "radarr/0" and h.index > 0]
    assert non_leader_hooks, "the old leader kept running hooks"
    assert stack.violations == [], "a non-leader managed a secret or wrote an app databag"


# ---------------------------------------------------------------------------------------------
# The harness itself: what it withholds and what it catches
# ---------------------------------------------------------------------------------------------


def test_the_harness_withholds_a_secret_that_was_not_granted(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
):
    """A consumer reads a secret only through a grant: without it, Juju's "permission denied"."""
    # as if Plex published its token's ID without granting it
    monkeypatch.setattr(ops.Secret, "grant", lambda self, relation, *, unit=None: None)
    _plex_and_radarr(stack, stack.plex_tv.issue_claim_token())
    assert not stack.can_see("radarr", stack.owned("plex", "plex-token"))
    assert stack.statuses()["radarr/0"] == (
        "waiting: waiting for plex (media-server) to grant its secret"
    )


def test_the_harness_catches_a_secret_value_in_a_databag(deployed: Stack):
    stack = deployed
    rel = stack.relation("qbittorrent", "radarr")
    password = stack.owned("qbittorrent", "qbittorrent-credentials").content["password"]
    rel.app_data["radarr"]["note"] = f"pw={password}"
    with pytest.raises(SecretLeakError, match="is in radarr app databag"):
        stack.update_status()
        stack.settle()
    rel.app_data["radarr"].pop("note")
