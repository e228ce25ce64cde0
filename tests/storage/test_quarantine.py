"""Nothing thrown away: rejected records are kept, isolated from their page, retried and released."""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select

import db_loader
from mapping import whoop as mappers
from mapping import withings as withings_mapper
from models import Cycle, Quarantine, WithingsMeasure, WithingsWeight
from storage.sync_state import advance_sync_state, get_sync_state
from sync import resources
from sync.windows import Window, lastupdate_window
from tests.helpers import factories as f
from tests.helpers import loaders

# Values no column can hold, each in a record of an otherwise valid page. (An implausible value a
# column can hold, such as an end before the start, is stored and flagged:
# test_implausible_values_stored_and_flagged.py.)
ABSURD = {
    "year -1199": (lambda r: r.update(start="-1199-03-01T06:00:00.000Z"), "start is not an ISO-8601"),
    "1970 date": (lambda r: r.update(start="1970-01-01T00:00:00.000Z"), "start out of bounds"),
    "9999-12-31": (lambda r: r.update(end="9999-12-31T00:00:00.000Z"), "end out of bounds"),
    "beyond int32": (lambda r: r["score"].update(max_heart_rate=2**40), "max_heart_rate out of range"),
    "1e999 unmapped": (lambda r: r.update(note=float("inf")), "record.note is not a finite number"),
    "NaN mapped": (lambda r: r["score"].update(strain=float("nan")), "score.strain is not a finite number"),
    "68.5 bpm": (lambda r: r["score"].update(average_heart_rate=68.5), "must be an integer"),
}


def _quarantined(session) -> list[Quarantine]:
    return list(session.scalars(select(Quarantine).order_by(Quarantine.id)))


@pytest.mark.parametrize("name", sorted(ABSURD))
def test_an_absurd_value_is_quarantined_and_its_page_stored(session, name):
    breakage, reason = ABSURD[name]
    page = [f.cycle(i) for i in range(5)]
    breakage(page[2])
    counts = loaders.load_cycles(session, page)
    session.commit()
    assert (counts.inserted, counts.rejected, counts.quarantined) == (4, 1, 1)
    assert session.scalar(select(func.count()).select_from(Cycle)) == 4
    [held] = _quarantined(session)
    assert (held.source, held.resource, held.record_key, held.attempts) == ("whoop", "cycles", "id=93847", 1)
    assert reason in held.reason
    assert json.loads(held.payload)["id"] == 93847  # the payload survives, NaN and Infinity included
    again = loaders.load_cycles(session, page)  # the next run: same page, no error, one row still held
    session.commit()
    assert (again.unchanged, again.rejected) == (4, 1)
    assert [q.attempts for q in _quarantined(session)] == [2]


def test_a_record_without_a_readable_key_is_kept_by_its_payload(session):
    broken = f.cycle(1)
    broken["id"] = {"nested": True}
    loaders.load_cycles(session, [broken, broken])
    loaders.load_cycles(session, [broken])
    session.commit()
    [held] = _quarantined(session)
    assert held.record_key is None and held.fingerprint.startswith("sha256:") and held.attempts == 2


def test_a_record_sent_again_in_valid_form_leaves_the_quarantine(session):
    bad = f.cycle(1)
    bad["score"]["max_heart_rate"] = 141.5
    loaders.load_cycles(session, [bad])
    session.commit()
    counts = loaders.load_cycles(session, [f.cycle(1)])  # WHOOP fixed it
    session.commit()
    assert (counts.inserted, counts.recovered) == (1, 1)
    assert _quarantined(session) == []


def test_a_mapper_fixed_in_a_later_release_recovers_the_quarantined_record(session):
    def strict_mapper(record, *, now):  # today's release: does not know this sport yet
        if record.get("sport_name") == "padel":
            raise mappers.MappingError("unknown sport padel")
        return mappers.workout_to_row(record, now=now)

    page = [f.workout(1), f.workout(2, sport="padel"), f.workout(3)]
    counts = loaders.load(session, "whoop", "workout", page, mapper=strict_mapper)
    session.commit()
    assert (counts.inserted, counts.quarantined) == (2, 1)
    workout = resources.get("whoop", "workout")
    assert db_loader.retry_quarantine(session, dataclasses.replace(workout, mapper=strict_mapper)).recovered == 0
    session.commit()
    assert [q.attempts for q in _quarantined(session)] == [2]
    fixed = db_loader.retry_quarantine(session, workout)  # the real mapper knows padel
    session.commit()
    assert (fixed.recovered, fixed.inserted, fixed.rejected) == (1, 1, 0)
    assert _quarantined(session) == []


def test_a_withings_group_is_retried_with_its_user_and_timezone(session):
    bad = f.weight_group(61, grams=95_000)
    bad["measures"][0]["value"] = 95_000.5  # a fraction of a raw value: no integer column holds it
    counts = loaders.load_withings_measures(session, [bad, f.weight_group(62)], user_id=5, timezone="Europe/Rome")
    session.commit()
    assert (counts.inserted, counts.quarantined) == (1, 1)
    [held] = _quarantined(session)
    assert (held.user_id, held.timezone, held.record_key) == (5, "Europe/Rome", "grpid=61")
    assert "measures.value must be an integer, got 95000.5" in held.reason

    def lenient(group, user_id, tz, *, now):
        whole = {**group, "measures": [{**m, "value": int(m["value"])} for m in group["measures"]]}
        return withings_mapper.measure_group_to_rows(whole, user_id, tz, now=now)

    measures = resources.get("withings", "measures")
    result = db_loader.retry_quarantine(session, dataclasses.replace(measures, mapper=lenient))
    session.commit()
    assert result.recovered == 1
    row = session.scalars(select(WithingsWeight).where(WithingsWeight.grpid == 61)).one()
    assert (row.user_id, row.timezone, row.weight_kg) == (5, "Europe/Rome", 95.0)


