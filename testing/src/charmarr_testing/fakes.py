"""In-process fakes of the workloads' HTTP APIs, plugged in at the transport.

A :class:`FakeNetwork` routes each request by ``host:port`` to a :class:`FakeApp`; a
request to an address nobody serves fails like a closed port. Use it with
:func:`charmarr_interfaces.http.use_transport` (the ``fake_network`` fixture does so).

Every :class:`FakeApp` can be told to misbehave the ways issue "workload faults" lists:
not answering, answering 401 or 500, or answering garbage.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlsplit

from charmarr_common.http import Request, Response

Fault = Literal["down", "401", "500", "garbage"] | None


def json_response(value: Any, status: int = 200) -> Response:
    """A JSON response."""
    return Response(status, json.dumps(value).encode(), {"content-type": "application/json"})


def text_response(value: str, status: int = 200) -> Response:
    """A plain-text response."""
    return Response(status, value.encode(), {"content-type": "text/plain"})


class FakeApp:
    """Base of the workload fakes: records requests and injects faults.

    Subclasses implement :meth:`handle`. ``requests`` lists every request that reached the
    app (faulted ones included), so tests can assert what the charm sent.
    """

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.fault: Fault = None

    def __call__(self, request: Request) -> Response:
        """Record the request, apply the fault if any, else :meth:`handle` it."""
        self.requests.append(request)
        if self.fault == "down":
            raise ConnectionRefusedError("fake: down")
        if self.fault == "401":
            return text_response("Unauthorized", 401)
        if self.fault == "500":
            return text_response("Internal Server Error", 500)
        if self.fault == "garbage":
            return Response(200, b"\x00<html>not what you expected", {})
        return self.handle(request)

    def handle(self, request: Request) -> Response:
        """Answer one request."""
        raise NotImplementedError

    def changes_state(self, request: Request) -> bool:
        """Whether ``request`` changes the app's state (override where the API differs)."""
        return request.method not in ("GET", "HEAD")

    @property
    def writes(self) -> list[Request]:
        """The requests that changed (or tried to change) the app's state."""
        return [r for r in self.requests if self.changes_state(r)]


class FakeNetwork:
    """Routes requests to fakes by ``host:port``; anything else is unreachable.

    It serves a fake Kubernetes API by default (see :mod:`.fake_k8s`): every charm patches
    its own StatefulSet, and charm tests run in a cluster where that works.
    """

    def __init__(self, *, cluster: bool = True) -> None:
        self.apps: dict[str, Callable[[Request], Response]] = {}
        self.requests: list[Request] = []
        if cluster:
            from .fake_k8s import ADDRESS, FakeKubernetes

            self.add(ADDRESS, FakeKubernetes())

    @property
    def kubernetes(self) -> Any:
        """The fake Kubernetes API (a :class:`~.fake_k8s.FakeKubernetes`)."""
        from .fake_k8s import ADDRESS

        return self.apps[ADDRESS]

    def add(self, address: str, app: Callable[[Request], Response]) -> None:
        """Serve ``app`` at ``address`` (``host:port``)."""
        self.apps[address] = app

    def remove(self, address: str) -> None:
        """Stop serving ``address``."""
        self.apps.pop(address, None)

    def __call__(self, request: Request, timeout: float) -> Response:
        """The transport: route ``request`` to the app serving its address."""
        self.requests.append(request)
        parts = urlsplit(request.url)
        address = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        app = self.apps.get(address)
        if app is None:
            raise ConnectionRefusedError(f"fake network: nothing serves {address}")
        return app(request)
