"""Deletions reconciled: a record the API stops listing inside a re-read window is marked, never
hard-deleted, and restored when it comes back; failed, empty or out-of-window reads mark nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Cycle, Recovery, Sleep, WithingsHeartRate, WithingsMeasure, WithingsWeight, Workout
from sandbox.timeutil import epoch_ms, parse_iso
from storage.engine import make_engine
from tests.helpers.etl import by_resource, run_etl


def _recent(sandbox, collection: str, days: float = 4, state: str = "SCORED") -> dict:
    """A record of `collection` that started inside the routine run's lookback window."""
    since = sandbox.history.now - timedelta(days=days)
    return next(
        r
        for r in reversed(sandbox.history.collections[collection].all())
        if parse_iso(r["start"]) > since and r["score_state"] == state
    )


def _deleted_at(db_url: str, model, **key):
    engine = make_engine(db_url)
    with Session(engine) as session:
        rows = session.execute(select(model.deleted_at).filter_by(**key)).scalars().all()
    engine.dispose()
    return rows


def _readd(sandbox, collection: str, record: dict, record_id) -> None:
    with sandbox.app.lock:
        sandbox.history.collections[collection].add(
            epoch_ms(parse_iso(record["start"])), str(record_id), record, record_id
        )


def test_a_deleted_workout_is_marked_and_restored_when_it_comes_back(etl_env, db_url):
    assert run_etl()[0] == 0
    workout = _recent(etl_env, "workout")
    etl_env.delete_record("workout", workout["id"])
    code, summary, _ = run_etl()
    assert code == 0
    assert by_resource(summary)["workout"]["deleted"] == 1
    assert _deleted_at(db_url, Workout, whoop_id=workout["id"])[0] is not None  # marked, still there
    assert sum(r["deleted"] for r in summary["resources"]) == 1  # nothing else touched

    _readd(etl_env, "workout", workout, workout["id"])
    code, summary, _ = run_etl()
    restored = by_resource(summary)["workout"]
    assert code == 0 and restored["restored"] + restored["updated"] == 1  # the upsert clears the mark
    assert _deleted_at(db_url, Workout, whoop_id=workout["id"]) == [None]


def test_a_deleted_sleep_takes_its_recovery_with_it(etl_env, db_url):
    assert run_etl()[0] == 0
    since = etl_env.history.now - timedelta(days=5)
    sleep = next(
        s
        for s in reversed(etl_env.history.collections["sleep"].all())
        if parse_iso(s["start"]) > since and not s["nap"] and s["score_state"] == "SCORED"
    )
    recovery = next(r for r in etl_env.history.collections["recovery"].all() if r["sleep_id"] == sleep["id"])
    etl_env.delete_record("sleep", sleep["id"])
    code, summary, _ = run_etl()
    assert code == 0
    assert _deleted_at(db_url, Sleep, whoop_id=sleep["id"])[0] is not None
    assert _deleted_at(db_url, Recovery, whoop_cycle_id=recovery["cycle_id"])[0] is not None
    assert _deleted_at(db_url, Cycle, whoop_id=recovery["cycle_id"]) == [None]  # the cycle is still listed


def test_a_deleted_withings_group_is_marked_in_every_table_and_leaves_the_latest_weight(etl_env, db_url):
    grpid = etl_env.add_weigh_in(91.3)
    assert run_etl()[0] == 0
    assert etl_env.history.latest_weight()["grpid"] == grpid
    etl_env.delete_group(grpid)
    code, summary, _ = run_etl()
    assert code == 0 and by_resource(summary)["measures"]["deleted"] >= 2
    assert _deleted_at(db_url, WithingsWeight, grpid=grpid)[0] is not None
    assert all(d is not None for d in _deleted_at(db_url, WithingsMeasure, grpid=grpid))
    assert all(d is not None for d in _deleted_at(db_url, WithingsHeartRate, grpid=grpid))
    from readers.status import collect_status

    engine = make_engine(db_url)
    latest = collect_status(engine)["latest_weight"]
    engine.dispose()
    assert latest is not None and latest["kg"] != 91.3


def test_a_failed_read_marks_nothing(etl_env, db_url):
    assert run_etl()[0] == 0
    workout = _recent(etl_env, "workout")
    etl_env.delete_record("workout", workout["id"])
    etl_env.add_fault("http_error", path="/developer/v2/activity/workout", status=400)
    code, summary, _ = run_etl()
    assert code == 1 and by_resource(summary)["workout"]["status"] == "failed"
    assert _deleted_at(db_url, Workout, whoop_id=workout["id"]) == [None]


def test_an_empty_window_marks_nothing(etl_env, db_url):
    """The API lists nothing where the database holds rows: not trusted as "all deleted"."""
    assert run_etl()[0] == 0
    since = etl_env.history.now - timedelta(days=8)
    recent = [w for w in etl_env.history.collections["workout"].all() if parse_iso(w["start"]) > since]
    assert recent
    for workout in recent:
        etl_env.delete_record("workout", workout["id"])
    code, summary, _ = run_etl()
    assert code == 0 and by_resource(summary)["workout"]["deleted"] == 0
    assert all(_deleted_at(db_url, Workout, whoop_id=w["id"]) == [None] for w in recent)


def test_records_outside_the_window_and_pending_scores_are_never_marked(etl_env, db_url):
    assert run_etl()[0] == 0
    old = next(
        w
        for w in etl_env.history.collections["workout"].all()
        if parse_iso(w["start"]) < etl_env.history.now - timedelta(days=20)
    )
    pending = etl_env.history.collections["cycle"].newest()[0]
    assert pending["score_state"] == "PENDING_SCORE"
    etl_env.delete_record("workout", old["id"])
    etl_env.delete_record("cycle", pending["id"])
    code, summary, _ = run_etl()
    assert code == 0
    assert _deleted_at(db_url, Workout, whoop_id=old["id"]) == [None]
    assert _deleted_at(db_url, Cycle, whoop_id=pending["id"]) == [None]
