"""Shared fixtures for the sabnzbd-k8s unit tests."""

from __future__ import annotations

from pathlib import Path

import ops
import pytest
import sabnzbd_wired as wired
from charms_under_test import context, load_charm

from charmarr_testing.fake_sabnzbd import FakeSabnzbd

load_charm("sabnzbd")

PEBBLE_METHODS = (
    "pull",
    "push",
    "get_plan",
    "add_layer",
    "replan",
    "get_services",
    "start",
    "stop",
    "restart",
    "can_connect",
)
PEBBLE_WRITES = ("push", "add_layer", "replan", "start", "stop", "restart")


@pytest.fixture
def ctx():
    return context("sabnzbd")


@pytest.fixture
def pebble_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the Pebble-backed ``ops.Container`` methods the charm called."""
    calls: list[str] = []
    for name in PEBBLE_METHODS:
        original = getattr(ops.Container, name)

        def wrapper(self, *args, _original=original, _name=name, **kwargs):
            calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(ops.Container, name, wrapper)
    return calls


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def fake(fake_network, config_dir: Path) -> FakeSabnzbd:
    """SABnzbd answering on localhost:8080 with the wired key, its ini in ``config_dir``."""
    app = FakeSabnzbd(wired.API_KEY, ini_path=config_dir / "sabnzbd.ini")
    fake_network.add("localhost:8080", app)
    return app


@pytest.fixture
def write_ini(config_dir: Path):
    def _write(api_key: str = wired.API_KEY, proxy_url: str = "") -> Path:
        path = config_dir / "sabnzbd.ini"
        path.write_text(wired.ini_text(api_key, proxy_url))
        return path

    return _write
