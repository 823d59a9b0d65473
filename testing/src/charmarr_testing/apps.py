"""The base of every workload fake: :class:`FakeApp` and its response helpers.

Every :class:`FakeApp` can be told to misbehave the ways issue "workload faults" lists:
not answering, answering 401 or 500, or answering garbage. The network that routes to
the apps is :mod:`.fakes`.
"""

from __future__ import annotations

import json
from typing import Any, Literal

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
