"""Withings sleep series and intraday samples -> rows: every field as sent, absent ones NULL, -1 kept."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from mapping.fields import MappingError
from mapping.withings_series import (
    INTRADAY_COLUMNS,
    intraday_records,
    intraday_to_row,
    sleep_records,
    sleep_series_to_rows,
)
from tests.helpers.api import fixture

NOW = datetime(2026, 12, 7, 12, tzinfo=timezone.utc)
WATCH = "5f0e3c1d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"


def _at(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def test_an_intraday_sample_becomes_one_whole_row_and_absent_fields_are_null():
    records = intraday_records(fixture("withings/intraday_gaps.json")["body"]["series"])
    rows = {int(r["timestamp"]): intraday_to_row(r, 7, now=NOW) for r in records}
    assert len(rows) == 10
    expected = dict.fromkeys(INTRADAY_COLUMNS)
    expected.update(
        user_id=7,
        measured_at=_at(1773554760),
        device_id=WATCH,
        model="ScanWatch",
        model_id=93,
        heart_rate=63,
        steps=24,
        distance=18.24,
        calories=1.08,
        elevation=0.0,
        duration=60,
        extra=None,
        flag=None,
    )
    assert rows[1773554760] == expected
    spo2 = rows[1773547500]
    assert spo2["spo2_auto"] == 96.0 and spo2["heart_rate"] == 50 and spo2["steps"] is None
    swim = rows[1773595800]
    assert (swim["stroke"], swim["pool_lap"], swim["distance"]) == (26, 1, None)


def test_an_empty_intraday_answer_is_no_records():
    assert intraday_records([]) == intraday_records({}) == []
    with pytest.raises(MappingError):
        intraday_records([{"steps": 1}])


def test_minus_one_is_stored_as_sent_and_flagged_and_unknown_fields_kept_in_extra():
    row = intraday_to_row({"timestamp": "1773554760", "heart_rate": -1, "new_field": 3}, 7, now=NOW)
    assert row["heart_rate"] == -1 and row["flag"] == "heart_rate -1 below 0"
    assert row["extra"] == {"new_field": 3}


@pytest.mark.parametrize(
    "record, reason",
    [
        ({"timestamp": "17735x", "steps": 3}, "not unix seconds"),
        ({"timestamp": "1773554760", "steps": "many"}, "steps must be an integer"),
        ({"timestamp": "1773554760", "steps": 2.5}, "steps must be an integer"),
        ({"timestamp": "1773554760", "sample": 5}, "is not an object"),
    ],
)
def test_a_malformed_sample_is_refused_with_its_reason(record, reason):
    with pytest.raises(MappingError, match=reason):
        intraday_to_row(record, 7, now=NOW)


def test_a_night_splits_into_segments_and_one_record_per_minute_with_overlaps_merged():
    segments = fixture("withings/sleep_get_night.json")["body"]["series"]
    records = sleep_records(segments)
    mapped = [sleep_series_to_rows(r, 7, now=NOW) for r in records]
    segment_rows = [row for m in mapped for row in m.get("withings_sleep_segment", ())]
    point_rows = [row for m in mapped for row in m.get("withings_sleep_series", ())]
    assert len(segment_rows) == len(segments)
    assert segment_rows[0]["raw"] == {k: v for k, v in segments[0].items() if not isinstance(v, dict)}
    minutes = {ts for s in segments for f, v in s.items() if isinstance(v, dict) for ts in v}
    assert len(point_rows) == len(minutes)  # a minute two overlapping segments share is one row
    awake = next(r for r in point_rows if r["measured_at"] == _at(1773526200))
    assert awake["hr"] == 64 and awake["mvt_score"] == 120 and awake["sdnn_1"] is None and awake["snoring"] is None


def test_overlapping_segments_that_disagree_keep_both_values():
    first = {"startdate": 100, "enddate": 200, "state": 1, "model_id": 63, "hr": {"1773526200": 50}}
    second = {"startdate": 150, "enddate": 300, "state": 2, "model_id": 63, "hr": {"1773526200": 52}}
    (point,) = [r for r in sleep_records([first, second]) if "timestamp" in r]
    row = sleep_series_to_rows(point, 7, now=NOW)["withings_sleep_series"][0]
    assert row["hr"] == 50 and row["extra"] == {"conflicts": {"hr": [52]}}


def test_a_series_that_is_not_an_object_keeps_its_segment_for_the_quarantine():
    segment = {"startdate": 1773526200, "enddate": 1773527100, "state": 0, "model_id": 63, "hr": [64, 66]}
    (record,) = sleep_records([segment])
    assert record == segment
    with pytest.raises(MappingError, match="hr must be an object"):
        sleep_series_to_rows(record, 7, now=NOW)
