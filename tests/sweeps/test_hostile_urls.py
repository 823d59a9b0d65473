"""Hostile URLs in relation data, on every endpoint of every charm: a status, never a crash.

A related app's databag is schema-plausible but its URL cannot be used: a port out of range
or not a number, a broken IPv6 literal, user info, control characters, a very long host.
Each must end in ``invalid data from <app> on <endpoint>: <field>: <reason>`` (Blocked),
not in a hook error; the three URLs that crashed hooks before (issue 16) are pinned here
for every endpoint that reads a URL.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml
from charms_under_test import charm_dirs, context, wired_state
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ops import testing

from charmarr_common.http import use_transport
from charmarr_interfaces.urls import HTTP_SCHEMES, SOCKS5_SCHEMES, url_problem
from charmarr_testing.fakes import FakeNetwork
from charmarr_testing.hostile import KNOWN_CASES, hostile_urls, is_url_field, scheme_of

CHARMS = sorted(charm_dirs())
SETTLED = ("active", "waiting", "blocked", "maintenance")

URL_FIELDS = {
    ("prowlarr", "media-indexer"): ("url",),
    ("prowlarr", "vpn-gateway"): ("http_proxy_url", "socks5_proxy_url", "control_url"),
    ("qbittorrent", "vpn-gateway"): ("http_proxy_url", "socks5_proxy_url", "control_url"),
    ("radarr", "download-client"): ("url",),
    ("radarr", "media-indexer"): ("url",),
    ("radarr", "media-server"): ("url",),
    ("sabnzbd", "vpn-gateway"): ("http_proxy_url", "socks5_proxy_url", "control_url"),
    ("sonarr", "download-client"): ("url",),
    ("sonarr", "media-indexer"): ("url",),
    ("sonarr", "media-server"): ("url",),
}
"""Every endpoint whose remote databag carries URLs (checked complete below)."""


def _endpoints(name: str) -> list[str]:
    meta = yaml.safe_load((charm_dirs()[name] / "charmcraft.yaml").read_text())
    return sorted([*meta.get("provides", {}), *meta.get("requires", {})])


def _with(state: testing.State, endpoint: str, changes: dict[str, str]):
    """``state`` with the first relation on ``endpoint`` publishing ``changes`` (JSON)."""
    mine = [r for r in state.relations if r.endpoint == endpoint]
    others = [r for r in state.relations if r.endpoint != endpoint]
    encoded = {k: json.dumps(v) for k, v in changes.items()}
    if mine:
        target = dataclasses.replace(
            mine[0], remote_app_data={**mine[0].remote_app_data, **encoded}
        )
        relations = [*others, target, *mine[1:]]
    else:
        target = testing.Relation(endpoint, remote_app_name="foreign", remote_app_data=encoded)
        relations = [*others, target]
    return target, dataclasses.replace(state, relations=relations)


def _run(name: str, state: testing.State, target: testing.Relation) -> testing.State:
    ctx = context(name)
    out = ctx.run(ctx.on.relation_changed(target), state)
    return ctx.run(ctx.on.update_status(), out)


def test_url_fields_lists_every_endpoint_that_reads_a_url():
    found = {}
    network = FakeNetwork()
    with use_transport(network):
        for name in CHARMS:
            state, _ = wired_state(name, network, leader=True)
            for relation in state.relations:
                fields = tuple(k for k in relation.remote_app_data if is_url_field(k))
                if fields:
                    found[(name, relation.endpoint)] = tuple(sorted(fields))
    assert found == {k: tuple(sorted(v)) for k, v in URL_FIELDS.items()}


_REGRESSIONS = [
    (name, endpoint, field, case)
    for (name, endpoint), fields in sorted(URL_FIELDS.items())
    for field in fields
    for case in KNOWN_CASES
]


@pytest.mark.parametrize(("name", "endpoint", "field", "case"), _REGRESSIONS)
def test_known_hostile_url_is_invalid_data_not_a_hook_error(name, endpoint, field, case):
    value = case.replace("http", scheme_of(field), 1)
    network = FakeNetwork()
    with use_transport(network):
        state, _ = wired_state(name, network, leader=True)
        target, fuzzed = _with(state, endpoint, {field: value})
        out = _run(name, fuzzed, target)
    status = out.unit_status
    assert status.name == "blocked", f"{name} {endpoint} {value!r}: {status}"
    prefix = f"invalid data from {target.remote_app_name} on {endpoint}: {field}: "
    assert status.message.startswith(prefix), status.message


_SWEEP = [(name, endpoint) for name in CHARMS for endpoint in _endpoints(name)]


@pytest.mark.parametrize(("name", "endpoint"), _SWEEP)
def test_hostile_urls_on_every_endpoint_end_in_a_status(name, endpoint):
    network = FakeNetwork()
    fields = URL_FIELDS.get((name, endpoint), ("url",))
    with use_transport(network):
        state, _ = wired_state(name, network, leader=True)

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        @given(data=st.data())
        def run(data):
            field = data.draw(st.sampled_from(fields))
            value = data.draw(hostile_urls(scheme_of(field)))
            target, fuzzed = _with(state, endpoint, {field: value})
            out = _run(name, fuzzed, target)
            assert out.unit_status.name in SETTLED, f"{value!r}: {out.unit_status}"
            schemes = SOCKS5_SCHEMES if field.startswith("socks5") else HTTP_SCHEMES
            if (name, endpoint) in URL_FIELDS and url_problem(value, schemes):
                message = f"invalid data from {target.remote_app_name} on {endpoint}: {field}: "
                assert out.unit_status.message.startswith(message), f"{value!r}: {out.unit_status}"

        run()
