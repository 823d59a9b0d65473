"""Per-charm units: the containers, storage and workload fakes one unit of each charm gets.

A kit is what the pod of a freshly deployed unit holds (its charmcraft.yaml's containers
and storage, the volumes behind them) and the fake that plays its workload. A fake boots
from the files the charm wrote, read with the fake's own parser (never the charm's), as
the daemon reads them at start.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from charms_under_test import charm_dirs, repo_root
from ops import testing
from workloads import Workload

from charmarr_testing.fake_gluetun import FakeGluetun
from charmarr_testing.fake_plex import FakePlexServer
from charmarr_testing.fake_qbittorrent import FakeQBittorrent
from charmarr_testing.fake_sabnzbd import FakeSabnzbd
from charmarr_testing.fake_servarr import APPS, FakeServarr, Servarr

BUNDLE = repo_root(Path(__file__)) / "bundle.yaml"

QBT_CONF = Path("qBittorrent/config/qBittorrent.conf")
PLEX_PREFS = Path("Library/Application Support/Plex Media Server/Preferences.xml")
GLUETUN_AUTH = "control-server-auth.toml"
SECRETS_DIR = "/run/secrets"
"""The pod volume Gluetun and its SOCKS5 server share for their secrets."""


@dataclass
class Kit:
    """One unit's pod: containers, storage, workloads by (container, service) and port."""

    containers: list[testing.Container]
    storages: list[testing.Storage]
    workloads: dict[tuple[str, str], Workload]
    ports: dict[int, Workload]
    dirs: dict[str, Path]
    fake: Any


def _config_container(name: str, source: Path, **kwargs: Any) -> testing.Container:
    # The charms own /config (chown) before their workload's first start.
    kwargs.setdefault("execs", {testing.Exec(["chown"])})
    return testing.Container(
        name,
        can_connect=True,
        mounts={"config": testing.Mount(location="/config", source=source)},
        **kwargs,
    )


def _servarr_kit(unit: str, root: Path, app: Servarr) -> Kit:
    config = root / "config"
    config.mkdir(parents=True)
    fake = FakeServarr(app, None, config_path=config / "config.xml")
    workload = Workload(unit, app.name, fake)
    container = _config_container(app.name, config)
    return Kit(
        [container],
        [testing.Storage("config")],
        {(app.name, app.name): workload},
        {app.port: workload},
        {"config": config},
        fake,
    )


def _qbittorrent_kit(unit: str, root: Path) -> Kit:
    config = root / "config"
    config.mkdir(parents=True)
    fake = FakeQBittorrent(username="admin", password="")

    def boot(daemon: FakeQBittorrent) -> None:
        conf = config / QBT_CONF
        if conf.exists():
            daemon.boot(conf.read_text())

    workload = Workload(unit, "qbittorrent", fake, boot)
    return Kit(
        [_config_container("qbittorrent", config)],
        [testing.Storage("config")],
        {("qbittorrent", "qbittorrent"): workload},
        {8080: workload},
        {"config": config},
        fake,
    )


def _sabnzbd_kit(unit: str, root: Path) -> Kit:
    config = root / "config"
    config.mkdir(parents=True)
    ini = config / "sabnzbd.ini"
    fake = FakeSabnzbd("", ini_path=ini)

    def boot(daemon: FakeSabnzbd) -> None:
        daemon.boot()  # SABnzbd reads sabnzbd.ini at start (the fake with its own parser)

    workload = Workload(unit, "sabnzbd", fake, boot)
    return Kit(
        [_config_container("sabnzbd", config)],
        [testing.Storage("config")],
        {("sabnzbd", "sabnzbd"): workload},
        {8080: workload},
        {"config": config, "ini": ini},
        fake,
    )


def _gluetun_kit(unit: str, root: Path) -> Kit:
    gluetun_dir, socks_dir = root / "gluetun", root / "socks5"
    containers = []
    for name, source in (("gluetun", gluetun_dir), ("socks5", socks_dir)):
        source.mkdir(parents=True)
        mount = testing.Mount(location=SECRETS_DIR, source=source)
        containers.append(testing.Container(name, can_connect=True, mounts={"secrets": mount}))
    fake = FakeGluetun(gluetun_dir / GLUETUN_AUTH)
    workload = Workload(unit, "gluetun", fake, FakeGluetun.start)
    socks = Workload(unit, "socks5", None)
    return Kit(
        containers,
        [],
        {("gluetun", "gluetun"): workload, ("socks5", "socks5"): socks},
        {8000: workload, 9999: workload},
        {"secrets": gluetun_dir, "socks5": socks_dir},
        fake,
    )


def _plex_kit(unit: str, root: Path) -> Kit:
    config = root / "config"
    config.mkdir(parents=True)
    fake = FakePlexServer(config / PLEX_PREFS)
    workload = Workload(unit, "plex", fake)
    return Kit(
        [_config_container("plex", config, execs={testing.Exec(["chown"])})],
        [testing.Storage("config")],
        {("plex", "plex"): workload},
        {32400: workload},
        {"config": config, "prefs": config / PLEX_PREFS},
        fake,
    )


def kit(charm: str, unit: str, root: Path) -> Kit:
    """A new unit of ``charm`` named ``unit``, its volumes under ``root``."""
    if charm in APPS:
        return _servarr_kit(unit, root, APPS[charm])
    makers = {
        "qbittorrent": _qbittorrent_kit,
        "sabnzbd": _sabnzbd_kit,
        "gluetun": _gluetun_kit,
        "plex": _plex_kit,
    }
    return makers[charm](unit, root)


@functools.cache
def charm_options(charm: str) -> frozenset[str]:
    """The config options a charm declares."""
    meta = yaml.safe_load((charm_dirs()[charm] / "charmcraft.yaml").read_text())
    return frozenset(((meta.get("config") or {}).get("options") or {}).keys())


@functools.cache
def charm_storages(charm: str) -> frozenset[str]:
    meta = yaml.safe_load((charm_dirs()[charm] / "charmcraft.yaml").read_text())
    return frozenset((meta.get("storage") or {}).keys())


def bundle() -> dict[str, Any]:
    """bundle.yaml."""
    return yaml.safe_load(BUNDLE.read_text())
