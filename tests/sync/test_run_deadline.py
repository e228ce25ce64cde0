"""`--max-minutes`: a run that cannot finish stops cleanly, keeps what it committed and says so."""
from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.engine import make_engine
from models import SyncState
from sync.lock import run_lock
from tests.helpers.etl import by_resource, run_etl, table_counts


def test_a_run_past_its_deadline_stops_with_exit_1_and_keeps_committed_pages(etl_env, db_url):
    etl_env.add_fault("latency", path="/measure", ms=4000)  # Withings answers far too slowly
    started = time.monotonic()
    code, summary, _ = run_etl("--max-minutes", "0.03")
    elapsed = time.monotonic() - started
    assert code == 1
    assert elapsed < 30, "the deadline (1.8 s) ends the run, not the slow server"
    resources = by_resource(summary)
    assert resources["measures"]["status"] == "failed"
    assert "stopped after" in resources["measures"]["error"]
    assert all(resources[name]["status"] == "ok" for name in ("cycles", "recovery", "sleep", "workout"))
    assert table_counts(db_url)["cycles"] > 0  # the finished resources' rows are committed
    engine = make_engine(db_url)
    with Session(engine) as session:
        state = session.scalars(select(SyncState).where(SyncState.resource == "measures")).one()
        assert (state.status, state.window_end) == ("error", None)
    with run_lock(engine, 0):  # the lock is free again
        pass
    engine.dispose()