def test_a_value_the_database_refuses_isolates_one_record(session):
    def permissive(record, *, now):  # a mapper bug: lets a value through that no column can hold
        row = mappers.cycle_to_row({k: v for k, v in record.items() if k != "huge"}, now=now)
        return {**row, "max_heart_rate": record["huge"], "raw": record} if "huge" in record else row

    page = [f.cycle(i) for i in range(4)]
    page[1] = {**page[1], "huge": 2**70}
    counts = loaders.load(session, "whoop", "cycles", page, mapper=permissive)
    session.commit()
    assert (counts.inserted, counts.rejected, counts.quarantined) == (3, 1, 1)
    assert "refused" in _quarantined(session)[0].reason
    assert sorted(session.scalars(select(Cycle.whoop_id))) == [93845, 93847, 93848]


def test_infinity_in_an_unmapped_field_never_reaches_the_jsonb_column(session):
    group = f.weight_group(71)
    group["measures"][0]["apppfmid"] = float("inf")
    counts = loaders.load_withings_measures(session, [group, f.weight_group(72)], user_id=1)
    session.commit()
    assert (counts.inserted, counts.quarantined) == (1, 1)
    assert "Infinity" in _quarantined(session)[0].payload


# ---- cursors -------------------------------------------------------------------------------


def test_an_absurd_updatetime_never_becomes_the_cursor(session):
    now = datetime.now(timezone.utc)
    window = Window(None, now, "full")
    advance_sync_state(session, "withings", "measures", 1, window=window, cursor=str(10**20))
    assert get_sync_state(session, "withings", "measures", 1).cursor == str(int(now.timestamp()))  # the run's start
    good = str(int(now.timestamp()) - 60)
    advance_sync_state(session, "withings", "measures", 1, window=window, cursor=good)
    advance_sync_state(session, "withings", "measures", 1, window=window, cursor="-99999999999")
    assert get_sync_state(session, "withings", "measures", 1).cursor == good
    session.rollback()


@pytest.mark.parametrize("stored", [str(10**20), "-99999999999", "not a number"])
def test_a_cursor_poisoned_by_an_older_release_does_not_fail_the_window(stored):
    now = datetime(2026, 11, 24, tzinfo=timezone.utc)
    last = now - timedelta(days=1)
    state = type("State", (), {"cursor": stored, "window_end": last})()
    window = lastupdate_window(state, now=now, lookback=timedelta(days=7), since=None, full=False)
    assert window.start == last - timedelta(days=7)
    state.window_end = None
    assert lastupdate_window(state, now=now, lookback=timedelta(days=7), since=None, full=False).mode == "full"


# ---- property: any page stores exactly its valid records --------------------------------------

BREAKAGES = [None, *ABSURD.values()]


@st.composite
def page_of_cycles(draw):
    records, valid = [], set()
    for n in draw(st.lists(st.integers(0, 40), min_size=1, max_size=12, unique=True)):
        record = f.cycle(n)
        breakage = draw(st.sampled_from(BREAKAGES))
        if breakage is None:
            valid.add(record["id"])
        else:
            breakage[0](record)
        records.append(record)
    return records, valid


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(page=page_of_cycles())
def test_any_page_stores_exactly_the_valid_records_and_a_rerun_is_a_no_op(engine, session, page):
    records, valid = page
    counts = loaders.load_cycles(session, copy.deepcopy(records))
    session.flush()
    assert set(session.scalars(select(Cycle.whoop_id))) == valid
    held = {q.record_key for q in _quarantined(session)}
    assert held == {f"id={r['id']}" for r in records if r["id"] not in valid}
    assert (counts.inserted, counts.rejected) == (len(valid), len(records) - len(valid))
    writes: list[str] = []
    listener = lambda *args: writes.append(args[2]) if args[2].lstrip()[:6] in ("INSERT", "UPDATE") else None  # noqa: E731 - a one-line helper, named where it is used
    event.listen(engine, "before_cursor_execute", listener)
    try:
        again = loaders.load_cycles(session, copy.deepcopy(records))
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert again.unchanged == len(valid) and again.inserted == again.updated == 0
    assert all("quarantine" in w for w in writes)  # only the held records' attempts move
    session.rollback()


def test_withings_measures_survive_a_quarantined_neighbour(session):
    page = [f.weight_group(81), {**f.weight_group(82), "date": 253402214400}, f.bp_group(83)]
    counts = loaders.load_withings_measures(session, page, user_id=1)
    session.commit()
    assert (counts.inserted, counts.quarantined) == (2, 1)
    assert sorted(set(session.scalars(select(WithingsMeasure.grpid)))) == [81, 83]
    assert "date out of bounds: 253402214400" in _quarantined(session)[0].reason


def test_a_run_retries_only_its_own_users_records(session):
    """Two accounts' runs retry side by side: each touches only its own provider user's items."""
    for user_id, grpid in ((5, 71), (6, 72)):
        bad = f.weight_group(grpid, grams=95_000)
        bad["measures"][0]["value"] = 95_000.5
        loaders.load_withings_measures(session, [bad], user_id=user_id, timezone="Europe/Rome")
    session.commit()
    seen = []

    measures = resources.get("withings", "measures")

    def mapper(group, user_id, tz, *, now):
        seen.append(user_id)
        return measures.mapper(group, user_id, tz, now=now)

    result = db_loader.retry_quarantine(session, dataclasses.replace(measures, mapper=mapper), user_id=6)
    session.commit()
    assert seen == [6] and result.fetched == 1
    assert sorted((q.user_id, q.attempts) for q in _quarantined(session)) == [(5, 1), (6, 2)]
