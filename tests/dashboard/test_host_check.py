"""The dashboard answers only the names it is bound to, on every bind address, IPv6 loopback included."""

from __future__ import annotations

import http.client
import socket

import pytest

from dashboard import make_server
from tests.conftest import serving


def bound(tmp_path, host: str):
    return serving(make_server(f"sqlite:///{tmp_path / 'not-yet.db'}", host, 0))  # an empty database


def status(connect_to: str, port: int, host_header: str) -> int:
    conn = http.client.HTTPConnection(connect_to, port, timeout=10)
    try:
        conn.request("GET", "/api/summary", headers={"Host": host_header})
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.parametrize(
    "bind, connect_to, own_name",
    [
        ("127.0.0.1", "127.0.0.1", "localhost"),
        ("127.0.0.2", "127.0.0.2", "127.0.0.2"),
        ("0.0.0.0", "127.0.0.1", socket.gethostname()),
    ],
)
def test_a_foreign_host_header_gets_421_on_every_bind(tmp_path, bind, connect_to, own_name):
    with bound(tmp_path, bind) as server:
        port = server.server_address[1]
        assert status(connect_to, port, "evil.example") == 421
        assert status(connect_to, port, f"evil.example:{port}") == 421
        assert status(connect_to, port, f"{own_name}:{port}") == 200
        assert status(connect_to, port, f"{connect_to}:{port}") == 200


def test_a_wildcard_bind_answers_its_own_addresses_only(tmp_path):
    with bound(tmp_path, "0.0.0.0") as server:
        port = server.server_address[1]
        assert status("127.0.0.1", port, f"127.0.0.1:{port}") == 200
        assert status("127.0.0.1", port, f"192.0.2.1:{port}") == 421  # TEST-NET-1: never this machine's


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")
@pytest.mark.parametrize("bind", ["::1", "[::1]"])
def test_ipv6_loopback_serves_and_checks_the_host(tmp_path, bind):
    with bound(tmp_path, bind) as server:
        port = server.server_address[1]
        assert server.url == f"http://[::1]:{port}/"
        assert status("::1", port, f"[::1]:{port}") == 200
        assert status("::1", port, f"localhost:{port}") == 200
        assert status("::1", port, "evil.example") == 421
