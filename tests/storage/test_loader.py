"""db_loader on real SQLite and PostgreSQL: idempotent, updates in place, rejects bad records."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from mapping import whoop as mappers
from models import Cycle, Recovery, Sleep, WithingsHeartRate, WithingsMeasure, WithingsWeight, Workout
from tests.conftest import shared_data
from tests.helpers import factories as f
from tests.helpers import loaders


@contextmanager
def count_writes(engine):
    """Count INSERT/UPDATE/DELETE statements the engine sends."""
    writes: list[str] = []

    def _before(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    event.listen(engine, "before_cursor_execute", _before)
    try:
        yield writes
    finally:
        event.remove(engine, "before_cursor_execute", _before)


def _load_all(session, n=30):
    counts = {
        "cycles": loaders.load_cycles(session, [f.cycle(i) for i in range(n)]),
        "sleep": loaders.load_sleep(session, [f.sleep(i) for i in range(n)]),
        "recovery": loaders.load_recovery(session, [f.recovery(i) for i in range(n)]),
        "workout": loaders.load_workout(session, [f.workout(i) for i in range(n)]),
        "withings": loaders.load_withings_measures(
            session,
            [f.weight_group(1000 + i, day=i) for i in range(n)] + [f.bp_group(5000 + i, day=i) for i in range(n)],
            user_id=3141592,
            timezone="Europe/Berlin",
        ),
    }
    session.commit()
    return counts


def _row_counts(session):
    return {
        m.__tablename__: session.scalar(select(func.count()).select_from(m))
        for m in (Cycle, Sleep, Recovery, Workout, WithingsWeight, WithingsHeartRate, WithingsMeasure)
    }


def test_loading_twice_changes_nothing_and_writes_nothing(session, engine):
    first = _load_all(session)
    assert first["cycles"].as_dict() == {
        "fetched": 30,
        "inserted": 30,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "skipped": 0,
        "quarantined": 0,
        "recovered": 0,
        "deleted": 0,
        "restored": 0,
    }
    assert first["withings"].inserted == 60
    before = _row_counts(session)
    assert before == {
        "cycles": 30,
        "sleep": 30,
        "recovery": 30,
        "workout": 30,
        "withings_weight": 30,
        "withings_heart_rate": 30,
        "withings_measure": 30 * 2 + 30 * 3,
    }

    with count_writes(engine) as writes:
        second = _load_all(session)
    assert writes == []
    for name, counts in second.items():
        assert counts.inserted == counts.updated == counts.rejected == 0, name
        assert counts.unchanged == counts.fetched, name
    assert _row_counts(session) == before


def test_late_score_updates_the_row_in_place(session):
    pending = f.cycle(1, state="PENDING_SCORE")
    loaders.load_cycles(session, [pending])
    pending_rec = f.recovery(1, state="PENDING_SCORE")
    loaders.load_recovery(session, [pending_rec])
    session.commit()
    row = session.scalars(select(Cycle)).one()
    first_id = row.id
    assert (row.score_state, row.strain) == ("PENDING_SCORE", None)

    scored = f.cycle(1, state="SCORED", strain=14.2, updated=f.BASE + f.timedelta(days=2))
    counts = loaders.load_cycles(session, [scored])
    rcounts = loaders.load_recovery(session, [f.recovery(1, score=71.0, updated=f.BASE + f.timedelta(days=2))])
    session.commit()
    session.expire_all()
    assert (counts.updated, counts.inserted, rcounts.updated) == (1, 0, 1)
    row = session.scalars(select(Cycle)).one()
    assert row.id == first_id
    assert (row.score_state, row.strain, row.max_heart_rate) == ("SCORED", 14.2, 141)
    assert row.raw == scored
    assert row.updated_at == f.BASE + f.timedelta(days=2)
    assert session.scalars(select(Recovery)).one().recovery_score == 71.0


def test_a_field_the_api_stops_sending_is_cleared(session):
    loaders.load_cycles(session, [f.cycle(1)])
    loaders.load_cycles(session, [f.cycle(1, state="UNSCORABLE")])
    session.commit()
    row = session.scalars(select(Cycle)).one()
    assert (row.score_state, row.strain, row.kilojoule) == ("UNSCORABLE", None, None)


def test_edited_weigh_in_updates_in_place(session):
    loaders.load_withings_measures(session, [f.weight_group(77, grams=80500)], user_id=1)
    session.commit()
    edited = f.weight_group(77, grams=79900, modified_shift=3600)
    counts = loaders.load_withings_measures(session, [edited], user_id=1)
    session.commit()
    assert (counts.updated, counts.inserted) == (1, 0)
    row = session.scalars(select(WithingsWeight)).one()
    assert row.weight_kg == 79.9
    assert row.raw == edited
    assert row.modified_at.timestamp() == edited["modified"]


def test_real_withings_capture_lands_with_exact_values(session):
    groups = json.loads(shared_data("withings_getmeas_real_2021_2023.json").read_text())
    counts = loaders.load_withings_measures(session, groups, user_id=42, timezone="Europe/Berlin")
    session.commit()
    # One manual entry (attrib 2) says a diastolic pressure of 1 mmHg: stored as sent, flagged.
    assert counts.rejected == counts.quarantined == 0
    weights = {g["grpid"]: g for g in groups if any(m["type"] == 1 for m in g["measures"])}
    stored = dict(session.execute(select(WithingsWeight.grpid, WithingsWeight.weight_kg)).all())
    assert set(stored) == set(weights)
    for grpid, group in weights.items():
        m = next(m for m in group["measures"] if m["type"] == 1)
        assert stored[grpid] == float(f"{m['value']}e{m['unit']}"), grpid
    cardio = {g["grpid"] for g in groups if {m["type"] for m in g["measures"]} & {9, 10, 11}}
    hr = set(session.scalars(select(WithingsHeartRate.grpid)))
    assert cardio <= hr
    odd = next(g for g in groups if g["attrib"] == 17)
    assert odd["grpid"] in stored or odd["grpid"] in hr or counts.skipped >= 1
    # A second load of the whole capture is a no-op.
    again = loaders.load_withings_measures(session, groups, user_id=42, timezone="Europe/Berlin")
    assert again.inserted == again.updated == 0


def test_real_bp_values_are_decoded(session):
    groups = json.loads(shared_data("withings_getmeas_real_small.json").read_text())
    loaders.load_withings_measures(session, groups, user_id=42)
    session.commit()
    bp = [g for g in groups if {m["type"] for m in g["measures"]} >= {9, 10}]
    for group in bp:
        row = session.scalars(select(WithingsHeartRate).where(WithingsHeartRate.grpid == group["grpid"])).one()
        sys_m = next(m for m in group["measures"] if m["type"] == 10)
        assert row.systolic_mmhg == float(f"{sys_m['value']}e{sys_m['unit']}")


@pytest.mark.parametrize(
    "breakage, reason",
    [
        (lambda r: r.pop("id"), "missing id"),
        (lambda r: r.update(id="93845"), "id must be an integer"),
        (lambda r: r.update(start="yesterday"), "start is not an ISO-8601"),
        (lambda r: r.update(id=2**70), "id out of range"),
        (lambda r: r.update(timezone_offset="\udcff"), "not valid UTF-8"),
        (lambda r: r.update(score_state="SCORED", score={"strain": "high"}), "strain must be a number"),
    ],
)
def test_one_malformed_record_does_not_poison_the_batch(session, breakage, reason):
    records = [f.cycle(i) for i in range(5)]
    breakage(records[2])
    counts = loaders.load_cycles(session, records)
    session.commit()
    assert (counts.fetched, counts.inserted, counts.rejected) == (5, 4, 1)
    assert reason in counts.errors[0]
    assert session.scalar(select(func.count()).select_from(Cycle)) == 4


def test_non_object_records_are_rejected(session):
    counts = loaders.load_workout(session, [None, "x", 7, f.workout(1)])
    session.commit()
    assert (counts.inserted, counts.rejected) == (1, 3)


def test_recovery_sleep_id_conflict_rejects_only_that_record(session):
    loaders.load_recovery(session, [f.recovery(1)])
    session.commit()
    clash = f.recovery(2)
    clash["sleep_id"] = f.sleep_uuid(1)  # another cycle claiming a stored recovery's sleep
    counts = loaders.load_recovery(session, [clash, f.recovery(3)])
    session.commit()
    assert (counts.inserted, counts.rejected) == (1, 1)
    assert "conflicts with a stored row" in counts.errors[0]
    assert session.scalar(select(func.count()).select_from(Recovery)) == 2


def test_same_record_twice_in_one_batch_is_stored_once(session):
    counts = loaders.load_sleep(session, [f.sleep(1), f.sleep(1, nap=True)])
    session.commit()
    assert (counts.inserted, counts.unchanged) == (1, 1)
    assert session.scalars(select(Sleep)).one().nap is True


def test_batches_smaller_than_the_input(session, engine):
    with count_writes(engine) as writes:
        counts = loaders.load_workout(session, [f.workout(i) for i in range(23)], batch_size=5)
        session.commit()
    assert counts.inserted == 23
    assert len(writes) <= 5 * 1 + 5  # one bulk INSERT per batch (PostgreSQL may page it)


def test_timestamps_are_aware_utc(session):
    loaders.load_cycles(session, [f.cycle(1)])
    session.commit()
    row = session.scalars(select(Cycle)).one()
    assert row.start.utcoffset().total_seconds() == 0
    assert row.start == mappers.parse_timestamp(f.cycle(1)["start"], "start", f.MAPPED_AT)
    assert row.timezone_offset == "-05:00"
