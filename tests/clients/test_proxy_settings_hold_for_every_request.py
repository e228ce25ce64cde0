"""The clients go through the proxy the environment names (HTTP_PROXY, NO_PROXY, ~/.netrc as
requests reads them), reading it once per session rather than on every request; and one watchdog
thread guards every request's deadline."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from api_clients import deadline
from api_clients.http import HttpClient

API_HOST = "api.example.invalid"  # never resolved: only a proxy can answer for it


class _Recorder(BaseHTTPRequestHandler):
    """Answers every GET with an empty page and notes the request line's target and its auth."""

    def do_GET(self):  # the name http.server calls
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        body = json.dumps({"records": [], "next_token": None}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        return  # quiet


@pytest.fixture
def recorder():
    """A local HTTP server that records what reached it (as a forward proxy or as the API)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def clean_environment(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def _url(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_every_request_goes_through_the_proxy_the_environment_names(recorder, clean_environment):
    clean_environment.setenv("HTTP_PROXY", _url(recorder))
    client = HttpClient("whoop", timeout=5.0, max_retries=0)
    for _ in range(3):
        assert client.request("GET", f"http://{API_HOST}/developer/v2/cycle?limit=25").status_code == 200
    # A forward proxy receives the absolute URL: each request went through it.
    assert [path for path, _auth in recorder.seen] == [f"http://{API_HOST}/developer/v2/cycle?limit=25"] * 3


def test_no_proxy_still_sends_a_host_direct(recorder, clean_environment):
    clean_environment.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    clean_environment.setenv("NO_PROXY", "127.0.0.1")
    client = HttpClient("whoop", timeout=5.0, max_retries=0)
    for _ in range(2):
        assert client.request("GET", f"{_url(recorder)}/developer/v2/cycle").status_code == 200
    assert [path for path, _auth in recorder.seen] == ["/developer/v2/cycle"] * 2


def test_the_environment_is_read_once_per_session_and_again_by_a_new_one(recorder, clean_environment):
    reads = []
    real = deadline.get_environ_proxies

    def counted(url, no_proxy=None):
        reads.append(url)
        return real(url, no_proxy=no_proxy)

    clean_environment.setattr(deadline, "get_environ_proxies", counted)
    client = HttpClient("whoop", timeout=5.0, max_retries=0)
    for _ in range(4):
        client.request("GET", f"{_url(recorder)}/developer/v2/cycle")
    assert len(reads) == 1
    assert [path for path, _auth in recorder.seen] == ["/developer/v2/cycle"] * 4

    clean_environment.setenv("HTTP_PROXY", _url(recorder))  # set later: the next run's session sees it
    HttpClient("whoop", timeout=5.0, max_retries=0).request("GET", f"http://{API_HOST}/developer/v2/cycle")
    assert recorder.seen[-1][0] == f"http://{API_HOST}/developer/v2/cycle"


def test_a_netrc_entry_for_the_host_is_still_sent(recorder, clean_environment, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    netrc.chmod(0o600)
    clean_environment.setenv("NETRC", str(netrc))
    client = HttpClient("whoop", timeout=5.0, max_retries=0)
    for _ in range(2):
        client.request("GET", f"{_url(recorder)}/developer/v2/cycle")
    expected = "Basic " + base64.b64encode(b"someone:secret").decode()
    assert [auth for _path, auth in recorder.seen] == [expected, expected]


def test_one_watchdog_thread_guards_every_request(recorder, clean_environment):
    client = HttpClient("whoop", timeout=5.0, max_retries=0)
    client.request("GET", f"{_url(recorder)}/developer/v2/cycle")
    threads_before = _client_side_threads()
    for _ in range(10):
        client.request("GET", f"{_url(recorder)}/developer/v2/cycle")
    assert _client_side_threads() <= threads_before  # no thread started per request (one an earlier test left may end)
    assert [t.name for t in threading.enumerate()].count("request-watchdog") == 1


def _client_side_threads() -> set[int]:
    # The test server answers each request on a thread of its own, which may still be finishing
    # when the client has its answer: counting those made this test fail now and then.
    return {t.ident for t in threading.enumerate() if "process_request_thread" not in t.name}
