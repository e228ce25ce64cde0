"""The series write path on SQLite and PostgreSQL: a day stored at once, a bad minute quarantined
alone, a re-run writes nothing, a changed minute is updated in place."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import event, func, select

import models
from api_clients.pages import Page
from db_loader import load_page
from storage.engine import make_engine
from sync.resources import get

NOW = datetime(2026, 12, 7, 12, tzinfo=timezone.utc)
T0 = 1773532800


def _day(minutes: int = 100) -> list[dict]:
    return [
        {
            "timestamp": str(T0 + 60 * i),
            "deviceid": "a" * 40,
            "model": "ScanWatch",
            "model_id": 93,
            "heart_rate": 60 + i % 9,
        }
        for i in range(minutes)
    ]


def _load(engine, records):
    with engine.connect() as conn:
        counts = load_page(conn, get("withings", "intraday"), Page(records=records, fetched_at=NOW), 7)
        conn.commit()
    return counts


def test_a_bad_minute_is_quarantined_and_the_rest_stored_and_a_rerun_writes_nothing(db_url):
    engine = make_engine(db_url)
    day = _day()
    day[40]["heart_rate"] = "fast"
    counts = _load(engine, day)
    assert (counts.fetched, counts.inserted, counts.rejected, counts.quarantined) == (100, 99, 1, 1)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(models.withings_intraday)) == 99
        held = conn.execute(select(models.quarantine)).mappings().one()
    assert held["fingerprint"] == f"timestamp={T0 + 2400}" and "heart_rate must be an integer" in held["reason"]

    statements = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    counts = _load(engine, _day())  # the same day again, the bad minute now corrected
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assert counts.inserted == 1 and counts.unchanged == 99 and counts.recovered == 1
    statements.clear()
    counts = _load(engine, _day())
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    assert writes == [] and counts.unchanged == 100 and counts.inserted == counts.updated == 0
    engine.dispose()


def test_a_changed_minute_is_updated_in_place(db_url):
    engine = make_engine(db_url)
    _load(engine, _day(10))
    changed = _day(10)
    changed[3]["steps"] = 42
    counts = _load(engine, changed)
    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 1, 9)
    with engine.connect() as conn:
        steps = conn.execute(
            select(models.withings_intraday.c.steps).where(models.withings_intraday.c.steps.is_not(None))
        )
        assert steps.scalars().all() == [42]
        assert conn.scalar(select(func.count()).select_from(models.withings_intraday)) == 10
    engine.dispose()


def test_a_value_the_database_refuses_costs_only_its_minute(db_url):
    engine = make_engine(db_url)
    day = _day(5)
    day[2]["model"] = "Scan\x00Watch"  # PostgreSQL text cannot hold a NUL; SQLite keeps it
    counts = _load(engine, day)
    refused = 1 if engine.dialect.name == "postgresql" else 0
    assert (counts.inserted, counts.rejected, counts.quarantined) == (5 - refused, refused, refused)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(models.withings_intraday)) == 5 - refused
    engine.dispose()


def test_a_bad_sleep_minute_is_quarantined_and_its_segment_and_the_other_minutes_stored(db_url):
    from mapping.withings_series import sleep_records
    from tests.helpers.api import fixture

    engine = make_engine(db_url)
    segments = fixture("withings/sleep_get_night.json")["body"]["series"]
    segments[1]["hr"]["1773527700"] = "58 bpm"
    records = sleep_records(segments)
    with engine.connect() as conn:
        counts = load_page(conn, get("withings", "sleep_series"), Page(records=records, fetched_at=NOW), 7)
        conn.commit()
    assert (counts.rejected, counts.quarantined, counts.inserted) == (1, 1, len(records) - 1)
    with engine.connect() as conn:
        stored = conn.execute(select(models.withings_sleep_series.c.measured_at)).scalars().all()
        assert datetime.fromtimestamp(1773527700, timezone.utc) not in stored and len(stored) > 10
        assert conn.scalar(select(func.count()).select_from(models.withings_sleep_segment)) == len(segments)
        held = conn.execute(select(models.quarantine.c.fingerprint, models.quarantine.c.reason)).one()
    assert held.fingerprint == "timestamp=1773527700" and "hr must be an integer" in held.reason
    engine.dispose()


def test_a_sleep_minute_sent_in_part_by_the_next_window_keeps_what_was_stored(db_url):
    from mapping.withings_series import sleep_records

    engine = make_engine(db_url)
    whole = {
        "startdate": T0,
        "enddate": T0 + 120,
        "state": 1,
        "model_id": 63,
        "hr": {str(T0): 51},
        "rmssd": {str(T0): 40},
    }
    awake = {"startdate": T0 - 60, "enddate": T0 + 60, "state": 0, "model_id": 63, "hr": {str(T0): 51}}
    sleep = get("withings", "sleep_series")

    def load(segments):
        with engine.connect() as conn:
            counts = load_page(conn, sleep, Page(records=sleep_records(segments), fetched_at=NOW), 7)
            conn.commit()
        return counts

    load([awake, whole])
    counts = load([awake])  # the next window holds only the awake segment: the minute without its HRV
    assert (counts.inserted, counts.updated) == (0, 0)
    with engine.connect() as conn:
        assert conn.execute(select(models.withings_sleep_series.c.hr, models.withings_sleep_series.c.rmssd)).one() == (
            51,
            40.0,
        )
    engine.dispose()
