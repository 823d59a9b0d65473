"""The ``ingress`` v2 requirer, and the fake traefik-k8s it is tested against.

The requirer must write the bytes traefik-k8s's own library writes (a provider cannot
tell the two apart), write nothing in a converged hook, and turn any answer from the
provider into a URL or a reason, never a hook error.
"""

from __future__ import annotations

import dataclasses
import json

import ops
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ops import testing

from charmarr_common.http import Request, Response
from charmarr_interfaces.ingress import IngressAnswer, IngressRequirer
from charmarr_testing.fakes import FakeApp, FakeNetwork, json_response
from charmarr_testing.ingress import FakeIngress, ingress_from_traefik, traefik_url

META = {"name": "radarr", "requires": {"ingress": {"interface": "ingress", "limit": 1}}}
MODEL = testing.Model(name="media")
URL = "http://ingress.charmarr.test/media-radarr"
SERVICE = "radarr.media.svc.cluster.local"


class IngressCharm(ops.CharmBase):
    """Publishes a request for port 7878 and shows the answer, as phase B's charms will."""

    strip_prefix = False

    def __init__(self, framework: ops.Framework):
        super().__init__(framework)
        self.ingress = IngressRequirer(self)
        for event in (
            self.on.update_status,
            self.on.leader_elected,
            self.on["ingress"].relation_changed,
            self.on["ingress"].relation_broken,
        ):
            framework.observe(event, self._reconcile)

    def _reconcile(self, _: ops.EventBase) -> None:
        self.ingress.publish(port=7878, strip_prefix=type(self).strip_prefix, port_open=True)
        answer = self.ingress.answer()
        if answer.invalid is not None:
            self.unit.status = ops.BlockedStatus(answer.invalid.message)
        elif answer.url is None:
            self.unit.status = ops.WaitingStatus(answer.reason)
        else:
            self.unit.status = ops.ActiveStatus(answer.url)


@pytest.fixture
def ctx():
    IngressCharm.strip_prefix = False
    return testing.Context(IngressCharm, meta=META)


def _run(ctx, relation, *, leader=True, event=None):
    state = testing.State(leader=leader, model=MODEL, relations=[relation])
    return ctx.run(event or ctx.on.relation_changed(relation), state)


def _answer(ctx, relation, *, leader=True) -> IngressAnswer:
    state = testing.State(leader=leader, model=MODEL, relations=[relation])
    with ctx(ctx.on.update_status(), state) as mgr:
        return mgr.charm.ingress.answer()


# --- what the requirer publishes -------------------------------------------------------------


def test_the_leader_publishes_what_traefiks_library_publishes(ctx):
    # the exact bytes IngressPerAppRequirer writes (each value JSON; defaults left out)
    out = _run(ctx, ingress_from_traefik(url=None).relation)
    relation = out.get_relations("ingress")[0]
    assert relation.local_app_data == {
        "model": '"media"',
        "name": '"radarr"',
        "port": "7878",
        "is_port_open": "true",
    }
    assert relation.local_unit_data["host"] == json.dumps(SERVICE)
    assert "ip" not in relation.local_unit_data


def test_strip_prefix_is_sent_when_wanted_and_removed_when_not(ctx):
    IngressCharm.strip_prefix = True
    out = _run(ctx, ingress_from_traefik(url=None).relation)
    relation = out.get_relations("ingress")[0]
    assert relation.local_app_data["strip-prefix"] == "true"

    IngressCharm.strip_prefix = False
    out = ctx.run(ctx.on.update_status(), out)
    assert "strip-prefix" not in out.get_relations("ingress")[0].local_app_data


def test_a_non_leader_writes_only_its_own_unit_databag(ctx):
    out = _run(ctx, ingress_from_traefik(url=None).relation, leader=False)
    relation = out.get_relations("ingress")[0]
    assert relation.local_app_data == {}
    assert relation.local_unit_data["host"] == json.dumps(SERVICE)


def test_juju_keys_in_the_unit_databag_are_left_alone(ctx):
    out = _run(ctx, ingress_from_traefik().relation)
    bag = out.get_relations("ingress")[0].local_unit_data
    assert {"egress-subnets", "ingress-address", "private-address"} <= set(bag)


@pytest.mark.parametrize("leader", [True, False])
def test_a_converged_hook_writes_nothing(ctx, hook_tools, leader):
    first = _run(ctx, ingress_from_traefik().relation, leader=leader)
    hook_tools.clear()
    second = ctx.run(ctx.on.update_status(), first)
    assert "relation-set" not in hook_tools.calls
    assert second.get_relations("ingress") == first.get_relations("ingress")


def test_publish_says_whether_it_wrote(ctx):
    relation = ingress_from_traefik().relation
    state = testing.State(leader=True, model=MODEL, relations=[relation])
    with ctx(ctx.on.update_status(), state) as mgr:
        assert mgr.charm.ingress.publish(port=7878) is True
        assert mgr.charm.ingress.publish(port=7878) is False
        assert mgr.charm.ingress.publish(port=8080) is True


