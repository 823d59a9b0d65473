"""qBittorrent behind the ingress: no base path, so the provider strips the prefix.

qBittorrent's WebUI has no setting for a base path; its pages link relative to the URL
they were loaded from, so the URL users open ends with ``/``.
"""

from __future__ import annotations

import dataclasses
import json

from qbittorrent_wired import APP, MODEL, wired_state

from charmarr_testing.ingress import ingress_from_traefik, traefik_url

SERVICE = f"http://{APP}.{MODEL}.svc.cluster.local:8080"


def test_the_ingress_strips_the_prefix_and_the_url_ends_with_a_slash(ctx, fake_network):
    state, _ = wired_state(fake_network)
    url = traefik_url(MODEL, APP)
    ingress = ingress_from_traefik(url=url)
    state = dataclasses.replace(state, relations=[*state.relations, ingress.relation])

    out = ctx.run(ctx.on.relation_changed(ingress.relation), state)

    relation = next(r for r in out.relations if r.endpoint == "ingress")
    assert json.loads(relation.local_app_data["strip-prefix"]) is True
    assert json.loads(relation.local_app_data["port"]) == 8080
    assert json.loads(relation.local_unit_data["host"]) == f"{APP}.{MODEL}.svc.cluster.local"
    download = next(r for r in out.relations if r.endpoint == "download-client")
    assert json.loads(download.local_app_data["url"]) == SERVICE, "in-cluster: the root"
    assert out.unit_status.name == "active", out.unit_status
    assert out.unit_status.message.endswith(f"web UI at {url}/")
    ctx.run(ctx.on.action("get-url"), out)
    assert ctx.action_results == {"url": f"{url}/"}

    out = ctx.run(ctx.on.relation_broken(relation), out)
    assert "web UI" not in out.unit_status.message
    out = dataclasses.replace(out, relations=[r for r in out.relations if r.id != relation.id])
    ctx.run(ctx.on.action("get-url"), out)
    assert ctx.action_results == {"url": SERVICE}


def test_a_converged_reconcile_with_ingress_writes_nothing(ctx, fake_network, pebble_calls):
    from charmarr_testing.pytest_plugin import record_hook_tools

    state, _ = wired_state(fake_network)
    ingress = ingress_from_traefik(url=traefik_url(MODEL, APP))
    state = dataclasses.replace(state, relations=[*state.relations, ingress.relation])
    out = ctx.run(ctx.on.relation_changed(ingress.relation), state)
    pebble_calls.clear()
    with record_hook_tools() as tools:
        again = ctx.run(ctx.on.config_changed(), out)
    assert "relation-set" not in tools.calls
    assert pebble_calls.writes == []
    assert again.unit_status == out.unit_status
