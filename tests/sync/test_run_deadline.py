"""`--max-minutes`: a run that cannot finish stops cleanly, keeps what it committed and says so."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import SyncState
from storage.engine import make_engine
from sync.lock import run_lock
from tests.helpers.etl import by_resource, run_etl, table_counts


def test_a_run_past_its_deadline_stops_with_exit_1_and_keeps_committed_pages(etl_env, db_url):
    # Withings answers far later than the run's deadline (6 s); WHOOP's small pages finish well
    # inside it even on a loaded machine. Only the deadline can end the run with Withings "stopped".
    etl_env.add_fault("latency", path="/measure", ms=60_000)
    code, summary, _ = run_etl("--max-minutes", "0.1")
    assert code == 1
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
