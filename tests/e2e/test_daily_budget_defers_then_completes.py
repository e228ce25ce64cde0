"""WHOOP's daily budget spent mid-run: the run defers (exit 0), keeps every page it fetched, and the
next day's run finishes the job with nothing missing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from configuration import clock, settings
from models import Account, SyncState
from storage import rate_budget
from storage.engine import make_engine
from storage.tokens import DbTokenStore
from sync import budget
from sync.plan import open_client, resource_jobs
from sync.report import Reporter
from sync.resources import get
from sync.runner import Runner
from tests.helpers.etl import by_resource, run_etl, table_counts

TABLES = ("cycles", "recovery", "sleep", "workout")  # the resources, named as their tables
SANDBOX_COLLECTIONS = {"cycles": "cycle", "recovery": "recovery", "sleep": "sleep", "workout": "workout"}


def _whoop_requests(sandbox) -> int:
    return sum(1 for r in sandbox.requests if r["provider"] == "whoop")


def _freeze(monkeypatch, when: datetime) -> None:
    monkeypatch.setattr(clock, "utcnow", lambda: when)


@pytest.fixture(autouse=True)
def _the_whole_day_for_the_backfill(monkeypatch):
    # These first loads are backfills; here they may spend the whole day, so that the day's own
    # limit is what stops them (a backfill's share: test_backfills_leave_routine_runs_their_share).
    monkeypatch.setattr(budget, "BACKFILL_SHARE", 1.0)


def test_a_spent_daily_budget_defers_keeps_what_was_fetched_and_the_next_day_completes(etl_env, db_url, monkeypatch):
    today = datetime.now(timezone.utc)  # frozen: the day window cannot turn during the test
    _freeze(monkeypatch, today)
    monkeypatch.setenv("WHOOP_REQUESTS_PER_DAY", "10")  # a full WHOOP read of 60 days takes 14
    monkeypatch.setenv("ETL_FETCH_CONCURRENCY", "1")  # one resource at a time: at most one is cut short
    code, summary, err = run_etl("--source", "whoop")
    assert code == 0, err
    results = by_resource(summary)
    deferred = [name for name, r in results.items() if r["status"] == "deferred"]
    assert deferred and set(deferred) | {n for n, r in results.items() if r["status"] == "ok"} == set(results)
    midnight = rate_budget.next_window(rate_budget.DAY, today)
    assert results[deferred[0]]["error"] == "WHOOP daily budget reached (10 of 10): deferred to 00:00 UTC"
    assert "WHOOP daily budget reached (10 of 10): deferred to 00:00 UTC" in err
    assert _whoop_requests(etl_env) == 10  # refresh, profile and 8 pages: never one more
    counts = table_counts(db_url)
    for name, r in results.items():  # every fetched record is stored, a cut-short resource's too
        if name in TABLES:
            assert counts[name] == r["fetched"], name
    engine = make_engine(db_url)
    with Session(engine) as session:
        states = {s.resource: s for s in session.scalars(select(SyncState))}
        for name in deferred:
            assert states[name].status == "deferred" and states[name].window_end is None, name
        assert session.scalar(select(Account.due_at).where(Account.name == "default")) == midnight

    _freeze(monkeypatch, midnight + timedelta(minutes=1))  # the next day window
    code, summary, err = run_etl("--source", "whoop")
    assert code == 0, err
    assert {r["status"] for r in summary["resources"]} == {"ok"}
    history = etl_env.history
    counts = table_counts(db_url)
    for name in TABLES:
        assert counts[name] == len(history.collections[SANDBOX_COLLECTIONS[name]]), name
    with engine.connect() as conn:
        assert rate_budget.usage(conn, "whoop", rate_budget.DAY, today)[0] == 10
        used_tomorrow = rate_budget.usage(conn, "whoop", rate_budget.DAY, midnight)[0]
    assert _whoop_requests(etl_env) == 10 + used_tomorrow
    engine.dispose()


def test_a_resource_deferred_mid_read_commits_its_pages_and_leaves_its_window_behind(etl_env, db_url, monkeypatch):
    _freeze(monkeypatch, datetime.now(timezone.utc))
    monkeypatch.setenv("WHOOP_REQUESTS_PER_DAY", "4")  # refresh, profile, then 2 of the 3 pages of cycles
    engine = make_engine(db_url)
    client, user_id = open_client(settings.get_settings(), DbTokenStore(engine), "whoop", engine)
    jobs = resource_jobs(
        engine, client, user_id, (get("whoop", "cycles"),), now=clock.utcnow(), lookback=timedelta(days=7)
    )
    [result] = Runner(engine, Reporter(interactive=False, quiet=True)).run(jobs)
    assert (result.status, result.pages, result.counts.inserted) == ("deferred", 2, 50)
    assert table_counts(db_url)["cycles"] == 50
    with Session(engine) as session:
        state = session.scalars(select(SyncState)).one()
        assert (state.status, state.window_end, state.cursor, state.error) == ("deferred", None, None, None)
    engine.dispose()
