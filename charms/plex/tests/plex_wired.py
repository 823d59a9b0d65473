"""plex-k8s fully wired: a claimed server, its plex-token published to Radarr and Sonarr.

The container's ``/config`` is a fresh temporary directory holding a ``Preferences.xml``
with a ``PlexOnlineToken``; the owned ``plex-token`` secret holds the same token and both
``media-server`` relations already carry Plex's URL and the secret ID, so one
``update-status`` is the steady state: Active, no write of any kind, no plex.tv call.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from charms_under_test import load_charm
from ops import pebble, testing

from charmarr_common.rotation import generate_token
from charmarr_interfaces import media_server
from charmarr_interfaces.endpoint import encode_app_data
from charmarr_testing import builders
from charmarr_testing.fake_plex import PLEX_ADDRESS, FakePlexServer
from charmarr_testing.scratch import scratch_dir

MODEL = "media"
APP = "plex-k8s"
"""The application name ops.testing gives the charm (its charmcraft.yaml name)."""
MACHINE_ID = "5d1a8e2b-4c3f-4e6a-9b7d-0a1c2e3f4a5b"
PROCESSED_ID = "b7a3f0e4c9d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5"


def preferences_xml(token: str | None, **extra: str) -> str:
    """A Preferences.xml as Plex writes it, with ``PlexOnlineToken`` if ``token``."""
    attrs = {
        "OldestPreviousVersion": "1.43.0.10492-121068a07",
        "MachineIdentifier": MACHINE_ID,
        "ProcessedMachineIdentifier": PROCESSED_ID,
        "AnonymousMachineIdentifier": "9e8d7c6b-5a49-4382-a1b0-c9d8e7f6a5b4",
        "MetricsEpoch": "1",
        "AcceptedEULA": "1",
        "FriendlyName": "living-room",
        "PublishServerOnPlexOnlineKey": "1",
        **extra,
    }
    if token:
        attrs["PlexOnlineToken"] = token
    body = " ".join(f'{k}="{v}"' for k, v in attrs.items())
    return f'<?xml version="1.0" encoding="utf-8"?>\n<Preferences {body}/>\n'


def config_dir(preferences: str | None) -> tuple[Path, Path]:
    """A temporary ``/config`` source with ``preferences`` (None: no file): (dir, prefs file)."""
    root = scratch_dir("charmarr-plex-")
    server_dir = root / "Library" / "Application Support" / "Plex Media Server"
    server_dir.mkdir(parents=True)
    prefs = server_dir / "Preferences.xml"
    if preferences is not None:
        prefs.write_text(preferences)
    return root, prefs


def plex_container(source: Path, *, planned: bool = True) -> testing.Container:
    """The plex container, connectable, with ``source`` mounted at /config.

    Args:
        source: the host directory behind /config.
        planned: the charm's layer is already in the plan and the service running.
    """
    load_charm("plex")  # puts charms/plex/src on sys.path
    from _plex import workload  # pyright: ignore[reportMissingImports]

    kwargs: dict[str, Any] = {}
    if planned:
        kwargs["layers"] = {workload.LAYER: pebble.Layer(workload.layer())}
        kwargs["service_statuses"] = {workload.SERVICE: pebble.ServiceStatus.ACTIVE}
    return testing.Container(
        workload.CONTAINER,
        can_connect=True,
        mounts={"config": testing.Mount(location="/config", source=source)},
        execs={testing.Exec(["chown"])},
        **kwargs,
    )


def wired_state(network: Any, *, leader: bool = True) -> tuple[testing.State, FakePlexServer]:
    """The claimed, related steady state and the fake server registered on ``network``."""
    token = generate_token(10)
    root, prefs = config_dir(preferences_xml(token))
    server = FakePlexServer(prefs)
    network.add(PLEX_ADDRESS, server)

    token_secret = testing.Secret({media_server.TOKEN: token}, label="plex-token", owner="app")
    claim_secret = builders.granted_secret({"claim-token": f"claim-{generate_token(10)}"})
    url = f"http://{APP}.{MODEL}.svc.cluster.local:32400"
    published = encode_app_data(
        media_server.MediaServerProviderData(url=url, token_secret_id=token_secret.id)
    )
    relations = [
        dataclasses.replace(builders.media_server_from_arr(remote_app=app).relation,
                            local_app_data=published)
        for app in ("radarr", "sonarr")
    ]  # fmt: skip
    state = testing.State(
        leader=leader,
        model=testing.Model(name=MODEL),
        config={"claim-token-secret": claim_secret.id, "media-volume": "charmarr-media"},
        containers=[plex_container(root)],
        storages=[testing.Storage("config")],
        relations=relations,
        secrets=[token_secret, claim_secret],
        opened_ports=[testing.TCPPort(32400)],
    )
    return state, server
