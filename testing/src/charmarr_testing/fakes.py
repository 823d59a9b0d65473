"""In-process fakes of the workloads' HTTP APIs, plugged in at the transport.

A :class:`FakeNetwork` routes each request by ``host:port`` to a :class:`~.apps.FakeApp`;
a request to an address nobody serves fails like a closed port. Use it with
:func:`charmarr_common.http.use_transport` (the ``fake_network`` fixture does so).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from charmarr_common.http import Request, Response

from .apps import FakeApp, Fault, json_response, text_response
from .fake_k8s import ADDRESS, API_SERVICE, FakeKubernetes

__all__ = ["FakeApp", "FakeNetwork", "Fault", "json_response", "text_response"]


class FakeNetwork:
    """Routes requests to fakes by ``host:port``; anything else is unreachable.

    It serves a fake Kubernetes API by default (see :mod:`.fake_k8s`): every charm patches
    its own StatefulSet, and charm tests run in a cluster where that works.
    """

    def __init__(self, *, cluster: bool = True) -> None:
        self.apps: dict[str, Callable[[Request], Response]] = {}
        self.requests: list[Request] = []
        self.cpu_seconds = 0.0
        """CPU the fakes spent answering (a fake calling another counted once): what a
        measurement of the charm's own CPU subtracts, since here they share its process."""
        self._depth = 0
        if cluster:
            # One API server, by name and at the address the kubelet gives every pod.
            kubernetes = FakeKubernetes()
            self.add(ADDRESS, kubernetes)
            self.add(f"{API_SERVICE}:443", kubernetes)

    @property
    def kubernetes(self) -> Any:
        """The fake Kubernetes API (a :class:`~.fake_k8s.FakeKubernetes`)."""
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
        self._depth += 1
        start = time.process_time()
        try:
            return app(request)
        finally:
            self._depth -= 1
            if not self._depth:
                self.cpu_seconds += time.process_time() - start
