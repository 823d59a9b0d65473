"""qbittorrent-k8s fully wired and converged: one update-status from here changes nothing.

Related to Radarr over ``download-client`` (its category exists) and to
Gluetun over ``vpn-gateway`` (qBittorrent already proxied through it); the credentials
secret exists, the conf on the ``config`` storage carries its hash, the layer is
planned and the service runs; the fake answers at ``localhost:8080``.
"""

from __future__ import annotations

import importlib
from typing import Any

import ops
from charms_under_test import load_charm
from ops import pebble, testing

from charmarr_common.rotation import generate_token
from charmarr_interfaces.download_client import DownloadClientProviderData
from charmarr_interfaces.endpoint import encode_app_data
from charmarr_interfaces.vpn_gateway import Gateway
from charmarr_testing import builders
from charmarr_testing.fake_qbittorrent import FakeQBittorrent
from charmarr_testing.scratch import scratch_dir

MODEL = "media"
APP = "qbittorrent-k8s"


def wired_state(network: Any, *, leader: bool = True) -> tuple[testing.State, FakeQBittorrent]:
    """The converged State and the fake qBittorrent registered on ``network``."""
    load_charm("qbittorrent")  # puts charms/qbittorrent/src on sys.path
    layer_mod = importlib.import_module("_qbittorrent.layer")
    config_mod = importlib.import_module("_qbittorrent.config")
    desired = importlib.import_module("_qbittorrent.desired")

    password = generate_token(16)
    credentials = testing.Secret(
        {"username": "admin", "password": password},
        label="qbittorrent-credentials",
        owner="app",
        rotate=ops.SecretRotate.MONTHLY,
    )
    published = encode_app_data(
        DownloadClientProviderData(
            url=f"http://{APP}.{MODEL}.svc.cluster.local:8080",
            kind="qbittorrent",
            credentials_secret_id=credentials.id,
        )
    )
    relations: list[testing.RelationBase] = []
    for kind in ("radarr", "sonarr"):
        remote = builders.download_client_from_arr(kind=kind)
        relations.append(
            testing.Relation(
                endpoint=remote.relation.endpoint,
                interface=remote.relation.interface,
                remote_app_name=remote.relation.remote_app_name,
                remote_app_data=remote.relation.remote_app_data,
                remote_units_data=remote.relation.remote_units_data,
                local_app_data=published if leader else {},
            )
        )
    gluetun = builders.vpn_gateway_from_gluetun()
    relations.append(gluetun.relation)

    fake = FakeQBittorrent(username="admin", password=password)
    fake.categories = {kind: desired.category_path(kind) for kind in ("radarr", "sonarr")}
    proxy = gluetun.content(0)
    data = gluetun.relation.remote_app_data
    gateway = Gateway(
        app="gluetun",
        http_proxy_url=data["http_proxy_url"].strip('"'),
        socks5_proxy_url=data["socks5_proxy_url"].strip('"'),
        username=proxy["username"],
        password=proxy["password"],
        connected=True,
        public_ip="203.0.113.7",
    )
    fake.preferences.update(desired.proxied_preferences((4, 5, 2), gateway))
    fake.preferences.update(desired.download_changes({}))  # the charm's, already applied
    network.add("localhost:8080", fake)

    config_dir = scratch_dir("charmarr-qbittorrent-")
    conf_file = config_dir / "qBittorrent" / "config" / "qBittorrent.conf"
    conf_file.parent.mkdir(parents=True)
    conf_file.write_text(config_mod.render("[Preferences]\nWebUI\\Port=8080\n", "admin", password))

    container = testing.Container(
        "qbittorrent",
        can_connect=True,
        layers={"qbittorrent": pebble.Layer(layer_mod.pebble_layer(True))},
        service_statuses={"qbittorrent": pebble.ServiceStatus.ACTIVE},
        mounts={"config": testing.Mount(location="/config", source=config_dir)},
    )
    state = testing.State(
        leader=leader,
        model=testing.Model(name=MODEL),
        config={"media-volume": "charmarr-media"},
        relations=relations,
        secrets=[credentials, *gluetun.secrets],
        containers=[container],
        storages=[testing.Storage("config")],
        opened_ports=[testing.TCPPort(8080)],
    )
    return state, fake
