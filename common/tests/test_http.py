"""The HTTP client: errors carry no credentials; the stdlib transport works for real."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from charmarr_common import http
from charmarr_testing.fakes import FakeApp, FakeNetwork, json_response


class Echo(FakeApp):
    def handle(self, request):
        if request.path == "/login":
            return http.Response(200, b"Ok.", {"set-cookie": "SID=abc123; HttpOnly; path=/"})
        return json_response(
            {"path": request.path, "query": request.query, "cookie": request.headers.get("Cookie")}
        )


@pytest.fixture
def echo(fake_network: FakeNetwork) -> Echo:
    app = Echo()
    fake_network.add("localhost:1234", app)
    return app


def test_json_form_and_cookies(echo):
    client = http.HttpClient("http://localhost:1234/", name="echo", headers={"X-Api-Key": "k"})
    client.request("POST", "/login", form={"username": "u", "password": "p"})
    assert echo.requests[-1].form() == {"username": "u", "password": "p"}
    assert client.cookies == {"SID": "abc123"}
    answer = client.get_json("/x", params={"a": 1, "skip": None})
    assert answer == {"path": "/x", "query": {"a": "1"}, "cookie": "SID=abc123"}
    client.request("PUT", "/y", json={"k": [1]})
    assert echo.requests[-1].json() == {"k": [1]}
    assert echo.requests[-1].headers["X-Api-Key"] == "k"
    assert [r.method for r in echo.writes] == ["POST", "PUT"]


def test_unreachable_is_waiting_and_names_the_workload(fake_network):
    client = http.HttpClient("http://localhost:9999", name="radarr")
    with pytest.raises(http.WorkloadUnreachableError) as e:
        client.get_json("/api/v3/system/status", params={"apikey": "s3cr3t-value"})
    assert e.value.status.name == "waiting"
    assert "radarr" in e.value.message
    assert "s3cr3t" not in e.value.message


@pytest.mark.parametrize(("fault", "status_name"), [("401", "blocked"), ("500", "waiting")])
def test_http_errors_never_show_the_query(echo, fault, status_name):
    echo.fault = fault
    client = http.HttpClient("http://localhost:1234", name="sabnzbd")
    with pytest.raises(http.WorkloadHttpError) as e:
        client.get_json("/api", params={"apikey": "s3cr3t-value"})
    assert e.value.status.name == status_name
    assert e.value.message == f"sabnzbd answered GET /api with HTTP {fault}"


def test_garbage_is_a_typed_error(echo):
    echo.fault = "garbage"
    with pytest.raises(http.WorkloadHttpError, match="non-JSON"):
        http.HttpClient("http://localhost:1234", name="x").get_json("/")


def test_down_fault(echo):
    echo.fault = "down"
    with pytest.raises(http.WorkloadUnreachableError):
        http.HttpClient("http://localhost:1234", name="x").get_json("/")


def test_unimplemented_fake_raises():
    with pytest.raises(NotImplementedError):
        FakeApp()(http.Request("GET", "http://x/"))


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        payload = json.dumps({"got": json.loads(body), "path": self.path}).encode()
        self.send_response(201)
        self.send_header("Set-Cookie", "SID=real; path=/")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def test_stdlib_transport_against_a_real_loopback_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = http.HttpClient(f"http://127.0.0.1:{server.server_port}", name="real", timeout=5)
        response = client.request("POST", "/p", params={"q": "1"}, json={"a": 1})
        assert response.status == 201
        assert client.json_of(response, "/p") == {"got": {"a": 1}, "path": "/p?q=1"}
        assert client.cookies == {"SID": "real"}
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(http.WorkloadUnreachableError):
        http.HttpClient(f"http://127.0.0.1:{server.server_port}", name="gone", timeout=1).get_json(
            "/"
        )


def _trickle(listener, stop: threading.Event) -> None:
    """Answer one connection a byte at a time, 20 bytes a second (bounded: 10 s, 400 bytes)."""
    listener.settimeout(5)
    try:
        conn, _ = listener.accept()
    except OSError:
        return
    with conn:
        conn.settimeout(1)
        try:
            conn.recv(65536)
            answer = b"HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n" + b"x" * 300
            for byte in answer:
                if stop.wait(0.05):
                    return
                conn.sendall(bytes([byte]))
        except OSError:
            return


def test_a_trickling_server_cannot_hold_a_request_past_its_deadline():
    import socket
    import time

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    thread = threading.Thread(target=_trickle, args=(listener, stop), daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        client = http.HttpClient(f"http://127.0.0.1:{port}", name="slow", timeout=0.5)
        started = time.monotonic()
        with pytest.raises(http.WorkloadUnreachableError, match="waiting for slow to answer"):
            client.request("GET", "/")
        # Each byte comes within the timeout, so only a whole-request deadline stops it
        # (the full answer would take 17 s).
        assert time.monotonic() - started < 1.5
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


@pytest.mark.parametrize(
    "url", ["http://h:99999", "http://h:abc", "http://[h", "http://u:p@h:1", "http://h\n:1"]
)
def test_an_unusable_url_is_a_typed_error_not_a_crash(fake_network, url):
    with pytest.raises(http.UnusableUrlError) as e:
        http.HttpClient(url, name="peer").get_json("/api", params={"apikey": "s3cr3t-value"})
    assert e.value.status.name == "blocked"
    assert e.value.message.startswith("cannot reach peer: its URL is unusable (")
    assert "s3cr3t" not in e.value.message


def test_a_url_the_transport_refuses_is_a_typed_error():
    def refuses(request, timeout):
        raise ValueError("label too long")  # what IDNA encoding raises (UnicodeError)

    with http.use_transport(refuses), pytest.raises(http.UnusableUrlError):
        http.HttpClient("http://localhost:1", name="peer").request("GET", "/")
