"""A charm's first hook in ``ops.testing``, replayed on a real folder for a real daemon.

A fresh Juju storage volume is an empty folder owned by root. The workload tests run the
charm with ``/config`` mounted from such a folder (``ops.testing`` writes the pushed
files there), then do what Pebble would have done besides: give each pushed file, and
each folder the push created, the owner the charm asked for (Pebble's ``make-dirs``
creates parents with the file's owner), and run the commands the charm executed (only
``chown``). Then the daemon starts as the layer says, as its user, and shows whether the
charm prepared the volume well enough.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ops
import pytest


@contextmanager
def root_owned_volume(prefix: str) -> Iterator[Path]:
    """An empty folder owned by root (mode 0755) that uid 1000 can reach; removed after.

    Needs root (fails with ``CHARMARR_REQUIRE_WORKLOADS=1``, else skips).
    """
    if os.geteuid() != 0:
        message = "needs root: a root-owned /config and the daemon run as uid 1000"
        if os.environ.get("CHARMARR_REQUIRE_WORKLOADS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    top = Path(tempfile.mkdtemp(prefix=prefix))
    top.chmod(0o755)  # pytest's own tmp folders are 0700: the daemon's user must get in
    volume = top / "config"
    volume.mkdir(mode=0o755)
    try:
        yield volume
    finally:
        shutil.rmtree(top, ignore_errors=True)


class PodReplay:
    """Records the charm's pushes into ``volume`` (mounted at ``location``) and replays them.

    Create it before the charm runs; call :meth:`replay` with the executed commands after.
    """

    def __init__(self, volume: Path, monkeypatch: pytest.MonkeyPatch, location: str = "/config"):
        self.volume = volume
        self.location = location
        self.existing = {p for p in volume.rglob("*") if p.is_dir()} | {volume}
        self.pushed: list[tuple[str, int | None, int | None]] = []
        original = ops.Container.push

        def push(container, path, source, *args, **kwargs):
            self.pushed.append((str(path), kwargs.get("user_id"), kwargs.get("group_id")))
            return original(container, path, source, *args, **kwargs)

        monkeypatch.setattr(ops.Container, "push", push)

    def local(self, path: str) -> str:
        """``path`` in the container, on this machine (only paths in the volume move)."""
        if path == self.location or path.startswith(self.location + "/"):
            return str(self.volume) + path.removeprefix(self.location)
        return path

    def replay(self, commands: Iterable[list[str]]) -> None:
        """Run the charm's ``chown`` commands, then give pushed files their owners."""
        for command in commands:
            assert command[0] == "chown", f"the charm ran {command[0]}: not replayed"
            subprocess.run([command[0], *map(self.local, command[1:])], check=True, timeout=10)
        for path, user, group in self.pushed:
            if user is None:
                continue
            gid = -1 if group is None else group
            target = Path(self.local(path))
            os.chown(target, user, gid)
            for parent in target.parents:
                if parent in self.existing or self.volume not in parent.parents:
                    break
                os.chown(parent, user, gid)

    def first_hook(self, ctx: Any, container: str, **config: Any) -> Any:
        """Run the charm's first ``pebble-ready`` (``ctx``) on the volume, then replay it.

        Returns the output state.

        The leader of a fresh deployment in model ``media``, nothing related, no workload
        answering; ``config`` is the charm's options.
        """
        from ops import testing

        from charmarr_common.http import use_transport

        from .fakes import FakeNetwork

        box = testing.Container(
            container,
            can_connect=True,
            mounts={"config": testing.Mount(location=self.location, source=self.volume)},
            execs={testing.Exec(["chown"])},
        )
        state = testing.State(
            leader=True,
            model=testing.Model(name="media"),
            config=config,
            containers=[box],
            storages=[testing.Storage("config")],
        )
        with use_transport(FakeNetwork()):
            out = ctx.run(ctx.on.pebble_ready(box), state)
        self.replay(e.command for e in ctx.exec_history.get(container, []))
        return out

    def start(
        self, binary: str, args: list[str], service: Any, log: Path, **env: str
    ) -> subprocess.Popen[bytes]:
        """Start ``binary`` as the Pebble ``service`` would, its output to ``log``.

        As the service's user and group, with its environment (paths in the volume moved
        here, ``env`` on top).
        """
        environment = {k: self.local(v) for k, v in service.environment.items()}
        with log.open("wb") as out:
            return subprocess.Popen(
                [binary, *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **environment, **env},
                user=service.user_id,
                group=service.group_id,
                extra_groups=[],
            )
