"""The ping URL's secret stays out of every output, the ping goes to the monitor's host only,
and a hosted monitor hears no account names unless the user asks."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

import etl
from sync import healthcheck
from tests.conftest import serving
from tests.sync.test_healthcheck_pings import SECRET, Monitor, paths

KEY = "S3CRETKEY0a1b2c3d"  # a monitor's key carried in the query string


def _closed_port() -> int:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    return port


@pytest.mark.parametrize("flags", [["--quiet"], ["--verbose"]])
def test_a_secret_in_the_query_is_in_no_output_nor_the_log_file(etl_env, tmp_path, caplog, flags):
    log_file = tmp_path / "etl.log"
    url = f"http://127.0.0.1:{_closed_port()}/hc?key={KEY}"
    result = CliRunner().invoke(
        etl.cli, [*flags, "--log-file", str(log_file), "--ping-url", url, "--source", "withings"]
    )
    assert result.exit_code == 0, result.output
    outputs = result.stdout + result.stderr + log_file.read_text() + caplog.text
    assert "the start ping failed (ConnectionError" in outputs
    assert KEY not in outputs


def test_plain_http_to_another_host_warns_once(caplog):
    healthcheck._warned_plain_http.clear()
    for _ in range(2):
        healthcheck.Pinger(f"http://monitor.example/{SECRET}")
    healthcheck.Pinger(f"https://monitor.example/{SECRET}")
    healthcheck.Pinger(f"http://127.0.0.1:9/{SECRET}")
    warnings = [r.getMessage() for r in caplog.records if r.name == "etl.healthcheck"]
    assert len(warnings) == 1 and "plain http:// to monitor.example" in warnings[0]
    assert SECRET not in caplog.text


@pytest.fixture
def elsewhere():
    with serving(Monitor()) as monitor:
        yield monitor


def _redirect_to(location_of):
    """A monitor that answers its first ping with a redirect to `location_of(monitor)`, then 200."""
    from tests.sync import test_healthcheck_pings as pings

    class Handler(pings._Handler):
        def _record(self):
            if self.server.pings:
                return super()._record()
            self.server.pings.append((self.command, self.path, {}, ""))
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(307)
            self.send_header("Location", location_of(self.server))
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = _record

    server = Monitor()
    server.RequestHandlerClass = Handler
    return server


def test_a_redirect_to_another_host_is_not_followed(elsewhere, caplog):
    with serving(_redirect_to(lambda _s: f"{elsewhere.url}/moved")) as monitor:
        assert healthcheck.Pinger(monitor.url).finish(0, "all fine") is False
    assert elsewhere.pings == []
    assert len(monitor.pings) == 1
    assert "the monitor redirected the ping to another host (127.0.0.1); not followed" in caplog.text


def test_a_redirect_on_the_monitors_own_host_keeps_the_post_and_its_body():
    with serving(_redirect_to(lambda s: f"http://127.0.0.1:{s.server_address[1]}/moved/{SECRET}")) as monitor:
        assert healthcheck.Pinger(monitor.url).finish(0, "all fine") is True
    method, path, _query, body = monitor.pings[1]
    assert (method, path, body) == ("POST", f"/moved/{SECRET}", "exit 0: all fine")


@pytest.mark.parametrize(
    "url", ["http://[::1/hc", "http://monitor.example:notaport/hc", "http://monitor.example:99999/hc", "http://h/a b"]
)
def test_a_malformed_ping_url_is_a_usage_error(url):
    result = CliRunner().invoke(etl.cli, ["--ping-url", url])
    assert result.exit_code == 2, result.output
    assert "--ping-url must be an http:// or https:// URL" in result.output


@pytest.fixture
def two_accounts(db_url, monkeypatch):
    from tests.helpers.accounts import sync_two_accounts, two_people

    with two_people(days=5) as sb:
        sync_two_accounts(sb, db_url, monkeypatch)
        yield


@pytest.fixture
def monitor():
    with serving(Monitor()) as monitor:
        yield monitor


def test_a_monitor_hears_no_account_names_unless_asked(two_accounts, monitor, monkeypatch):
    result = CliRunner().invoke(etl.cli, ["--ping-url", monitor.url])
    assert result.exit_code == 0, result.output
    assert paths(monitor) == ["/UUID/start", "/UUID"]
    body = monitor.pings[1][3]
    assert body == "exit 0: 2 accounts: 2 ok" and "alice" not in body and "bob" not in body
    monkeypatch.setenv("HEALTHCHECK_ACCOUNT_NAMES", "1")
    assert CliRunner().invoke(etl.cli, ["--ping-url", monitor.url]).exit_code == 0
    assert monitor.pings[3][3] == "exit 0: alice ok, bob ok"
