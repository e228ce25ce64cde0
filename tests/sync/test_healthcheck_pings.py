"""A run pings its monitor: start, then success or failure; a ping never fails the run nor shows its secret."""

from __future__ import annotations

import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

import etl
from storage.engine import make_engine
from sync import healthcheck
from sync.lock import run_lock
from tests.conftest import serving
from tests.helpers.etl import run_etl

SECRET = "5f3c1e0a-9b7d-4c2e-8f61-a0b1c2d3e4f5"  # shaped like a healthchecks.io uuid


class Monitor(ThreadingHTTPServer):
    """A monitor on 127.0.0.1: records each ping as (method, path, query, body) and answers `status`."""

    def __init__(self, status: int = 200):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.status, self.pings = status, []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{SECRET}"


class _Handler(BaseHTTPRequestHandler):
    def _record(self):
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        self.server.pings.append((self.command, parts.path, parse_qs(parts.query), body))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")

    do_GET = do_POST = _record

    def log_message(self, *args):  # the test reads `pings`, not stderr
        pass


@pytest.fixture
def monitor():
    with serving(Monitor()) as monitor:
        yield monitor


def paths(monitor) -> list[str]:
    return [p[1].replace(SECRET, "UUID") for p in monitor.pings]


def test_a_run_pings_start_then_success_with_its_summary(etl_env, monitor):
    code, _, err = run_etl("--ping-url", monitor.url)
    assert code == 0, err
    assert paths(monitor) == ["/UUID/start", "/UUID"]
    assert monitor.pings[1][3].startswith("exit 0: 14 resources: 14 ok")


def test_a_failed_run_pings_start_then_fail_with_the_reason(etl_env, monitor, monkeypatch):
    monkeypatch.setenv("HEALTHCHECK_URL", monitor.url)  # the setting, as cron would have it
    monkeypatch.delenv("WITHINGS_REFRESH_TOKEN")
    code, _, _ = run_etl("--source", "withings")
    assert code == 3
    assert paths(monitor) == ["/UUID/start", "/UUID/fail"]
    assert monitor.pings[1][3].startswith("exit 3: ") and "withings is not connected" in monitor.pings[1][3]


def test_no_ping_for_a_usage_error_or_a_run_that_waits_on_the_lock(etl_env, db_url, monitor):
    assert run_etl("--ping-url", monitor.url, "--since", "7d", "--full")[0] == 2
    engine = make_engine(db_url)
    with run_lock(engine):
        assert run_etl("--ping-url", monitor.url)[0] == 75
    engine.dispose()
    assert monitor.pings == []


def test_a_monitor_that_never_answers_costs_one_warning_and_the_run_still_exits_0(etl_env, monkeypatch, caplog):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections queue in the backlog and are never answered
    monkeypatch.setattr(healthcheck, "TIMEOUT_SECONDS", 0.2)
    try:
        code, _, err = run_etl("--ping-url", f"http://127.0.0.1:{silent.getsockname()[1]}/{SECRET}")
    finally:
        silent.close()
    assert code == 0, err
    warnings = [r.getMessage() for r in caplog.records if r.name == "etl.healthcheck"]
    assert len(warnings) == 2 and "the start ping failed (ReadTimeout" in warnings[0]
    assert "the success ping failed" in warnings[1]


def test_the_ping_url_is_a_secret_in_every_line(etl_env, monkeypatch, caplog):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens: the error names the URL's path
    monkeypatch.setenv("HEALTHCHECK_URL", f"http://127.0.0.1:{port}/ping/{SECRET}")
    code, summary, err = run_etl("--verbose")
    assert code == 0 and summary["exit_code"] == 0
    assert "the start ping failed (ConnectionError" in caplog.text
    assert SECRET not in caplog.text + err


def test_a_malformed_url_is_exit_2_without_repeating_it(etl_env, monkeypatch, monitor):
    result = CliRunner().invoke(etl.cli, ["--ping-url", f"ftp://example.com/{SECRET}"])
    assert result.exit_code == 2 and "--ping-url must be an http:// or https:// URL" in result.output
    monkeypatch.setenv("HEALTHCHECK_URL", f"hc-ping.com/{SECRET}")
    result = CliRunner().invoke(etl.cli, [])
    assert result.exit_code == 2 and "HEALTHCHECK_URL must be" in result.output
    assert SECRET not in result.output and monitor.pings == []


def test_an_uptime_kuma_push_url_gets_status_up_or_down_and_no_start(etl_env, monitor, monkeypatch):
    push = f"http://127.0.0.1:{monitor.server_address[1]}/api/push/{SECRET}?status=up&msg=OK&ping="
    assert run_etl("--ping-url", push, "--source", "whoop")[0] == 0
    monkeypatch.delenv("WITHINGS_REFRESH_TOKEN")
    assert run_etl("--ping-url", push, "--source", "withings")[0] == 3
    assert [(m, q["status"]) for m, _, q, _ in monitor.pings] == [("GET", ["up"]), ("GET", ["down"])]
    assert monitor.pings[1][2]["msg"][0].startswith("exit 3: ")


def test_a_monitor_answering_an_error_is_one_warning(monitor, caplog):
    monitor.status = 404
    pinger = healthcheck.Pinger(monitor.url)
    pinger.start()  # sent beside the run; the finishing ping waits for it
    assert pinger.finish(0) is False
    assert [r.getMessage() for r in caplog.records if r.name == "etl.healthcheck"] == [
        "healthcheck: the start ping was answered HTTP 404; the run goes on",
        "healthcheck: the success ping was answered HTTP 404; the run goes on",
    ]


def test_the_body_is_redacted_and_small(monitor):
    from configuration.logs import register_secret

    register_secret("client-secret-xyz")
    healthcheck.Pinger(monitor.url).finish(1, "token client-secret-xyz refused; " + "x" * 5000)
    body = monitor.pings[0][3]
    assert "client-secret-xyz" not in body and "[redacted]" in body and len(body) == healthcheck.BODY_LIMIT


def test_watch_pings_each_reconciliation(etl_env, monitor, monkeypatch):
    monkeypatch.setenv("HEALTHCHECK_URL", monitor.url)
    result = CliRunner().invoke(etl.cli, ["watch", "--cycles", "1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert paths(monitor) == ["/UUID/start", "/UUID"]  # the first cycle reconciles every resource
    assert monitor.pings[1][3].startswith("exit 0: 14 resources: 14 ok")
