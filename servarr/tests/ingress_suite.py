"""Shared suite, run by ``charms/radarr/tests`` and ``charms/sonarr/tests`` (each binds the
``media_manager`` fixture to its table): the ``ingress`` relation moves the app under the
provider's path prefix and back, with the charm's own calls, its readiness check and the
URL it publishes to Prowlarr following it (the Servarr fake answers every request outside
``UrlBase`` with a 307, as ``UrlBaseMiddleware`` does).
"""

from __future__ import annotations

import dataclasses
import json
import sys

import pytest
from charms_under_test import context
from ops import testing
from servarr_wired import MODEL_NAME, media_manager_world

from charmarr_servarr.api import RADARR, MediaManager
from charmarr_testing.fake_servarr import pebble_calls
from charmarr_testing.ingress import ingress_from_traefik, traefik_url

APP: MediaManager = RADARR  # replaced per test by the `app` fixture


@pytest.fixture(autouse=True)
def app(media_manager: MediaManager, monkeypatch) -> MediaManager:
    """The charm under test's table (the module's APP follows it)."""
    monkeypatch.setattr(sys.modules[__name__], "APP", media_manager)
    return media_manager


@pytest.fixture
def ctx():
    return context(APP.name)


def _app_name() -> str:
    return f"{APP.name}-k8s"  # ops.testing names the application after the charm


def _url_base(out) -> str:
    text = (next(iter(out.containers)).mounts["config"].source / "config.xml").read_text()
    start = text.find("<UrlBase>")
    return "" if start < 0 else text[start + 9 : text.index("</UrlBase>")]


def _published_indexer_url(out) -> str:
    relation = next(r for r in out.relations if r.endpoint == "media-indexer")
    return json.loads(relation.local_app_data["url"])


def _check_url(out) -> str:
    container = next(iter(out.containers))
    plan = container.plan.to_dict()
    return plan["checks"][f"{APP.name}-ready"]["http"]["url"]


def _with_ingress(state, url: str | None):
    ingress = ingress_from_traefik(url=url)
    return dataclasses.replace(state, relations={*state.relations, ingress.relation}), ingress


def test_the_app_moves_under_the_ingress_path_and_back_to_the_root(ctx, fake_network):
    state, _ = media_manager_world(APP, fake_network)
    out = ctx.run(ctx.on.update_status(), state)
    assert out.unit_status.name == "active", out.unit_status
    service = f"http://{_app_name()}.{MODEL_NAME}.svc.cluster.local:{APP.port}"
    assert _published_indexer_url(out) == service

    url = traefik_url(MODEL_NAME, _app_name())
    state, ingress = _with_ingress(out, url)
    with pebble_calls() as calls:
        out = ctx.run(ctx.on.relation_changed(ingress.relation), state)

    base = f"/{MODEL_NAME}-{_app_name()}"
    assert _url_base(out) == base
    assert "restart" in calls, "the app reads UrlBase at start only"
    assert _check_url(out) == f"http://localhost:{APP.port}{base}/ping"
    assert _published_indexer_url(out) == service + base
    # The charm's own calls went through the base path (the fake redirects outside it).
    assert out.unit_status == testing.ActiveStatus(out.unit_status.message)
    assert out.unit_status.message.endswith(f"web UI at {url}")

    relation = next(r for r in out.relations if r.endpoint == "ingress")
    assert json.loads(relation.local_app_data["port"]) == APP.port
    assert "strip-prefix" not in relation.local_app_data
    assert (
        json.loads(relation.local_unit_data["host"])
        == f"{_app_name()}.{MODEL_NAME}.svc.cluster.local"
    )

    # The relation goes: the app, its check and its published URL return to the root.
    with pebble_calls() as calls:
        out = ctx.run(ctx.on.relation_broken(relation), out)
    out = dataclasses.replace(out, relations={r for r in out.relations if r.endpoint != "ingress"})
    assert _url_base(out) == ""
    assert "restart" in calls
    assert _check_url(out) == f"http://localhost:{APP.port}/ping"
    assert _published_indexer_url(out) == service
    assert out.unit_status.name == "active", out.unit_status
    assert "web UI" not in out.unit_status.message


def test_subdomain_routing_keeps_the_root_path(ctx, fake_network):
    state, _ = media_manager_world(APP, fake_network)
    url = traefik_url(MODEL_NAME, _app_name(), routing_mode="subdomain")
    state, ingress = _with_ingress(state, url)
    out = ctx.run(ctx.on.relation_changed(ingress.relation), state)
    assert _url_base(out) == ""
    assert out.unit_status.message.endswith(f"web UI at {url}")


def test_before_the_provider_answers_the_app_stays_at_the_root(ctx, fake_network):
    state, _ = media_manager_world(APP, fake_network)
    state, ingress = _with_ingress(state, None)
    out = ctx.run(ctx.on.relation_joined(ingress.relation), state)
    assert _url_base(out) == ""
    assert out.unit_status.name == "active", out.unit_status
    relation = next(r for r in out.relations if r.endpoint == "ingress")
    assert json.loads(relation.local_app_data["name"]) == _app_name()


def test_an_unusable_answer_blocks_naming_the_field_and_keeps_the_root(ctx, fake_network):
    state, _ = media_manager_world(APP, fake_network)
    state, ingress = _with_ingress(state, "ftp://ingress.charmarr.test/x")
    out = ctx.run(ctx.on.relation_changed(ingress.relation), state)
    assert _url_base(out) == ""
    assert out.unit_status.name == "blocked"
    assert out.unit_status.message.startswith("invalid data from traefik on ingress: ingress.url")


def test_get_url_answers_the_external_url_else_the_in_cluster_one(ctx, fake_network):
    state, _ = media_manager_world(APP, fake_network)
    ctx.run(ctx.on.action("get-url"), state)
    service = f"http://{_app_name()}.{MODEL_NAME}.svc.cluster.local:{APP.port}"
    assert ctx.action_results == {"url": service}

    url = traefik_url(MODEL_NAME, _app_name())
    state, _ = _with_ingress(state, url)
    ctx.run(ctx.on.action("get-url"), state)
    assert ctx.action_results == {"url": url}


def test_a_standby_publishes_its_unit_data_only(ctx, fake_network):
    state, _ = media_manager_world(APP, fake_network, leader=False)
    state, ingress = _with_ingress(state, traefik_url(MODEL_NAME, _app_name()))
    out = ctx.run(ctx.on.relation_changed(ingress.relation), state)
    relation = next(r for r in out.relations if r.endpoint == "ingress")
    assert relation.local_app_data == {}
    assert json.loads(relation.local_unit_data["host"]).startswith(f"{_app_name()}.")


@pytest.mark.parametrize("leader", [True, False])
def test_a_converged_full_reconcile_with_ingress_writes_nothing(ctx, fake_network, leader):
    from charmarr_testing.pytest_plugin import record_hook_tools

    state, fake = media_manager_world(APP, fake_network, leader=leader)
    state, ingress = _with_ingress(state, traefik_url(MODEL_NAME, _app_name()))
    out = ctx.run(ctx.on.relation_changed(ingress.relation), state)
    writes = len(fake.writes)
    # config-changed always reconciles fully (update-status may skip on a converged leader).
    with record_hook_tools() as tools, pebble_calls() as calls:
        again = ctx.run(ctx.on.config_changed(), out)
    assert "relation-set" not in tools.calls
    assert [c for c in calls if c in ("push", "restart", "replan", "add_layer")] == []
    assert len(fake.writes) == writes
    assert again.unit_status == out.unit_status
