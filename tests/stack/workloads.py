"""The workloads on the stack's network: one process per unit, pods and Kubernetes Services.

A workload fake answers only while its Pebble service runs; ``localhost`` is the pod of
the unit running a hook; the in-cluster address of an app is its Service, which sends each
connection to a ready pod. Kept apart from the hook queue because it models the cluster,
not Juju.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from charmarr_common.http import Request, Response
from charmarr_testing.fakes import FakeNetwork

if TYPE_CHECKING:
    from records import App, Unit


class Workload:
    """One unit's workload process: its fake answers only while the service runs."""

    def __init__(
        self, unit: str, name: str, fake: Any, on_boot: Callable[[Any], None] | None = None
    ):
        self.unit = unit
        self.name = name
        self.fake = fake
        self.on_boot = on_boot
        self.running = False
        self.boots = 0
        self.booted_plan: Any = None

    def __call__(self, request: Request) -> Response:
        if not self.running:
            raise ConnectionRefusedError(f"{self.unit} {self.name}: not running")
        return self.fake(request)

    def boot(self, plan: Any = None) -> None:
        """(Re)start: load what the charm wrote, as the daemon does at start."""
        self.running = True
        self.boots += 1
        self.booted_plan = plan
        if self.on_boot is not None:
            self.on_boot(self.fake)

    def stop(self) -> None:
        self.running = False


class StackNetwork(FakeNetwork):
    """A :class:`FakeNetwork` where ``localhost`` is the pod of the unit running a hook."""

    def __init__(self) -> None:
        super().__init__()
        self.local: dict[str, dict[int, Callable[[Request], Response]]] = {}
        self.current_unit: str | None = None

    def __call__(self, request: Request, timeout: float) -> Response:
        parts = urlsplit(request.url)
        if parts.hostname in ("localhost", "127.0.0.1"):
            self.requests.append(request)
            port = parts.port or 80
            app = self.local.get(self.current_unit or "", {}).get(port)
            if app is None:
                raise ConnectionRefusedError(f"nothing serves localhost:{port} in this pod")
            return app(request)
        return super().__call__(request, timeout)


def _check_port(check: Any) -> int | None:
    """The port a Pebble check asks on localhost (HTTP or TCP), if any."""
    if check.http and check.http.get("url"):
        return urlsplit(str(check.http["url"])).port or 80
    if check.tcp and check.tcp.get("port"):
        return int(check.tcp["port"])
    return None


def unit_ready(unit: Unit) -> bool:
    """Whether Kubernetes counts the unit's pod ready: every container passes Juju's probe.

    Juju's readiness probe asks each container's Pebble ``/v1/health?level=ready``
    (juju caas/kubernetes/provider/application), which fails while a check of level
    ready or alive is down (pebble internals/daemon/api_health.go); a container with no
    check passes. A check here is up while what it asks answers: the workload on its port
    in this pod, else its own container's services.
    """
    for container in unit.state.containers:
        plan = container.plan
        mine = [w for (box, _), w in unit.workloads.items() if box == container.name]
        for check in plan.checks.values():
            if str(getattr(check.level, "value", check.level)) not in ("ready", "alive"):
                continue
            port = _check_port(check)
            target = unit.ports.get(port) if port is not None else None
            if target is not None and target.unit == unit.name:
                up = target.running
            else:
                up = bool(mine) and all(w.running for w in mine)
            if not up:
                return False
    return True


class ServiceRouter:
    """The application's Kubernetes Service on one port: it sends each connection to one
    ready pod, in turn (kube-proxy picks among the ready endpoints; in turn keeps the test
    deterministic), and refuses it when no pod is ready."""

    def __init__(self, app: App, port: int):
        self.app = app
        self.port = port
        self.turn = 0

    def endpoints(self) -> list[Workload]:
        """The workloads behind the Service: each ready unit's on this port."""
        return [
            u.ports[self.port] for u in self.app.units if self.port in u.ports and unit_ready(u)
        ]

    def __call__(self, request: Request) -> Response:
        ready = self.endpoints()
        if not ready:
            raise ConnectionRefusedError(f"{self.app.name}:{self.port}: no ready endpoint")
        workload = ready[self.turn % len(ready)]
        self.turn += 1
        return workload(request)