def test_without_a_relation_nothing_is_published(ctx, hook_tools):
    state = testing.State(leader=True, model=MODEL)
    with ctx(ctx.on.update_status(), state) as mgr:
        assert mgr.charm.ingress.publish(port=7878) is False
        answer = mgr.charm.ingress.answer()
    assert (answer.url, answer.reason, answer.base_path) == (None, "no ingress relation", "")
    assert "relation-set" not in hook_tools.calls


# --- what the requirer reads -----------------------------------------------------------------


@pytest.mark.parametrize("leader", [True, False])
def test_every_unit_reads_the_url(ctx, leader):
    out = _run(ctx, ingress_from_traefik(url=URL).relation, leader=leader)
    assert out.unit_status == testing.ActiveStatus(URL)
    answer = _answer(ctx, ingress_from_traefik(url=URL).relation, leader=leader)
    assert answer.base_path == "/media-radarr"


def test_subdomain_routing_gives_the_root_path(ctx):
    url = traefik_url("media", "radarr", routing_mode="subdomain")
    assert url == "http://media-radarr.ingress.charmarr.test/"
    answer = _answer(ctx, ingress_from_traefik(url=url).relation)
    assert (answer.url, answer.base_path) == (url, "")


def test_before_the_provider_answers_the_unit_waits(ctx):
    out = _run(ctx, ingress_from_traefik(url=None).relation)
    assert out.unit_status == testing.WaitingStatus("waiting for traefik to publish the URL")


def test_a_broken_relation_means_no_url(ctx):
    relation = ingress_from_traefik(url=URL).relation
    out = _run(ctx, relation, event=ctx.on.relation_broken(relation))
    assert out.unit_status == testing.WaitingStatus("no ingress relation")


def _url(url: str) -> dict[str, str]:
    return {"ingress": json.dumps({"url": url})}


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        ({"ingress": "{garbage"}, "ingress", "not valid JSON"),
        ({"ingress": "[" * 5000}, "ingress", "not valid JSON"),
        ({"ingress": '"http://h/x"'}, "ingress", 'not a JSON object holding "url"'),
        ({"ingress": "{}"}, "ingress.url", "Field required"),
        ({"ingress": '{"url": 42}'}, "ingress.url", "Input should be a valid string"),
        (_url("http://h/x\x07y"), "ingress.url", "contains whitespace or control characters"),
        (_url("http://h/x\ny"), "ingress.url", "contains whitespace or control characters"),
        (_url("ftp://h/x"), "ingress.url", "not a http/https URL"),
        (_url("javascript:alert(1)"), "ingress.url", "not a http/https URL"),
        (_url("http://user:pw@h/x"), "ingress.url", "user info is not allowed"),
        (_url("http://h/x?y=1"), "ingress.url", "a query or fragment is not allowed"),
        (_url("http://h:99999/x"), "ingress.url", "port is not a number in 1-65535"),
        (_url("http://h/" + "a" * 3000), "ingress.url", "longer than 2048 characters"),
        (_url("http://h/" + "a" * 10000), "ingress", "longer than 8192 characters"),
        (_url("http://h/a'b"), "ingress.url", "not a plain base path"),
        (_url("http://h/a/../b"), "ingress.url", "not a plain base path"),
    ],
)
def test_unusable_answers_end_in_a_status_naming_the_field(ctx, raw, field, reason):
    relation = ingress_from_traefik(raw=raw).relation
    answer = _answer(ctx, relation)
    assert answer.url is None and answer.invalid is not None
    assert answer.invalid.field == field
    assert reason in answer.invalid.reason
    out = _run(ctx, relation)
    assert out.unit_status.name == "blocked"
    assert out.unit_status.message.startswith(f"invalid data from traefik on ingress: {field}: ")
    assert answer.base_path == ""


_VALUES = st.one_of(
    st.text(max_size=40),
    st.builds(lambda u: json.dumps({"url": u}), st.text(max_size=40)),
    st.sampled_from([URL, json.dumps({"url": URL}), "null", "[]", "{", '{"url": null}']),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=st.dictionaries(st.sampled_from(["ingress", "url", "foreign"]), _VALUES, max_size=3),
    leader=st.booleans(),
)
def test_any_answer_is_a_url_or_a_reason(raw, leader):
    ctx = testing.Context(IngressCharm, meta=META)
    answer = _answer(ctx, ingress_from_traefik(raw=raw).relation, leader=leader)
    assert (answer.url is None) != (answer.reason == "")
    if answer.url is not None:
        assert answer.url.startswith(("http://", "https://"))


# --- the fake traefik-k8s --------------------------------------------------------------------


