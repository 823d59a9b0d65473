"""The four interfaces' databags: parsing, publishing, and what never crashes."""

from __future__ import annotations

import json

import pytest
from dummy_charm import DummyCharm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ops import testing

from charmarr_interfaces import download_client, media_indexer, media_server, vpn_gateway
from charmarr_interfaces._databag import AppData
from charmarr_interfaces.endpoint import InvalidRelationData, encode_app_data, parse_app_data
from charmarr_testing import builders

GOOD_ID = "secret:cektar2jffvo4pjxkoxa"
LONG_ID = "secret://0b3a1e4e-59d5-4b8a-8f2c-5c3a7b0a1d2e/cektar2jffvo4pjxkoxa"

MODELS: list[type[AppData]] = [
    media_indexer.IndexerProviderData,
    media_indexer.IndexerRequirerData,
    download_client.DownloadClientProviderData,
    download_client.DownloadClientRequirerData,
    vpn_gateway.VpnGatewayProviderData,
    media_server.MediaServerProviderData,
]


class _Rel:
    """Stands in for ops.Relation where only identity matters."""

    name = "media-indexer"
    id = 7
    app = None


def _parse(model, raw):
    return parse_app_data(_Rel(), model, raw)  # type: ignore[arg-type]


def test_valid_databag_round_trips():
    data = media_indexer.IndexerProviderData(
        url="http://prowlarr:9696/", api_key_secret_id=GOOD_ID
    )
    raw = encode_app_data(data)
    assert raw == {
        "api_key_secret_id": json.dumps(GOOD_ID),
        "url": json.dumps("http://prowlarr:9696"),
        "version": "1",
    }
    assert _parse(media_indexer.IndexerProviderData, raw) == data


def test_both_secret_uri_forms_are_valid():
    raw = {
        "url": '"http://sonarr:8989"',
        "kind": '"sonarr"',
        "api_key_secret_id": json.dumps(LONG_ID),
    }
    parsed = _parse(media_indexer.IndexerRequirerData, raw)
    assert isinstance(parsed, media_indexer.IndexerRequirerData)
    assert parsed.api_key_secret_id == LONG_ID


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        ({"url": "not json", "api_key_secret_id": json.dumps(GOOD_ID)}, "url", "not valid JSON"),
        (
            {"url": '"http://p:1"', "api_key_secret_id": '"hunter2"'},
            "api_key_secret_id",
            "secret URI",
        ),
        ({"url": "42", "api_key_secret_id": json.dumps(GOOD_ID)}, "url", "string"),
        ({"url": '"ftp://p:1"', "api_key_secret_id": json.dumps(GOOD_ID)}, "url", "http"),
        ({"url": '"http://p:1"'}, "api_key_secret_id", "Field required"),
        (
            {"version": "2", "url": '"http://p:1"', "api_key_secret_id": json.dumps(GOOD_ID)},
            "version",
            "schema version 2",
        ),
        ({"version": "{", "url": '"http://p:1"'}, "version", "not valid JSON"),
        ({"url": "[" * 5000, "api_key_secret_id": json.dumps(GOOD_ID)}, "url", "not valid JSON"),
        ({"something": '"else"'}, "url", "Field required"),
    ],
)
def test_invalid_data_names_the_field(raw, field, reason):
    parsed = _parse(media_indexer.IndexerProviderData, raw)
    assert isinstance(parsed, InvalidRelationData)
    assert parsed.field == field
    assert reason in parsed.reason


def test_empty_databag_is_not_an_error():
    assert _parse(media_indexer.IndexerProviderData, {}) is None


def test_category_must_be_a_safe_directory_name():
    raw = {"kind": '"radarr"', "category": '"../etc"'}
    parsed = _parse(download_client.DownloadClientRequirerData, raw)
    assert isinstance(parsed, InvalidRelationData)
    assert parsed.field == "category"


# --- property-based: arbitrary, adversarial databags never raise ------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=5,
)
secret_ids = st.sampled_from(
    [GOOD_ID, LONG_ID, "secret:", "secret:abc", "secret://x/y", "", "hunter2hunter2"]
)
raw_values = st.one_of(
    json_values.map(json.dumps),
    st.text(max_size=30),
    secret_ids,
    secret_ids.map(json.dumps),
)


def _databags(model: type[AppData]):
    keys = [*model.model_fields, "foreign_key", "api_url", "password"]
    return st.dictionaries(st.sampled_from(keys), raw_values, max_size=len(keys))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_databag_parses_to_data_or_a_typed_invalid_result(model, data):
    raw = data.draw(_databags(model))
    parsed = _parse(model, raw)
    assert parsed is None or isinstance(parsed, (model, InvalidRelationData))
    if isinstance(parsed, InvalidRelationData):
        assert parsed.field and parsed.reason


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=_databags(media_indexer.IndexerProviderData), leader=st.booleans())
def test_garbage_from_prowlarr_ends_in_a_status_never_an_error(raw, leader):
    ctx = testing.Context(
        DummyCharm,
        meta=__import__("dummy_charm").META,
        config=__import__("dummy_charm").CONFIG,
        actions=__import__("dummy_charm").ACTIONS,
    )
    DummyCharm.workload_keys = []
    relation = testing.Relation("media-indexer", remote_app_name="prowlarr", remote_app_data=raw)
    state = testing.State(leader=leader, relations=[relation])
    out = ctx.run(ctx.on.relation_changed(relation), state)
    out = ctx.run(ctx.on.update_status(), out)
    assert out.unit_status.name in ("active", "blocked", "waiting")


