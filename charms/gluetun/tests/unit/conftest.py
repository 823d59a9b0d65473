"""Fixtures for gluetun-k8s: a State builder, the fake control server and a Pebble spy."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ops
import pytest
from charms_under_test import context
from gluetun_wired import AUTH_FILE_NAME, containers
from ops import testing

from charmarr_common.rotation import generate_token
from charmarr_testing import builders
from charmarr_testing.fake_gluetun import (
    ADDRESS,
    HEALTH_ADDRESS,
    FakeGluetun,
    parse_roles,
    wireguard_key,
)
from charmarr_testing.fakes import FakeNetwork

APP = "gluetun-k8s"
PROXY_LABEL = "gluetun-proxy-credentials"

PEBBLE_CALLS = (
    "pull",
    "push",
    "get_plan",
    "add_layer",
    "replan",
    "restart",
    "start",
    "stop",
    "list_files",
    "remove_path",
    "get_services",
    "exec",
)
PEBBLE_WRITES = ("push", "add_layer", "replan", "restart", "start", "stop", "remove_path")


@dataclass
class Gw:
    """One test's Gluetun world: context, fake control server, container directories."""

    ctx: testing.Context[ops.CharmBase]
    fake: FakeGluetun
    gluetun_dir: Path
    socks_dir: Path
    boxes: list[testing.Container]
    user: testing.Secret = field(
        default_factory=lambda: testing.Secret(
            {"private-key": wireguard_key(), "addresses": "10.64.0.2/32"}
        )
    )

    def state(
        self,
        *,
        leader: bool = True,
        config: dict[str, Any] | None = None,
        secrets: list[testing.Secret] | None = None,
        relations: list[testing.Relation] | None = None,
        with_user_secret: bool = True,
        can_connect: bool = True,
    ) -> testing.State:
        """A State with the VPN options set (override with ``config``)."""
        options: dict[str, Any] = {
            "vpn-provider": "mullvad",
            "vpn-type": "wireguard",
            "cluster-cidrs": "10.1.0.0/16,10.152.183.0/24",  # pods and services, as on MicroK8s
        }
        if with_user_secret:
            options["credentials-secret"] = self.user.id
        options.update(config or {})
        options = {k: v for k, v in options.items() if v is not None}
        all_secrets = ([self.user] if with_user_secret else []) + list(secrets or [])
        boxes = [
            testing.Container(b.name, can_connect=can_connect, mounts=b.mounts) for b in self.boxes
        ]
        return testing.State(
            leader=leader,
            config=options,
            secrets=all_secrets,
            relations=list(relations or []),
            containers=boxes,
        )

    def file(self, name: str) -> str | None:
        """A file the charm pushed to Gluetun's /run/secrets (None if absent)."""
        path = self.gluetun_dir / name
        return path.read_text() if path.exists() else None

    def socks_config(self) -> str | None:
        """The SOCKS5 server's config file (None if absent)."""
        path = self.socks_dir / "3proxy.cfg"
        return path.read_text() if path.exists() else None

    @staticmethod
    def owned(state: testing.State, label: str) -> testing.Secret | None:
        """The owned secret ``label`` in a state, if any."""
        for secret in state.secrets:
            if secret.label == label:
                return secret
        return None

    @staticmethod
    def proxy_secret(password: str | None = None) -> testing.Secret:
        """A proxy-credentials secret as the leader created it earlier."""
        return testing.Secret(
            {"username": "proxy-0a1b2c3d", "password": password or generate_token()},
            owner="app",
            label=PROXY_LABEL,
        )

    @staticmethod
    def env(state: testing.State) -> dict[str, str]:
        """Gluetun's environment in the output plan."""
        plan = state.get_container("gluetun").plan
        return dict(plan.services["gluetun"].environment)

    def roles(self) -> dict[str, dict[str, Any]]:
        """The control server's roles by name, as Gluetun would read them."""
        text = self.file(AUTH_FILE_NAME)
        return {str(r["name"]): r for r in parse_roles(text or "")}


@pytest.fixture
def gw(fake_network: FakeNetwork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Gw:
    boxes, gluetun_dir, socks_dir = containers(tmp_path)
    fake = FakeGluetun(gluetun_dir / AUTH_FILE_NAME)
    fake_network.add(ADDRESS, fake)
    fake_network.add(HEALTH_ADDRESS, fake)
    _boot_on_pebble_start(monkeypatch, fake)
    return Gw(context("gluetun"), fake, gluetun_dir, socks_dir, boxes)


def _boot_on_pebble_start(monkeypatch: pytest.MonkeyPatch, fake: FakeGluetun) -> None:
    """Pebble (re)starting the gluetun service (re)starts the fake, as it does Gluetun."""
    for name in ("replan", "restart", "start"):
        original = getattr(ops.Container, name)

        def wrapper(self: ops.Container, *args: Any, __o: Any = original, __n: str = name):
            result = __o(self, *args)
            if self.name == "gluetun" and (__n == "replan" or "gluetun" in args):
                fake.start()
            return result

        monkeypatch.setattr(ops.Container, name, wrapper)


@pytest.fixture
def requirer() -> builders.Remote:
    return builders.vpn_gateway_from_requirer(remote_app="qbittorrent", relation_id=7)


class Spy:
    """Ordered record of Pebble calls (container, call, first arg) and secret publications."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, Any]] = []

    def clear(self) -> None:
        self.log.clear()

    def pebble(self, call: str | None = None) -> list[tuple[str, str, Any]]:
        return [e for e in self.log if e[0] != "juju" and (call is None or e[1] == call)]

    @property
    def writes(self) -> list[tuple[str, str, Any]]:
        return [e for e in self.pebble() if e[1] in PEBBLE_WRITES]

    def index(self, entry: tuple[str, str, Any]) -> int:
        return self.log.index(entry)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    record = Spy()
    for name in PEBBLE_CALLS:
        original = getattr(ops.Container, name)

        def wrapper(self: ops.Container, *args: Any, __n: str = name, __o: Any = original, **kw):
            first = args[0] if args and isinstance(args[0], str) else None
            record.log.append((self.name, __n, first))
            return __o(self, *args, **kw)

        monkeypatch.setattr(ops.Container, name, wrapper)
    original_set = ops.Secret.set_content

    def set_content(self: ops.Secret, content: dict[str, str]) -> None:
        record.log.append(("juju", "secret-set", self.label))
        original_set(self, content)

    monkeypatch.setattr(ops.Secret, "set_content", set_content)
    return record
