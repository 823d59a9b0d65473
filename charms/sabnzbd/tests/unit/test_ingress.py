"""SABnzbd behind the ingress: ``url_base`` follows the provider's path and comes back.

SABnzbd serves at ``/`` and at ``url_base`` (SABnzbd.py mounts both), reads
sabnzbd.ini at start only (so a change is a restart) and refuses a ``Host`` it does not
know (interface.py ``check_hostname``): the ingress's host name joins ``host_whitelist``.
"""

from __future__ import annotations

import dataclasses
import json
import re

from ops import testing
from sabnzbd_wired import APP, MODEL, wired_state

from charmarr_testing.ingress import EXTERNAL_HOST, ingress_from_traefik, traefik_url

SERVICE = f"http://{APP}.{MODEL}.svc.cluster.local:8080"


def _misc(state: testing.State, key: str) -> str | None:
    container = next(iter(state.containers))
    text = (container.mounts["config"].source / "sabnzbd.ini").read_text()
    found = re.search(rf"^{key} = (.*)$", text, re.MULTILINE)
    return found[1] if found else None


def _published_url(state: testing.State) -> str:
    relation = next(r for r in state.relations if r.endpoint == "download-client")
    return json.loads(relation.local_app_data["url"])


def test_url_base_follows_the_ingress_and_comes_back(ctx, fake_network, pebble_calls):
    state, _ = wired_state(fake_network)
    url = traefik_url(MODEL, APP)
    ingress = ingress_from_traefik(url=url)
    state = dataclasses.replace(state, relations=[*state.relations, ingress.relation])

    out = ctx.run(ctx.on.relation_changed(ingress.relation), state)

    base = f"/{MODEL}-{APP}"
    assert _misc(out, "url_base") == base
    assert "stop" in pebble_calls and "start" in pebble_calls, "url_base is read at start"
    assert EXTERNAL_HOST in (_misc(out, "host_whitelist") or "")
    assert _published_url(out) == SERVICE + base
    assert out.unit_status.name == "waiting", "restarted with the new url_base"
    out = ctx.run(ctx.on.update_status(), out)
    assert out.unit_status.name == "active", out.unit_status
    assert out.unit_status.message.endswith(f"web UI at {url}")
    relation = next(r for r in out.relations if r.endpoint == "ingress")
    assert json.loads(relation.local_app_data["port"]) == 8080
    assert "strip-prefix" not in relation.local_app_data

    ctx.run(ctx.on.action("get-url"), out)
    assert ctx.action_results == {"url": url}

    out = ctx.run(ctx.on.relation_broken(relation), out)
    assert _misc(out, "url_base") in (None, '""'), "SABnzbd's own default (empty) again"
    assert _published_url(out) == SERVICE
    assert "web UI" not in out.unit_status.message


def test_without_ingress_sabnzbd_ini_is_left_as_it_is(ctx, fake_network, pebble_calls):
    state, _ = wired_state(fake_network)
    out = ctx.run(ctx.on.config_changed(), state)
    assert _misc(out, "url_base") is None
    assert "stop" not in pebble_calls
    ctx.run(ctx.on.action("get-url"), out)
    assert ctx.action_results == {"url": SERVICE}


def test_a_converged_reconcile_with_ingress_writes_nothing(ctx, fake_network, pebble_calls):
    from charmarr_testing.pytest_plugin import record_hook_tools

    state, _ = wired_state(fake_network)
    ingress = ingress_from_traefik(url=traefik_url(MODEL, APP))
    state = dataclasses.replace(state, relations=[*state.relations, ingress.relation])
    out = ctx.run(ctx.on.relation_changed(ingress.relation), state)
    out = ctx.run(ctx.on.update_status(), out)
    pebble_calls.clear()
    with record_hook_tools() as tools:
        again = ctx.run(ctx.on.config_changed(), out)
    assert "relation-set" not in tools.calls
    assert [c for c in pebble_calls if c in ("push", "restart", "stop", "start", "replan")] == []
    assert again.unit_status == out.unit_status
