"""A small HTTP client for talking to workloads, with one seam for tests.

Standard library only (``http.client``, imported on first use) so that importing a charm
costs nothing and the packed charm carries no HTTP library. Every request goes through
the module's *transport*: production uses :func:`stdlib_transport`; tests swap in fakes
with :func:`use_transport`, which is how every charm's HTTP is faked "at the transport".

Errors never carry a URL's query string, headers or body: SABnzbd takes its API key as
a query parameter and the Servarr apps in a header.
"""

from __future__ import annotations

import json as _json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from charmarr_interfaces.urls import url_problem

from .errors import CharmarrError, WaitingError


@dataclass(frozen=True)
class Request:
    """One HTTP request as the transport sees it."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    cafile: str | None = None
    """A CA bundle to verify an https server with (None: the system's)."""

    @property
    def path(self) -> str:
        """The path without the query string."""
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        """The query parameters (last value wins)."""
        from urllib.parse import parse_qsl

        return dict(parse_qsl(urlsplit(self.url).query, keep_blank_values=True))

    def json(self) -> Any:
        """The body decoded as JSON."""
        return _json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        """The body decoded as an urlencoded form."""
        from urllib.parse import parse_qsl

        return dict(parse_qsl((self.body or b"").decode(), keep_blank_values=True))


@dataclass(frozen=True)
class Response:
    """One HTTP response."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode(errors="replace")

    def json(self) -> Any:
        """The body decoded as JSON; raises ValueError on garbage."""
        return _json.loads(self.body)


Transport = Callable[[Request, float], Response]
"""``transport(request, timeout) -> response``; raises OSError when nothing answers."""


def stdlib_transport(request: Request, timeout: float) -> Response:
    """Send ``request`` with ``http.client`` (no redirects, no proxies).

    ``timeout`` is one deadline for the whole request: connecting, the TLS handshake,
    sending, and reading the status, headers and body. (``http.client``'s own timeout
    bounds each socket operation, so a peer trickling a byte a second would hold a hook
    for as long as it likes.)
    """
    import http.client
    import socket
    import time

    deadline = time.monotonic() + timeout
    parts = urlsplit(request.url)
    host = parts.hostname or "localhost"
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    conn: http.client.HTTPConnection
    if https:
        import ssl

        context = ssl.create_default_context(cafile=request.cafile)
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        context = None
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        sock = socket.create_connection((host, port), timeout=_left(deadline))
        try:
            if context is not None:
                sock.settimeout(_left(deadline))
                sock = context.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        conn.sock = _DeadlineSocket(sock, deadline)  # type: ignore[assignment]
        conn.request(request.method, target, body=request.body, headers=dict(request.headers))
        raw = conn.getresponse()
        headers = {k.lower(): v for k, v in raw.getheaders()}
        if "set-cookie" in headers:
            headers["set-cookie"] = ", ".join(raw.msg.get_all("Set-Cookie") or [])
        return Response(status=raw.status, body=raw.read(), headers=headers)
    except http.client.HTTPException as e:
        raise OSError(f"bad HTTP answer: {type(e).__name__}") from None
    finally:
        conn.close()


def _left(deadline: float) -> float:
    """Seconds left before ``deadline``; TimeoutError (an OSError) once it has passed."""
    import time

    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("request deadline passed")
    return left


class _DeadlineSocket:
    """A connected socket whose every send and receive shares one deadline."""

    def __init__(self, sock: Any, deadline: float):
        self._sock = sock
        self._deadline = deadline
        self._io_refs = 0
        self._closed = False

    def _arm(self) -> None:
        self._sock.settimeout(_left(self._deadline))

    def sendall(self, data: Any, flags: int = 0) -> None:
        self._arm()
        self._sock.sendall(data, flags)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        self._arm()
        return self._sock.recv_into(buffer, nbytes, flags)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        self._arm()
        return self._sock.recv(bufsize, flags)

    def makefile(self, mode: str = "rb", buffering: int = -1, **_: Any) -> Any:
        """A buffered reader whose reads go through :meth:`recv_into` (so, the deadline)."""
        import io
        import socket

        self._io_refs += 1
        raw = socket.SocketIO(self, "rb")  # type: ignore[arg-type]
        return io.BufferedReader(raw, buffering if buffering > 0 else io.DEFAULT_BUFFER_SIZE)

    def _decref_socketios(self) -> None:
        # As socket.socket does: the response may still read after the connection closes.
        self._io_refs -= 1
        if self._closed and self._io_refs <= 0:
            self._sock.close()

    def close(self) -> None:
        self._closed = True
        if self._io_refs <= 0:
            self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


_transport: Transport = stdlib_transport


@contextmanager
def use_transport(transport: Transport) -> Iterator[Transport]:
    """Send every request through ``transport`` inside the ``with`` block (tests)."""
    global _transport  # noqa: PLW0603 - the single, documented seam
    previous, _transport = _transport, transport
    try:
        yield transport
    finally:
        _transport = previous


class WorkloadUnreachableError(WaitingError):
    """The workload did not answer (not started yet, restarting, network)."""


class WorkloadHttpError(CharmarrError):
    """The workload answered with an unexpected status code or unusable content."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.http_status = status
        if status is not None and status >= 500:
            self.status_type = WaitingError.status_type


class UnusableUrlError(WorkloadHttpError):
    """The URL cannot be sent at all (bad port, host, scheme...): Blocked, never a crash.

    A subclass of :class:`WorkloadHttpError`, so every caller that copes with a bad
    answer copes with a bad URL too.
    """


class HttpClient:
    """A client for one workload's HTTP API.

    Args:
        base_url: e.g. ``http://localhost:7878``.
        name: the workload's name for status messages, e.g. ``"radarr"``.
        headers: sent with every request (e.g. ``X-Api-Key``).
        timeout: seconds per request.
    """

    def __init__(
        self,
        base_url: str,
        *,
        name: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = 5.0,
        cafile: str | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.cafile = cafile
        self.name = name
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        form: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        expect: tuple[int, ...] = (200, 201, 202, 204),
    ) -> Response:
        """Send a request and check its status.

        Raises:
            WorkloadUnreachableError: nothing answered.
            WorkloadHttpError: the status is not in ``expect``.
        """
        problem = url_problem(self.base_url)
        if problem:
            raise UnusableUrlError(f"cannot reach {self.name}: its URL is unusable ({problem})")
        url = self.base_url + path
        if params:
            url += "?" + urlencode({k: v for k, v in params.items() if v is not None})
        all_headers = {"Accept": "application/json", **self.headers}
        if json is not None:
            body = _json.dumps(json).encode()
            all_headers["Content-Type"] = "application/json"
        elif form is not None:
            body = urlencode(form).encode()
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        all_headers.update(headers or {})
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            request = Request(method, url, all_headers, body, self.cafile)
            response = _transport(request, self.timeout)
        except OSError as e:
            raise WorkloadUnreachableError(
                f"waiting for {self.name} to answer ({type(e).__name__})"
            ) from None
        except ValueError as e:  # http.client.InvalidURL, UnicodeError (IDNA), bad ports
            raise UnusableUrlError(
                f"cannot reach {self.name}: its URL is unusable ({type(e).__name__})"
            ) from None
        self._keep_cookies(response)
        if response.status not in expect:
            raise WorkloadHttpError(
                f"{self.name} answered {method} {path} with HTTP {response.status}",
                response.status,
            )
        return response

    def get_json(self, path: str, **kwargs: Any) -> Any:
        """GET ``path`` and decode its JSON body (garbage raises WorkloadHttpError)."""
        return self.json_of(self.request("GET", path, **kwargs), path)

    def json_of(self, response: Response, path: str) -> Any:
        """Decode a response's JSON body, naming the workload and path on garbage."""
        try:
            return response.json()
        except ValueError:
            raise WorkloadHttpError(f"{self.name} answered {path} with non-JSON") from None

    def _keep_cookies(self, response: Response) -> None:
        raw = response.headers.get("set-cookie")
        if not raw:
            return
        for part in raw.split(","):
            name, _, rest = part.strip().partition("=")
            if name and rest and " " not in name:
                self.cookies[name] = rest.split(";", 1)[0]
