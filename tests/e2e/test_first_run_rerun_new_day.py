"""The real ETL against the sandbox API into SQLite and PostgreSQL: first run, rerun, new day."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from configuration import clock
from models import Cycle, Recovery, WithingsWeight
from storage.engine import make_engine
from tests.helpers.etl import by_resource, run_etl, snapshot, sync_states, table_counts

WHOOP_PATHS = {
    "cycles": "/developer/v2/cycle",
    "recovery": "/developer/v2/recovery",
    "sleep": "/developer/v2/activity/sleep",
    "workout": "/developer/v2/activity/workout",
}


def _data_requests(sandbox):
    return [
        r
        for r in sandbox.requests
        if r["path"].startswith("/developer/v2/")
        or r["path"] in ("/measure", "/v2/measure", "/v2/sleep", "/v2/heart", "/v2/user")
    ]


def test_first_run_loads_everything_and_the_rerun_creates_nothing(etl_env, db_url):
    code, summary, err = run_etl()
    assert code == 0, err
    first = table_counts(db_url)
    assert first["cycles"] >= 59 and first["recovery"] >= 58 and first["workout"] > 0
    assert first["withings_weight"] > 0 and first["withings_heart_rate"] > 0
    assert all(r["window_mode"] == "full" for r in summary["resources"])

    etl_env.clear_requests()
    code, summary, err = run_etl()
    assert code == 0, err
    assert table_counts(db_url) == first
    for resource in summary["resources"]:
        assert resource["window_mode"] == "incremental"
        assert resource["inserted"] == resource["updated"] == 0, resource
    # Only the lookback window is asked for: one page per collection, `start` ~8 days back.
    requests = _data_requests(etl_env)
    for resource, path in WHOOP_PATHS.items():
        calls = [r for r in requests if r["path"] == path]
        assert len(calls) == 1, (resource, calls)
        start = datetime.fromisoformat(calls[0]["query"]["start"].replace("Z", "+00:00"))
        assert timedelta(days=6.9) < datetime.now(timezone.utc) - start < timedelta(days=7.2)
        assert int(calls[0]["query"]["limit"]) <= 25
    measure = [{**r["query"], **r["form"]} for r in requests if r["path"] == "/measure"]
    assert len(measure) == 2  # the lastupdate read and, at once, the measure-date listing for deletions
    (read,), (listing,) = ([m for m in measure if ("lastupdate" in m) == by_update] for by_update in (True, False))
    lastupdate = datetime.fromtimestamp(int(read["lastupdate"]), tz=timezone.utc)
    assert timedelta(days=6.9) < datetime.now(timezone.utc) - lastupdate < timedelta(days=9)
    assert int(listing["startdate"]) == int(read["lastupdate"])
    # One request per declared resource (4 WHOOP pages, the body measurement, getmeas,
    # getactivity, getsummary, getworkouts, the ECG list and getdevice) plus the listings by
    # date of getmeas and getworkouts (the token is still valid), and one 24-hour call each of
    # sleep series and intraday (this account has never had a sample). The WHOOP profile is read
    # weekly, and a stored ECG signal is not fetched again.
    assert sorted(r["path"] for r in requests) == sorted(
        [
            *WHOOP_PATHS.values(),
            "/developer/v2/user/measurement/body",
            "/measure",
            "/measure",
            "/v2/measure",
            "/v2/measure",
            "/v2/measure",
            "/v2/sleep",
            "/v2/measure",
            "/v2/sleep",
            "/v2/heart",
            "/v2/user",
        ]
    )


def test_late_score_and_edited_old_weigh_in_are_picked_up(etl_env, db_url):
    assert run_etl()[0] == 0
    engine = make_engine(db_url)
    with Session(engine) as session:
        pending = session.scalars(select(Cycle).where(Cycle.score_state == "PENDING_SCORE")).all()
        old = session.scalars(
            select(WithingsWeight)
            .where(WithingsWeight.weight_kg.is_not(None))
            .order_by(WithingsWeight.measured_at.desc())
            .offset(15)
            .limit(1)
        ).one()
    assert pending, "the sandbox's newest day is PENDING_SCORE"
    assert datetime.now(timezone.utc) - old.measured_at > timedelta(days=14)
    etl_env.advance_day()  # yesterday gets scored, a new day and weigh-in arrive
    etl_env.edit_weigh_in(old.grpid, 70.123)
    code, summary, err = run_etl()
    assert code == 0, err
    with Session(engine) as session:
        rescored = session.get(Cycle, pending[0].id)
        assert rescored.score_state == "SCORED" and rescored.strain is not None
        assert (
            session.scalars(select(WithingsWeight.weight_kg).where(WithingsWeight.grpid == old.grpid)).one() == 70.123
        )
    assert by_resource(summary)["measures"]["updated"] >= 1
    assert by_resource(summary)["cycles"]["inserted"] >= 1
    engine.dispose()


def test_a_new_weigh_in_appears_after_the_next_run(etl_env, db_url):
    assert run_etl()[0] == 0
    grpid = etl_env.add_weigh_in(77.7)
    assert run_etl()[0] == 0
    engine = make_engine(db_url)
    with Session(engine) as session:
        latest = session.scalars(select(WithingsWeight).order_by(WithingsWeight.measured_at.desc()).limit(1)).one()
        assert (latest.grpid, latest.weight_kg) == (grpid, 77.7)
    engine.dispose()


def test_a_month_without_runs_leaves_no_gap(etl_env, db_url, monkeypatch):
    assert run_etl()[0] == 0
    before = table_counts(db_url)
    etl_env.advance_day(30)
    # The sandbox's clock is now a month ahead of this machine's; the ETL's clock follows it.
    monkeypatch.setattr(clock, "utcnow", lambda: datetime.now(timezone.utc) + timedelta(days=30))
    assert run_etl()[0] == 0
    after = table_counts(db_url)
    assert after["cycles"] - before["cycles"] == 30
    assert after["recovery"] - before["recovery"] >= 29
    # Same content as one fresh full load of the same API state.
    assert snapshot(db_url)["cycles"] and run_etl("--full")[0] == 0
    assert table_counts(db_url) == after


def test_one_resource_failing_leaves_the_others_committed(etl_env, db_url, monkeypatch):
    monkeypatch.setattr("api_clients.http.HttpClient.backoff", lambda self, attempt: 0.01)
    etl_env.add_fault("http_error", path="/developer/v2/recovery", status=500)
    code, summary, err = run_etl()
    assert code == 1
    resources = by_resource(summary)
    assert resources["recovery"]["status"] == "failed" and "500" in resources["recovery"]["error"]
    assert resources["cycles"]["status"] == resources["measures"]["status"] == "ok"
    counts = table_counts(db_url)
    assert counts["cycles"] > 0 and counts["withings_weight"] > 0
    states = sync_states(db_url)
    assert states["recovery"].status == "error" and states["recovery"].window_end is None
    etl_env.reset_faults()
    code, summary, _ = run_etl()
    assert code == 0
    assert by_resource(summary)["recovery"]["window_mode"] == "full"
    engine = make_engine(db_url)
    with Session(engine) as session:
        ids = session.scalars(select(Recovery.whoop_cycle_id)).all()
    assert len(ids) == len(set(ids)) >= 58
    engine.dispose()


def test_dry_run_writes_nothing(etl_env, db_url):
    code, summary, _ = run_etl("--dry-run")
    assert code == 0 and summary["dry_run"] is True
    assert by_resource(summary)["cycles"]["inserted"] >= 59
    assert sum(table_counts(db_url).values()) == 0
    assert sync_states(db_url) == {}