# --- endpoints in a charm ---------------------------------------------------------------------------


def test_invalid_remote_data_becomes_a_blocked_status_naming_relation_and_field(ctx):
    relation = testing.Relation(
        "media-indexer", remote_app_name="prowlarr", remote_app_data={"url": "{garbage"}
    )
    out = ctx.run(
        ctx.on.relation_changed(relation), testing.State(leader=True, relations=[relation])
    )
    assert out.unit_status == testing.BlockedStatus(
        "invalid data from prowlarr on media-indexer: url: not valid JSON"
    )
    assert any("invalid data from prowlarr" in line.message for line in ctx.juju_log)


def test_publish_is_leader_only_and_writes_only_differences(ctx, hook_tools):
    remote = builders.media_indexer_from_prowlarr()
    state = testing.State(leader=False, relations=[remote.relation], secrets=remote.secrets)
    with ctx(ctx.on.update_status(), state) as mgr:
        relation = mgr.charm.model.get_relation("media-indexer")
        data = media_indexer.IndexerRequirerData(
            url="http://r:7878", kind="radarr", api_key_secret_id=GOOD_ID
        )
        assert mgr.charm.indexer.publish(relation, data) is False
        assert mgr.charm.indexer.published(relation) == {}
        assert mgr.charm.indexer.published_value(relation, "url") is None
    state = testing.State(leader=True, relations=[remote.relation], secrets=remote.secrets)
    with ctx(ctx.on.update_status(), state) as mgr:
        relation = mgr.charm.model.get_relation("media-indexer")
        data = media_indexer.IndexerRequirerData(
            url="http://r:7878", kind="radarr", api_key_secret_id=GOOD_ID
        )
        assert mgr.charm.indexer.publish(relation, data) is True
        assert mgr.charm.indexer.publish(relation, data) is False
        assert mgr.charm.indexer.published_value(relation, "kind") == "radarr"


def test_stale_keys_are_erased_on_publish(ctx):
    remote = builders.media_indexer_from_prowlarr()
    relation = remote.relation
    relation = testing.Relation(
        "media-indexer",
        id=relation.id,
        remote_app_name="prowlarr",
        remote_app_data=relation.remote_app_data,
        local_app_data={"old_field": '"x"', "url": "garbage{"},
    )
    with ctx(
        ctx.on.update_status(),
        testing.State(leader=True, relations=[relation], secrets=remote.secrets),
    ) as mgr:
        rel = mgr.charm.model.get_relation("media-indexer")
        assert mgr.charm.indexer.published_value(rel, "url") is None
        out = mgr.run()
    bag = out.get_relation(relation.id).local_app_data
    assert "old_field" not in bag
    assert json.loads(bag["url"]) == "http://dummy.test.svc.cluster.local:7878"


def test_a_broken_relation_is_not_live(ctx):
    remote = builders.download_client_from_client()
    state = testing.State(leader=True, relations=[remote.relation], secrets=remote.secrets)
    with ctx(ctx.on.relation_broken(remote.relation), state) as mgr:
        assert mgr.charm.clients.relations == []
        assert list(mgr.charm.clients.read()) == []


def test_requirer_reads_every_provider(ctx):
    one = builders.download_client_from_client(kind="qbittorrent")
    two = builders.download_client_from_client(kind="sabnzbd")
    state = testing.State(
        leader=False, relations=[one.relation, two.relation], secrets=one.secrets + two.secrets
    )
    with ctx(ctx.on.update_status(), state) as mgr:
        read = list(mgr.charm.clients.read())
    assert sorted(r.data.kind for r in read) == ["qbittorrent", "sabnzbd"]
    assert sorted(r.app_name for r in read) == ["qbittorrent", "sabnzbd"]


def test_builders_cover_every_side():
    assert builders.media_indexer_from_arr(kind="sonarr").relation.remote_app_name == "sonarr"
    assert "category" in builders.download_client_from_arr(kind="sonarr").relation.remote_app_data
    gateway = builders.vpn_gateway_from_gluetun()
    assert len(gateway.secrets) == 2 and gateway.content(1)["api-key"]
    assert builders.vpn_gateway_from_requirer().relation.remote_app_data == {}
    plex = builders.media_server_from_plex(token="tok-123456789")
    assert plex.content() == {"token": "tok-123456789"}
    assert builders.media_server_from_arr().relation.remote_app_data == {}
