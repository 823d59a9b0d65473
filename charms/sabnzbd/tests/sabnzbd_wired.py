"""sabnzbd-k8s fully wired: radarr and sonarr on download-client, gluetun on vpn-gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ops import SecretRotate, pebble, testing

from charmarr_testing import builders
from charmarr_testing.fake_sabnzbd import FakeSabnzbd
from charmarr_testing.scratch import scratch_dir

APP = "sabnzbd-k8s"
"""ops.testing names the application after the charm unless a test says otherwise."""
MODEL = "media"
LABEL = "sabnzbd-api-key"
API_KEY = "5f0c2b8e9d4a41f3a7b6c5d4e3f2a1b0"


def _charm_src() -> None:
    """Put the charm's ``src`` on ``sys.path`` (its ``_sabnzbd`` package renders the files)."""
    from charms_under_test import load_charm

    load_charm("sabnzbd")


def layer() -> pebble.LayerDict:
    """The charm's own Pebble layer."""
    _charm_src()
    from _sabnzbd import layer as charm_layer

    return charm_layer()


def ini_text(api_key: str, proxy_url: str = "", unit_number: int = 0) -> str:
    """A sabnzbd.ini as the charm renders it for ``api_key``."""
    _charm_src()
    from _sabnzbd import host_whitelist, render_ini

    names = host_whitelist(APP, MODEL, unit_number)
    return render_ini(None, api_key=api_key, whitelist=names, proxy_url=proxy_url)


def container(
    config_dir: Path,
    *,
    running: bool = True,
    can_connect: bool = True,
    with_layer: bool = True,
) -> testing.Container:
    """The sabnzbd container with /config mounted from ``config_dir``."""
    return testing.Container(
        "sabnzbd",
        can_connect=can_connect,
        layers={"sabnzbd": pebble.Layer(layer())} if with_layer else {},
        service_statuses=(
            {"sabnzbd": pebble.ServiceStatus.ACTIVE if running else pebble.ServiceStatus.INACTIVE}
            if with_layer
            else {}
        ),
        mounts={"config": testing.Mount(location="/config", source=config_dir)},
        execs={testing.Exec(["chown"])},  # the charm owns /config before the first start
    )


def owned_secret(api_key: str = API_KEY) -> testing.Secret:
    """The app's own sabnzbd-api-key secret, rotating monthly (the default interval)."""
    return testing.Secret(
        {"api-key": api_key}, label=LABEL, owner="app", rotate=SecretRotate.MONTHLY
    )


def wired_state(
    network: Any, *, leader: bool = True, consumers: tuple[str, ...] = ("radarr", "sonarr")
) -> tuple[testing.State, FakeSabnzbd]:
    """Every endpoint related, the workload configured and answering; ends Active.

    ``consumers``: up to two *arr apps on download-client (relation IDs 11 and 12); the
    vpn-gateway relation with gluetun has ID 13.
    """
    if len(consumers) > 2:
        raise ValueError("at most two consumers (relation IDs 11 and 12)")
    _charm_src()
    from _sabnzbd import socks5_url

    config_dir = scratch_dir("charmarr-sabnzbd-")
    arrs = [
        builders.download_client_from_arr(kind=kind, relation_id=11 + i)  # type: ignore[arg-type]
        for i, kind in enumerate(consumers)
    ]
    gluetun = builders.vpn_gateway_from_gluetun(relation_id=13)
    proxy = gluetun.content(0)
    host = "gluetun-0.gluetun-endpoints.media.svc.cluster.local"
    url = socks5_url(host, 1080, proxy["username"], proxy["password"]) or ""
    (config_dir / "sabnzbd.ini").write_text(ini_text(API_KEY, url))
    fake = FakeSabnzbd(API_KEY, ini_path=config_dir / "sabnzbd.ini")
    network.add("localhost:8080", fake)
    state = testing.State(
        leader=leader,
        model=testing.Model(name=MODEL),
        config={
            "rotation-interval": "monthly",
            "require-vpn": True,
            "media-volume": "charmarr-media",
        },
        relations=[*(arr.relation for arr in arrs), gluetun.relation],
        secrets=[owned_secret(), *gluetun.secrets],
        containers=[container(config_dir)],
        storages=[testing.Storage("config")],
    )
    return state, fake