class Echo(FakeApp):
    """An app that answers with the path and Host header it got."""

    def handle(self, request: Request) -> Response:
        return json_response({"path": request.path, "host": request.headers.get("Host")})


def _requirer_databags(ctx, *, strip_prefix: bool = False):
    IngressCharm.strip_prefix = strip_prefix
    out = _run(ctx, ingress_from_traefik(url=None).relation)
    relation = out.get_relations("ingress")[0]
    return relation.local_app_data, [relation.local_unit_data]


def _get(network: FakeNetwork, url: str) -> Response:
    return network(Request("GET", url), 5.0)


def test_the_fake_answers_with_traefiks_url_and_the_requirer_reads_it(ctx):
    network = FakeNetwork(cluster=False)
    fake = FakeIngress(network)
    answer = fake.answer(*_requirer_databags(ctx))
    assert answer == {"ingress": json.dumps({"url": URL})}
    read = _answer(ctx, ingress_from_traefik(raw=answer).relation)
    assert (read.url, read.base_path) == (URL, "/media-radarr")


@pytest.mark.parametrize(
    ("strip", "path", "seen"),
    [
        (False, "/media-radarr/api/v3/system/status", "/media-radarr/api/v3/system/status"),
        (True, "/media-radarr/api/v2/app/version", "/api/v2/app/version"),
        (True, "/media-radarr", "/"),
        (True, "/media-radarr/", "/"),
    ],
)
def test_the_fake_routes_to_the_service_stripping_the_prefix_when_asked(ctx, strip, path, seen):
    network = FakeNetwork(cluster=False)
    network.add(f"{SERVICE}:7878", Echo())
    fake = FakeIngress(network)
    fake.answer(*_requirer_databags(ctx, strip_prefix=strip))
    response = _get(network, f"http://ingress.charmarr.test{path}")
    assert response.status == 200
    assert response.json() == {"path": seen, "host": "ingress.charmarr.test"}


def test_the_fake_refuses_what_traefik_would(ctx):
    network = FakeNetwork(cluster=False)
    backend = Echo()
    network.add(f"{SERVICE}:7878", backend)
    fake = FakeIngress(network)
    app_data, units = _requirer_databags(ctx)
    fake.answer(app_data, units)
    assert _get(network, "http://ingress.charmarr.test/media-sonarr/").status == 404
    assert _get(network, "http://ingress.charmarr.test/").status == 404
    backend.fault = "down"
    assert _get(network, f"{URL}/").status == 502
    backend.fault = None
    fake.withdraw("media", "radarr")
    assert _get(network, f"{URL}/").status == 404


def test_the_fake_publishes_nothing_for_invalid_requirer_data(ctx):
    network = FakeNetwork(cluster=False)
    fake = FakeIngress(network)
    app_data, units = _requirer_databags(ctx)
    assert fake.answer({**app_data, "port": "0"}, units) == {}
    assert fake.answer(app_data, [{}]) == {}
    assert fake.answer({**app_data, "name": "radarr"}, units) == {}
    assert fake.url_of("media", "radarr") is None


def test_the_longest_prefix_wins(ctx):
    network = FakeNetwork(cluster=False)
    network.add(f"{SERVICE}:7878", Echo())
    other = Echo()
    network.add("radarr4k.media.svc.cluster.local:7878", other)
    fake = FakeIngress(network)
    app_data, units = _requirer_databags(ctx)
    fake.answer(app_data, units)
    fake.answer(
        {**app_data, "name": '"radarr4k"'},
        [{"host": '"radarr4k.media.svc.cluster.local"'}],
    )
    assert _get(network, "http://ingress.charmarr.test/media-radarr4k/x").status == 200
    assert [r.path for r in other.requests] == ["/media-radarr4k/x"]


def test_the_fake_routes_by_host_in_subdomain_mode(ctx):
    network = FakeNetwork(cluster=False)
    network.add(f"{SERVICE}:7878", Echo())
    fake = FakeIngress(network, routing_mode="subdomain")
    app_data, units = _requirer_databags(ctx, strip_prefix=True)
    url = json.loads(fake.answer(app_data, units)["ingress"])["url"]
    assert url == "http://media-radarr.ingress.charmarr.test/"
    response = _get(network, f"{url}api/v3/system/status")
    assert response.json()["path"] == "/api/v3/system/status"
    fake.withdraw("media", "radarr")
    with pytest.raises(ConnectionRefusedError):
        _get(network, url)


def test_the_builder_relation_is_what_the_requirer_sees():
    remote = ingress_from_traefik(url=URL, remote_app="traefik-k8s", relation_id=4)
    relation = remote.relation
    assert (relation.endpoint, relation.interface, relation.id) == ("ingress", "ingress", 4)
    assert dataclasses.replace(relation).remote_app_data == {"ingress": json.dumps({"url": URL})}
    assert ingress_from_traefik(url=None).relation.remote_app_data == {}
