"""reconcile_window: soft deletes inside a re-read window, restores, PENDING_SCORE kept, nothing outside."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

import db_loader
import models
from dashboard.summary import load_summary
from models import Cycle, Recovery, Sleep, WithingsMeasure, WithingsWeight, Workout
from readers.status import collect_status
from storage import accounts
from sync.resources import get
from tests.helpers import factories as f
from tests.helpers import loaders

START, END = f.BASE + timedelta(days=10), f.BASE + timedelta(days=20)


def _live(session, model, column):
    session.expire_all()
    return sorted(session.scalars(select(column).where(model.deleted_at.is_(None))))


def test_a_deleted_workout_is_marked_and_restored_when_it_reappears(session):
    loaders.load_workout(session, [f.workout(i) for i in range(5, 25)])
    session.commit()
    returned = [f.workout(i) for i in range(10, 20) if i != 14]
    marked, restored = db_loader.reconcile_window(
        session,
        models.workout,
        f.USER_ID,
        START,
        END,
        [get("whoop", "workout").key_of(r) for r in returned],
        time_column="start",
    )
    session.commit()
    assert (marked, restored) == (1, 0)
    gone = session.scalars(select(Workout).where(Workout.whoop_id == f.workout_uuid(14))).one()
    assert gone.deleted_at is not None and gone.raw == f.workout(14)  # kept, never a hard delete
    assert len(_live(session, Workout, Workout.whoop_id)) == 19  # nothing outside the window touched
    back = db_loader.reconcile_window(
        session,
        models.workout,
        f.USER_ID,
        START,
        END,
        get("whoop", "workout").keys([{**r, "id": r["id"].upper()} for r in returned + [f.workout(14)]]),
        time_column="start",
    )
    assert back == (0, 1)  # an id in another letter case is the same UUID


def test_the_upsert_clears_deleted_at_when_the_record_comes_back(session):
    loaders.load_cycles(session, [f.cycle(12)])
    db_loader.reconcile_window(session, models.cycles, f.USER_ID, START, END, [f.cycle(13)["id"]], time_column="start")
    session.commit()
    assert _live(session, Cycle, Cycle.whoop_id) == []
    counts = loaders.load_cycles(session, [f.cycle(12)])
    session.commit()
    assert counts.updated == 1 and _live(session, Cycle, Cycle.whoop_id) == [f.cycle(12)["id"]]


def test_a_deleted_sleep_with_its_recovery(session):
    loaders.load_sleep(session, [f.sleep(i) for i in range(11, 15)])
    loaders.load_recovery(session, [f.recovery(i) for i in range(11, 15)])
    session.commit()
    seen_sleep = [f.sleep(i)["id"] for i in (11, 12, 14)]
    seen_recovery = [get("whoop", "recovery").key_of(f.recovery(i)) for i in (11, 12, 14)]
    assert db_loader.reconcile_window(
        session, models.sleep, f.USER_ID, START, END, seen_sleep, time_column="start"
    ) == (
        1,
        0,
    )
    assert db_loader.reconcile_window(
        session, models.recovery, f.USER_ID, START, END, seen_recovery, time_column="created_at"
    ) == (1, 0)
    session.commit()
    assert f.sleep_uuid(13) not in _live(session, Sleep, Sleep.whoop_id)
    assert f.cycle(13)["id"] not in _live(session, Recovery, Recovery.whoop_cycle_id)


def test_pending_score_records_are_never_reconciled_away(session):
    loaders.load_cycles(session, [f.cycle(15, state="PENDING_SCORE"), f.cycle(16)])
    session.commit()
    assert db_loader.reconcile_window(
        session, models.cycles, f.USER_ID, START, END, [f.cycle(17)["id"]], time_column="start"
    ) == (1, 0)
    session.commit()
    assert _live(session, Cycle, Cycle.whoop_id) == [f.cycle(15)["id"]]


def test_an_empty_response_marks_nothing_unless_confirmed(session):
    loaders.load_cycles(session, [f.cycle(12)])
    session.commit()
    assert db_loader.reconcile_window(session, models.cycles, f.USER_ID, START, END, [], time_column="start") == (0, 0)
    assert db_loader.reconcile_window(
        session, models.cycles, f.USER_ID, START, END, [], time_column="start", allow_empty=True
    ) == (1, 0)


def test_a_deleted_withings_group_leaves_status_and_the_dashboard(engine, session):
    groups = [f.weight_group(500 + day, grams=80000 + 100 * day, day=day) for day in range(10, 16)]
    with engine.begin() as conn:  # user 7 is the default account's, as its token save records
        accounts.link(conn, accounts.ensure(conn), "withings", 7)
    loaders.load_withings_measures(session, groups, user_id=7)
    session.commit()
    newest = groups[-1]
    seen = [g["grpid"] for g in groups if g is not newest]
    for table in (models.withings_weight, models.withings_heart_rate, models.withings_measure):
        db_loader.reconcile_window(session, table, 7, START, END, seen, time_column="measured_at")
    session.commit()
    assert newest["grpid"] not in _live(session, WithingsWeight, WithingsWeight.grpid)
    assert newest["grpid"] not in _live(session, WithingsMeasure, WithingsMeasure.grpid)
    session.commit()  # SQLite: end this session's write transaction before status reads
    assert collect_status(engine)["latest_weight"]["kg"] == 81.4  # the weigh-in before the deleted one
    assert load_summary(engine)["weight"]["kg"] == 81.4
