"""Whole-row mapper tests for the 1.2.0 resources: one recorded-shape JSON page each, every row asserted."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from mapping import daily as daily_mappers
from mapping import whoop as mappers
from tests.helpers.api import fixture
from tests.helpers.factories import MAPPED_AT as NOW

SEEN = datetime(2026, 3, 15, 6, 0, tzinfo=timezone.utc)


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def test_whoop_body_measurement_row():
    record = fixture("whoop/body_measurement.json")
    assert daily_mappers.body_measurement_to_row(record, 10129, now=SEEN) == {
        "user_id": 10129,
        "flag": None,
        "value_key": "1.8288|90.7185|200",
        "height_meter": 1.8288,
        "weight_kilogram": 90.7185,
        "max_heart_rate": 200,
        "first_seen_at": SEEN,
        "last_seen_at": SEEN,
        "raw": record,
    }


def test_withings_activity_rows():
    records = fixture("withings/getactivity_page.json")["body"]["activities"]
    assert [daily_mappers.activity_to_row(r, 3141592, now=NOW) for r in records] == [
        {
            "user_id": 3141592,
            "flag": None,
            "date": date(2026, 3, 14),
            "timezone": "Europe/Berlin",
            "modified_at": _utc(1773529200),
            "device_id": "5c7a2e0f9d3b41a8e6f0c1d2b3a4958677e8f9a0",
            "model": "ScanWatch",
            "model_id": 93,
            "brand": 1,
            "is_tracker": True,
            "steps": 10412,
            "distance_m": 7913.4,
            "elevation_floors": 11.0,
            "soft_s": 5280,
            "moderate_s": 1860,
            "intense_s": 720,
            "active_s": 2580,
            "calories_kcal": 498.25,
            "total_calories_kcal": 2304.8,
            "hr_average": 71,
            "hr_min": 49,
            "hr_max": 158,
            "hr_zone_0_s": 41820,
            "hr_zone_1_s": 3120,
            "hr_zone_2_s": 840,
            "hr_zone_3_s": 60,
            "raw": records[0],
        },
        # A phone's step tracker: no device id, no heart rate.
        {
            "user_id": 3141592,
            "flag": None,
            "date": date(2026, 3, 15),
            "timezone": "Europe/Berlin",
            "modified_at": _utc(1773570000),
            "device_id": None,
            "model": "HealthKit step iPhone tracker",
            "model_id": 1057,
            "brand": 18,
            "is_tracker": False,
            "steps": 3120,
            "distance_m": 2380.0,
            "elevation_floors": 2.0,
            "soft_s": 1500,
            "moderate_s": 300,
            "intense_s": 0,
            "active_s": 300,
            "calories_kcal": 102.0,
            "total_calories_kcal": 1590.0,
            "hr_average": None,
            "hr_min": None,
            "hr_max": None,
            "hr_zone_0_s": None,
            "hr_zone_1_s": None,
            "hr_zone_2_s": None,
            "hr_zone_3_s": None,
            "raw": records[1],
        },
    ]


def test_withings_sleep_summary_row():
    records = fixture("withings/getsummary_page.json")["body"]["series"]
    assert [daily_mappers.sleep_summary_to_row(r, 3141592, now=NOW) for r in records] == [
        {
            "user_id": 3141592,
            "flag": None,
            "withings_id": 2843019911,
            "start": _utc(1773437400),
            "end": _utc(1773466200),
            "date": date(2026, 3, 14),
            "timezone": "Europe/Berlin",
            "local_date": date(2026, 3, 14),
            "created_at": _utc(1773468000),
            "modified_at": _utc(1773471600),
            "model": 32,
            "model_id": 63,
            "device_id": "9e1f0a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f",
            "total_timeinbed_s": 28800,
            "total_sleep_time_s": 26100,
            "light_sleep_s": 14520,
            "deep_sleep_s": 5220,
            "rem_sleep_s": 6360,
            "awake_s": 1980,
            "wakeup_count": 2,
            "sleep_efficiency": 0.91,
            "sleep_latency_s": 720,
            "sleep_score": 84,
            "hr_average": 56,
            "hr_min": 48,
            "hr_max": 79,
            "rr_average": 14,
            "rr_min": 11,
            "rr_max": 18,
            "snoring_s": 540,
            "snoring_episodes": 3,
            "asleep_s": None,
            "wakeup_latency_s": 240,
            "waso_s": 1260,
            "rem_episodes": 4,
            "out_of_bed_count": 1,
            "breathing_disturbances_intensity": 12.0,
            "apnea_hypopnea_index": 3.4,
            "raw": records[0],
        },
    ]


@pytest.mark.parametrize(
    "mapper, record, reason",
    [
        (lambda r: daily_mappers.activity_to_row(r, 1, now=NOW), {"steps": 5}, "missing date"),
        (lambda r: daily_mappers.activity_to_row(r, 1, now=NOW), {"date": "14/03/2026"}, "not a YYYY-MM-DD date"),
        (
            lambda r: daily_mappers.activity_to_row(r, 1, now=NOW),
            {"date": "2026-03-14", "steps": 10.5},
            "steps must be an integer",
        ),
        (
            lambda r: daily_mappers.sleep_summary_to_row(r, 1, now=NOW),
            {"id": 1, "startdate": 1_760_000_000},
            "missing enddate",
        ),
        (
            lambda r: daily_mappers.body_measurement_to_row(r, 1, now=SEEN),
            {},
            "without height, weight or max heart rate",
        ),
    ],
)
def test_bad_records_are_rejected_with_the_reason(mapper, record, reason):
    with pytest.raises(mappers.MappingError, match=reason):
        mapper(record)


def test_a_sleep_monitor_page_maps_every_night_exactly():
    """The Sleep Analyzer page (tests/fixtures/README.md): every `data` field lands in its column."""
    records = fixture("withings/sleep_getsummary_page.json")["body"]["series"]
    rows = [daily_mappers.sleep_summary_to_row(r, 3141592, now=NOW) for r in records]
    assert len(rows) == len(records) == 3
    for record, row in zip(records, rows, strict=False):
        assert row["withings_id"] == record["id"] and row["model"] == record["model"]
        assert row["end"] > row["start"]
        for field, (column, _) in daily_mappers.SLEEP_SUMMARY_FIELDS.items():
            assert row[column] == record["data"].get(field), field
