"""Dashboard connections: an idle one is dropped after its timeout; a client that leaves is one quiet line."""

from __future__ import annotations

import http.client
import logging
import socket
import threading

import pytest

from dashboard import make_server
from dashboard.server import DashboardHandler
from tests.conftest import serving


@pytest.fixture
def quick_server(tmp_path):
    with serving(make_server(f"sqlite:///{tmp_path / 'not-yet.db'}", "127.0.0.1", 0, connection_timeout=0.2)) as server:
        yield server


def test_idle_connections_are_closed_by_the_server(quick_server):
    idle = [socket.create_connection(quick_server.server_address[:2], timeout=10) for _ in range(20)]
    try:
        idle[0].sendall(b"GET / HTTP/1.1\r\n")  # a request that never finishes; the rest send nothing
        # Each read ends with the server hanging up; without a timeout it would wait 10 s, then fail.
        assert [s.recv(1024) for s in idle] == [b""] * 20
    finally:
        for s in idle:
            s.close()


def test_a_client_that_goes_away_is_one_info_line_without_traceback(tmp_path, monkeypatch, caplog):
    def gone(self, *args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")  # what writing to a closed tab raises

    monkeypatch.setattr(DashboardHandler, "_send", gone)
    caplog.set_level(logging.DEBUG, logger="dashboard.server")
    with serving(make_server(f"sqlite:///{tmp_path / 'not-yet.db'}", "127.0.0.1", 0)) as server:
        conn = http.client.HTTPConnection(*server.server_address[:2], timeout=10)
        conn.request("GET", "/", headers={"Host": "127.0.0.1"})
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            conn.getresponse()
        conn.close()
    records = [r for r in caplog.records if r.name == "dashboard.server"]
    for _ in range(100):  # the handler thread logs after the client saw the close
        if any("went away" in r.getMessage() for r in records):
            break
        threading.Event().wait(0.02)
        records = [r for r in caplog.records if r.name == "dashboard.server"]
    assert [r.levelname for r in records if "went away" in r.getMessage()] == ["INFO"]
    assert not [r for r in records if r.levelno >= logging.WARNING or r.exc_info]
