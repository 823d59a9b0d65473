"""Remote access: the ``<app>-remote`` Service on request and the URLs Plex advertises."""

from __future__ import annotations

import dataclasses
import re

import ops
import pytest
from charms_under_test import context, wired_state

SERVICE = ("services", "media", "plex-remote")


@pytest.fixture
def ctx():
    # The app's name is "plex", the StatefulSet the fake cluster knows.
    return context("plex", app_name="plex")


def _configured(state, **options):
    return dataclasses.replace(state, config={**state.config, **options})


def _custom_connections(server) -> str | None:
    found = re.search(r'customConnections="([^"]*)"', server.preferences.read_text())
    return found[1] if found else None


def test_a_load_balancer_is_created_and_its_address_advertised_once(ctx, fake_network, pebble):
    state, server = wired_state("plex", fake_network)
    out = ctx.run(ctx.on.config_changed(), _configured(state, **{"remote-access": "loadbalancer"}))

    service = fake_network.kubernetes.objects[SERVICE]
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "plex"}
    assert service["spec"]["ports"][0]["port"] == 32400
    assert out.unit_status == ops.WaitingStatus(
        "waiting for the cloud to give Service plex-remote an address"
    )
    assert _custom_connections(server) is None

    # The cloud's load-balancer controller fills in the address.
    service["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}
    pebble.clear()
    out = ctx.run(ctx.on.update_status(), out)
    assert _custom_connections(server) == "http://203.0.113.7:32400"
    assert "stop" in pebble and "start" in pebble, "Plex reads its settings at start"
    assert out.unit_status.name == "active"
    assert "remote clients connect at http://203.0.113.7:32400" in out.unit_status.message

    pebble.clear()
    out = ctx.run(ctx.on.update_status(), out)
    assert "stop" not in pebble, "nothing changed: Plex is not restarted"
    assert out.unit_status.name == "active"


def test_a_node_port_needs_the_users_address_then_is_advertised(ctx, fake_network):
    state, server = wired_state("plex", fake_network)
    out = ctx.run(ctx.on.config_changed(), _configured(state, **{"remote-access": "nodeport"}))
    service = fake_network.kubernetes.objects[SERVICE]
    assert service["spec"]["type"] == "NodePort"
    # The API server assigns the node port (the fake store does not).
    service["spec"]["ports"][0]["nodePort"] = 31400
    out = ctx.run(ctx.on.update_status(), out)
    assert out.unit_status == ops.BlockedStatus(
        "remote-access nodeport: set advertise-urls=http://<node address>:31400 "
        "(Service plex-remote's node port, reachable by your clients)"
    )

    url = "http://home.example.net:31400"
    out = ctx.run(ctx.on.config_changed(), _configured(out, **{"advertise-urls": url}))
    assert out.unit_status.name == "active", out.unit_status
    assert _custom_connections(server) == url
    assert fake_network.kubernetes.objects[SERVICE]["spec"]["ports"][0]["nodePort"] == 31400


def test_back_to_none_deletes_the_service_and_the_advertised_urls(ctx, fake_network):
    state, server = wired_state("plex", fake_network)
    options = {"remote-access": "nodeport", "advertise-urls": "https://plex.example.com"}
    out = ctx.run(ctx.on.config_changed(), _configured(state, **options))
    assert _custom_connections(server) == "https://plex.example.com"
    assert SERVICE in fake_network.kubernetes.objects

    none = {"remote-access": "none", "advertise-urls": ""}
    out = ctx.run(ctx.on.config_changed(), _configured(out, **none))
    assert SERVICE not in fake_network.kubernetes.objects
    assert _custom_connections(server) is None
    assert out.unit_status.name == "active"


def test_advertise_urls_alone_need_no_kubernetes_call(ctx, fake_network):
    state, server = wired_state("plex", fake_network)
    before = len(fake_network.kubernetes.requests)
    url = "http://plex.example.com:32400"
    out = ctx.run(ctx.on.config_changed(), _configured(state, **{"advertise-urls": url}))
    assert _custom_connections(server) == url
    assert out.unit_status.name == "active"
    assert [r for r in fake_network.kubernetes.requests[before:] if "services" in r.url] == []


def test_a_custom_url_the_user_set_in_plex_is_left_alone_without_options(ctx, fake_network):
    state, server = wired_state("plex", fake_network)
    text = server.preferences.read_text()
    server.preferences.write_text(
        text.replace("<Preferences ", '<Preferences customConnections="http://mine:1" ')
    )
    ctx.run(ctx.on.config_changed(), state)
    assert _custom_connections(server) == "http://mine:1"


def test_without_trust_it_blocks_naming_the_command(ctx, fake_network):
    state, _ = wired_state("plex", fake_network)
    fake_network.kubernetes.forbidden_resources = {"services"}
    out = ctx.run(ctx.on.config_changed(), _configured(state, **{"remote-access": "nodeport"}))
    assert out.unit_status == ops.BlockedStatus(
        "no permission to manage Service plex-remote: juju trust plex --scope=cluster"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"remote-access": "ingress"},
            "invalid remote-access 'ingress': use one of none, nodeport, loadbalancer",
        ),
        ({"advertise-urls": "plex.example.com"}, "invalid advertise-urls 'plex.example.com'"),
    ],
)
def test_bad_options_block_naming_the_option(ctx, fake_network, options, message):
    state, server = wired_state("plex", fake_network)
    out = ctx.run(ctx.on.config_changed(), _configured(state, **options))
    assert out.unit_status.name == "blocked"
    assert out.unit_status.message.startswith(message)
    assert _custom_connections(server) is None
