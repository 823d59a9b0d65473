"""The input states of a deployed *arr charm (Prowlarr, Radarr, Sonarr) for ``ops.testing``.

They live with the charm side, not in the test kit: a deployed unit's container holds the
charm's own planned layer (:func:`charmarr_servarr.arr.pebble_layer`), which the kit, a
model of the apps, must not import. The wired states of the three charms and the shared
suites build on them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from charmarr_testing.fake_servarr import (
    PROWLARR,
    RADARR,
    SONARR,
    FakeServarr,
    config_xml,
    json_loads,
    serve_at,
    serve_peers,
)

MODEL_NAME = "media"
"""The model the builders' URLs point into (``<app>-0.<app>-endpoints.media.svc...``)."""


def owned_key_secret(app: Any, api_key: str) -> Any:
    """The charm's own ``<app>-api-key`` secret, as it exists after the first deploy."""
    import ops
    from ops import testing

    return testing.Secret(
        {"api-key": api_key},
        owner="app",
        label=f"{app.name}-api-key",
        description=f"{app.title} API key",
        rotate=ops.SecretRotate.MONTHLY,
    )


def servarr_container(app: Any, config_dir: Path, *, deployed: bool = True) -> Any:
    """The workload container with /config mounted from ``config_dir``.

    ``deployed``: the charm's layer is planned and the service active.
    """
    from ops import pebble, testing

    from charmarr_servarr.arr import pebble_layer

    kwargs: dict[str, Any] = {}
    if deployed:
        kwargs["layers"] = {app.name: pebble.Layer(pebble_layer(app))}  # type: ignore[arg-type]
        kwargs["service_statuses"] = {app.name: pebble.ServiceStatus.ACTIVE}
    return testing.Container(
        app.name,
        can_connect=True,
        mounts={"config": testing.Mount(location="/config", source=config_dir)},
        execs={testing.Exec(["chown"])},
        **kwargs,
    )


def servarr_state(
    app: Any,
    network: Any,
    *,
    relations: Iterable[Any] = (),
    leader: bool = True,
    deployed: bool = True,
    api_key: str | None = None,
    config_dir: Path | None = None,
    config: dict[str, Any] | None = None,
) -> tuple[Any, FakeServarr]:
    """The input state of an *arr charm and its workload fake, served on ``network``.

    ``relations``: :class:`~.builders.Remote` objects (their granted secrets are added).
    ``deployed``: the key secret exists, config.xml holds it, the service runs; otherwise
    a fresh unit (no secret, empty /config, nothing planned).
    """
    import uuid

    from ops import testing

    from charmarr_testing.scratch import scratch_dir

    directory = config_dir or scratch_dir(f"charmarr-{app.name}-")
    # mirrors Servarr src/NzbDrone.Core/Configuration/ConfigFileProvider.cs GenerateApiKey
    key = api_key or uuid.uuid4().hex
    secrets: list[Any] = []
    if deployed:
        (directory / "config.xml").write_text(config_xml(key, app.port))
        secrets.append(owned_key_secret(app, key))
    fake = FakeServarr(app, key if deployed else None, config_path=directory / "config.xml")
    network.add(f"localhost:{app.port}", fake)
    remotes = list(relations)
    serve_peers(network, remotes, category=f"{app.name}-k8s")
    for remote in remotes:
        secrets.extend(remote.secrets)
    if app.name in (RADARR.name, SONARR.name):
        # Radarr and Sonarr mount the shared media volume (the fake cluster has this PVC).
        config = {"media-volume": "charmarr-media", **(config or {})}
    state = testing.State(
        leader=leader,
        config=config or {},
        model=testing.Model(name=MODEL_NAME),
        containers={servarr_container(app, directory, deployed=deployed)},
        storages={testing.Storage("config")},
        relations={r.relation for r in remotes},
        secrets=secrets,
    )
    return state, fake


def media_manager_world(
    app: Any, network: Any, *, leader: bool = True, app_name: str | None = None
) -> tuple[Any, FakeServarr]:
    """Radarr or Sonarr with Prowlarr (which lists it), qBittorrent, SABnzbd and Plex related.

    ``app_name``: the charm's application name (``ops.testing`` uses the charm's name).
    """
    from charmarr_common.cleanup import managed_name
    from charmarr_testing import builders

    prowlarr_key = "0" * 31 + "1"
    indexer = builders.media_indexer_from_prowlarr(api_key=prowlarr_key)
    prowlarr = FakeServarr(PROWLARR, prowlarr_key)
    prowlarr.add(
        "applications",
        {
            "name": managed_name(app_name or f"{app.name}-k8s"),
            "implementation": app.title,
            "fields": [],
        },
    )
    serve_at(network, str(json_loads(indexer.relation.remote_app_data["url"])), prowlarr)
    remotes = [
        indexer,
        builders.download_client_from_client(kind="qbittorrent"),
        builders.download_client_from_client(kind="sabnzbd"),
        builders.media_server_from_plex(),
    ]
    return servarr_state(app, network, relations=remotes, leader=leader)
