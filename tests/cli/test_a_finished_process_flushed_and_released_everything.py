"""A finished `python etl.py` process leaves nothing behind: its output, log and database are complete.

The CLI skips the interpreter's garbage collection on its way out; these runs check, from outside
the process, that nothing relied on it: piped stdout, the log file, closed database connections,
a released run lock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.engine import make_engine
from sync import resources
from sync.lock import ADVISORY_KEY

PROJECT = Path(__file__).resolve().parents[2]


def _etl(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WHOOP_PLATFORM_NO_DOTENV": "1"}
    return subprocess.run(
        [sys.executable, "etl.py", *args], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120
    )


def _run_lock_is_free(db_url: str) -> bool:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            if not conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({ADVISORY_KEY})").scalar():
                return False
            conn.exec_driver_sql(f"SELECT pg_advisory_unlock({ADVISORY_KEY})")
            return True
    finally:
        engine.dispose()


def test_a_finished_run_has_flushed_its_output_and_log_and_closed_the_database(etl_env, db_url, tmp_path):
    log_file = tmp_path / "etl.log"
    done = _etl("--json", "--log-file", str(log_file))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)  # a pipe is block-buffered: all of it, or this fails
    assert {r["resource"] for r in summary["resources"]} == {r.name for r in resources.RESOURCES}
    logged = log_file.read_text()
    assert "whoop cycles: ok fetched=" in logged and "withings measures: ok fetched=" in logged
    database = make_url(db_url).database
    if db_url.startswith("sqlite"):
        # The last connection to close checkpoints the WAL and removes it; a process that died
        # with a connection open leaves the file behind.
        assert not Path(f"{database}-wal").exists()
    else:
        assert _run_lock_is_free(db_url)
    again = _etl("--quiet", "--since", "1d")  # the lock was released, the data is all there
    assert again.returncode == 0, again.stderr
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            states = conn.execute(text("SELECT count(*) FROM sync_state WHERE status = 'ok'")).scalar()
    finally:
        engine.dispose()
    assert states == len(resources.RESOURCES)
