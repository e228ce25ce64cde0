"""A backfill spends at most its share of WHOOP's daily budget, a routine run still gets the rest,
and the next day the backfill resumes where it stopped instead of reading its window again."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from configuration import clock
from models import SyncState
from storage import rate_budget
from storage.engine import make_engine
from sync import budget
from tests.helpers.etl import by_resource, run_etl, table_counts

COLLECTIONS = {"cycles": "cycle", "recovery": "recovery", "sleep": "sleep", "workout": "workout"}
DATA_PATHS = ("/developer/v2/cycle", "/developer/v2/recovery", "/developer/v2/activity/sleep")


def _pages(sandbox) -> list[dict]:
    return [r for r in sandbox.requests if r["provider"] == "whoop" and r["path"].startswith(DATA_PATHS)]


def _freeze(monkeypatch, when: datetime) -> None:
    monkeypatch.setattr(clock, "utcnow", lambda: when)


def test_a_backfill_leaves_routine_runs_their_share_and_resumes_where_it_stopped(etl_env, db_url, monkeypatch):
    today = datetime.now(timezone.utc)
    _freeze(monkeypatch, today)
    # A first read of 60 days takes 14: the backfill's share (9) ends inside the third resource.
    monkeypatch.setenv("WHOOP_REQUESTS_PER_DAY", "12")
    monkeypatch.setenv("ETL_FETCH_CONCURRENCY", "1")  # one resource at a time: one is cut short

    code, summary, err = run_etl("--source", "whoop")  # the first load: a backfill
    assert code == 0, err
    deferred = [name for name, r in by_resource(summary).items() if r["status"] == "deferred"]
    assert deferred, summary
    share = int(12 * budget.BACKFILL_SHARE)
    assert re.fullmatch(
        rf"WHOOP backfill share of the daily budget reached \(\d+ of {share}\): deferred to 00:00 UTC",
        by_resource(summary)[deferred[0]]["error"],
    )
    engine = make_engine(db_url)
    with engine.connect() as conn:
        used, stored = rate_budget.usage(conn, "whoop", rate_budget.DAY, today)
    assert used <= share and stored == 12  # the rest of the day is the routine runs'
    with engine.connect() as conn:  # the resource cut short noted how far back it got
        pending = conn.execute(select(SyncState.resource).where(SyncState.resume_before.is_not(None))).scalars()
        assert list(pending) == [deferred[0]]

    # A routine run the same day still gets the rest of the day (before: the backfill took it all).
    code, summary, err = run_etl("--source", "whoop", "--since", "1d")
    assert code == 0, err
    with engine.connect() as conn:
        assert rate_budget.usage(conn, "whoop", rate_budget.DAY, today)[0] > used
    assert any(r["status"] == "ok" for r in summary["resources"]), summary

    first_day = len(_pages(etl_env))
    _freeze(monkeypatch, rate_budget.next_window(rate_budget.DAY, today) + timedelta(minutes=1))
    monkeypatch.setenv("WHOOP_REQUESTS_PER_DAY", "1000")
    code, summary, err = run_etl("--source", "whoop")
    assert code == 0, err
    assert {r["status"] for r in summary["resources"]} == {"ok"}
    counts, history = table_counts(db_url), etl_env.history
    for name, collection in COLLECTIONS.items():
        assert counts[name] == len(history.collections[collection]), name
    # The deferred resource asked only for what lies before where it stopped.
    resumed = [r for r in _pages(etl_env)[first_day:] if "end" in r["query"]]
    assert resumed and all(r["query"]["end"] for r in resumed)
    engine.dispose()
