"""Prowlarr behind the ingress: its UrlBase, and the URL it gives Radarr and Sonarr.

Prowlarr shares the *arr base (``charmarr_servarr.arr``) with Radarr and Sonarr, whose
suite (``ingress_suite``) covers the rest; here: what only Prowlarr publishes. Prowlarr
calls Radarr at the URL Radarr published, base path included (``baseUrl``), and hands
Radarr its own URL, base path included (``prowlarrUrl``).
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from charms_under_test import context
from servarr_wired import MODEL_NAME, servarr_state

from charmarr_servarr.api import PROWLARR, RADARR, field_values
from charmarr_testing import builders
from charmarr_testing.fake_servarr import FakeServarr, config_xml, serve_at
from charmarr_testing.ingress import ingress_from_traefik, traefik_url

APP = "prowlarr-k8s"
RADARR_URL = f"http://radarr.{MODEL_NAME}.svc.cluster.local:7878/{MODEL_NAME}-radarr"


@pytest.fixture
def ctx():
    return context("prowlarr")


def test_prowlarr_follows_its_path_and_radarrs(ctx, fake_network, tmp_path):
    radarr_key = "r" * 32
    indexer = builders.media_indexer_from_arr(kind="radarr", url=RADARR_URL, api_key=radarr_key)
    # Radarr behind the ingress too: it answers under its UrlBase only.
    radarr_config = tmp_path / "config.xml"
    radarr_config.write_text(
        config_xml(radarr_key, RADARR.port).replace(
            "<UrlBase></UrlBase>", f"<UrlBase>/{MODEL_NAME}-radarr</UrlBase>"
        )
    )
    radarr = FakeServarr(RADARR, radarr_key, config_path=radarr_config)
    serve_at(fake_network, RADARR_URL, radarr)
    state, _ = servarr_state(PROWLARR, fake_network, relations=[indexer])
    url = traefik_url(MODEL_NAME, APP)
    ingress = ingress_from_traefik(url=url)
    state = dataclasses.replace(state, relations={*state.relations, ingress.relation})

    out = ctx.run(ctx.on.relation_changed(ingress.relation), state)

    base = f"/{MODEL_NAME}-{APP}"
    relation = next(r for r in out.relations if r.endpoint == "media-indexer")
    service = f"http://{APP}.{MODEL_NAME}.svc.cluster.local:9696"
    assert json.loads(relation.local_app_data["url"]) == service + base
    prowlarr = fake_network.apps["localhost:9696"]
    application = next(iter(prowlarr.named("applications").values()))
    fields = field_values(application)
    assert fields["prowlarrUrl"] == service + base
    assert fields["baseUrl"] == RADARR_URL
    assert out.unit_status.message.endswith(f"web UI at {url}")
