"""Reliability against the sandbox: transient faults, SIGKILL mid-load, concurrent runs, DB loss."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.engine import make_engine
from sync.resources import data_tables
from tests.helpers.api import holding_request
from tests.helpers.etl import by_resource, run_etl, snapshot, table_counts

PROJECT = Path(__file__).resolve().parents[2]
# The record in docs/RELIABILITY.md was made with more points and other seeds:
#   RELIABILITY_KILL_POINTS=30 RELIABILITY_SEED=2 pytest -s tests/e2e/test_faults_kills_and_concurrent_runs.py
KILL_POINTS = int(os.environ.get("RELIABILITY_KILL_POINTS", "10"))  # per dialect: 20 in all
SEED = int(os.environ.get("RELIABILITY_SEED", "20261124"))


def _etl_process(*args: str) -> subprocess.Popen:
    env = {**os.environ, "WHOOP_PLATFORM_NO_DOTENV": "1"}
    return subprocess.Popen(
        [sys.executable, "etl.py", "--json", *args],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _reset_data(url: str) -> None:
    """Empty the data tables and sync_state; keep the stored tokens."""
    engine = make_engine(url)
    with engine.begin() as conn:
        for table in [*(t.name for t in data_tables()), "sync_state"]:
            conn.execute(text(f"DELETE FROM {table}"))
    engine.dispose()


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setattr("api_clients.http.HttpClient.backoff", lambda self, attempt: 0.01)


def test_transient_faults_during_a_full_backfill_lose_nothing(etl_env, db_url, fast_retries):
    reference = None
    etl_env.add_fault("rate_limit", path="/developer/v2/", probability=0.2, reset=0)
    etl_env.add_fault("http_error", path="/developer/v2/activity/", probability=0.2, status=502)
    etl_env.add_fault("http_error", path="/developer/v2/cycle", times=3, status=503)  # a burst, for certain
    etl_env.add_fault("drop", path="/developer/v2/recovery", times=2)
    etl_env.add_fault("withings_status", path="/measure", times=2, status=601, wait_seconds=1)  # else a minute each
    etl_env.add_fault("withings_status", path="/measure", times=1, status=522)
    etl_env.expire_access_tokens()
    code, summary, err = run_etl()
    assert code == 0, err
    faulty = snapshot(db_url)
    etl_env.reset_faults()
    _reset_data(db_url)
    assert run_etl()[0] == 0
    reference = snapshot(db_url)
    assert faulty == reference
    injected = [r["fault"] for r in etl_env.requests if r["fault"]]
    print(f"\n[record] transient faults injected: {len(injected)} ({', '.join(sorted(set(injected)))})")
    assert {"rate_limit", "http_error", "drop", "withings_status"} <= set(injected)


def test_access_token_expiring_mid_run(etl_env, db_url):
    assert run_etl("--source", "whoop")[0] == 0
    etl_env.expire_access_tokens()
    etl_env.advance_day()
    code, summary, _ = run_etl("--source", "whoop")
    assert code == 0 and by_resource(summary)["cycles"]["inserted"] == 1


def test_sigkill_at_random_points_then_rerun_matches_an_uninterrupted_load(etl_env, db_url):
    assert run_etl()[0] == 0  # also rotates the seeded tokens once, before any kill
    reference = snapshot(db_url)
    etl_env.app.whoop.set_rate_limit(100_000)  # many loads in a few minutes: WHOOP's 100/min would pace them
    _reset_data(db_url)
    etl_env.clear_requests()
    assert run_etl("--full")[0] == 0
    served = len(etl_env.requests)  # what one whole load asks of the sandbox
    rng = random.Random(SEED)
    points = []
    for point in range(KILL_POINTS):
        # A kill point is an event, never a time: 0 kills right after spawn, before any request;
        # k kills while the k-th request of the run waits unanswered, so every kill lands mid-run
        # whatever the machine's speed, from start-up through fetching to the last page's answer.
        k = rng.randint(0, served)
        points.append(k)
        _reset_data(db_url)
        with holding_request(etl_env, k) as held:
            proc = _etl_process("--full")
            if k:
                assert held.wait(60), (point, k, "the run never made that request")
            assert proc.poll() is None, (point, k)
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=10)
        # The server ends the killed run's session (and frees its locks) when it notices the
        # closed socket, which on a busy machine can come after the rerun starts: it waits.
        code, summary, err = run_etl("--wait", "60")
        assert code == 0, (point, k, err)
        rerun = {name: (r["status"], r["error"]) for name, r in by_resource(summary).items()}
        assert snapshot(db_url) == reference, f"kill point {point} (request {k} of {served}); the rerun: {rerun}"
    print(f"\n[record] SIGKILL: {KILL_POINTS} kills at requests {sorted(points)} of {served}, every rerun identical")


def test_concurrent_runs_one_works_the_others_wait_or_exit_75(etl_env, db_url):
    etl_env.app.faults.latency_ms = 10
    for n, extra in ((2, ()), (5, ()), (5, ("--wait", "60"))):
        _reset_data(db_url)
        procs = [_etl_process(*extra) for _ in range(n)]
        codes = [p.wait(120) for p in procs]
        print(f"\n[record] {n} runs at once {' '.join(extra)}: exit codes {sorted(codes)}")
        assert codes.count(0) >= 1 and set(codes) <= {0, 75}, codes
        if extra:
            assert codes == [0] * n
        counts = table_counts(db_url)
        assert counts["cycles"] >= 59 and counts["recovery"] >= 58
    for p in procs:
        p.stdout.close()
        p.stderr.close()


def test_database_unreachable_at_start(monkeypatch, etl_env):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:9/whoop")
    code, summary, err = run_etl()
    assert code == 1 and summary is None
    monkeypatch.setenv("DATABASE_URL", "sqlite:////proc/whoop.db")  # the folder exists, the file cannot be made
    from click.testing import CliRunner

    import etl

    result = CliRunner().invoke(etl.cli, [])
    assert result.exit_code == 1 and "cannot create the SQLite database" in result.output


def test_database_lost_mid_run_then_the_next_run_finishes(etl_env, db_url, monkeypatch):
    if not db_url.startswith("postgresql"):
        pytest.skip("losing a network connection mid-run applies to PostgreSQL")
    from tests.helpers.tcp_proxy import TcpProxy

    url = make_url(db_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", proxied)
    # Cut while the run's fifth request waits unanswered: pages are being fetched and written, and
    # the run is certainly not over, whatever the machine's speed.
    with holding_request(etl_env, 5) as fetching:
        proc = _etl_process()
        assert fetching.wait(timeout=60)
        proxy.cut()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert "Traceback" not in err
    proxy.restore()
    code, summary, err = run_etl()
    assert code == 0, err
    reference = snapshot(db_url)
    _reset_data(db_url)
    assert run_etl()[0] == 0
    assert snapshot(db_url) == reference
    proxy.close()
