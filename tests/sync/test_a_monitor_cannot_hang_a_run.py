"""A slow monitor costs a run at most one ping's deadline, and no ping is sent while the run lock is held."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from storage.engine import make_engine
from sync import healthcheck
from sync.lock import RunLocked, run_lock
from tests.conftest import serving
from tests.helpers.etl import run_etl

SECRET = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
TRICKLE = b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n" + b"x" * 40


class TricklingMonitor(ThreadingHTTPServer):
    """Answers `/start` one byte at a time (a read never times out, the answer never ends in time)
    and records, for the finishing ping, whether the start ping's answer had gone out whole and whether
    the run lock was free."""

    daemon_threads = True

    def __init__(self, db_url: str):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.engine = make_engine(db_url)
        self.start_done = threading.Event()
        self.finished: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{SECRET}"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.endswith("/start"):
            try:
                for byte in TRICKLE:  # the slow monitor itself, not a synchronisation
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                return  # the client gave up on it: what a deadline is for
            self.server.start_done.set()  # the whole answer went out
            return
        try:
            with run_lock(self.server.engine, wait=0):
                lock_free = True
        except RunLocked:
            lock_free = False
        self.server.finished.append({"start_answered": self.server.start_done.is_set(), "lock_free": lock_free})
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def trickling(db_url):
    monitor = TricklingMonitor(db_url)
    with serving(monitor):
        yield monitor
    monitor.engine.dispose()


def test_a_trickling_monitor_neither_delays_the_sync_nor_holds_the_lock(etl_env, trickling, monkeypatch, caplog):
    monkeypatch.setattr(healthcheck, "DEADLINE_SECONDS", 0.5)
    code, summary, err = run_etl("--ping-url", trickling.url, "--source", "withings")
    assert code == 0 and summary["exit_code"] == 0, err
    # The finishing ping went out while the start ping was still trickling (the run never waited
    # for it beyond its deadline), and with the run lock already let go.
    assert trickling.finished == [{"start_answered": False, "lock_free": True}]
    warnings = [r.getMessage() for r in caplog.records if r.name == "etl.healthcheck"]
    assert warnings == ["healthcheck: the start ping failed (no complete answer within 0.5 s); the run goes on"]
