"""The recorded getworkouts, Heart v2 and getdevice pages and the WHOOP profile -> whole rows;
the ECG signal packs exactly; what cannot be stored is a MappingError naming why."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from api_clients.pages import Page
from mapping.daily import profile_to_row
from mapping.devices import device_to_row, ecg_to_row, workout_to_row
from mapping.ecg import decode_signal, encode_signal
from mapping.fields import MappingError
from sync.resources import get
from sync.windows import Window
from tests.helpers.api import fixture

NOW = datetime(2026, 3, 20, tzinfo=timezone.utc)
USER = 777


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _without(row: dict, *names: str) -> dict:
    return {k: v for k, v in row.items() if k not in names}


def test_workouts_page_to_rows():
    run, walk, swim = fixture("withings/getworkouts_page.json")["body"]["series"]
    row = workout_to_row(run, USER, now=NOW)
    assert _without(row, "raw") == {
        "user_id": USER,
        "withings_id": 4120338811,
        "category": 2,
        "category_name": "Run",
        "start": _at(1773507600),
        "end": _at(1773510420),
        "date": date(2026, 3, 14),
        "timezone": "Europe/Berlin",
        "model": 93,
        "attrib": 0,
        "device_id": "5f0e3c1d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
        "modified_at": _at(1773511900),
        "calories_kcal": 512.0,
        "intensity": 0,
        "manual_intensity": 0,
        "manual_distance_m": 0.0,
        "manual_calories_kcal": 0.0,
        "hr_average": 148,
        "hr_min": 104,
        "hr_max": 171,
        "hr_zone_0_s": 240,
        "hr_zone_1_s": 610,
        "hr_zone_2_s": 1490,
        "hr_zone_3_s": 480,
        "pause_duration_s": 0,
        "algo_pause_duration_s": None,
        "spo2_average": None,
        "core_body_temperature_avg": None,
        "core_body_temperature_min": None,
        "core_body_temperature_max": None,
        "core_body_temperature_status": None,
        "steps": 7420,
        "distance_m": 8130.0,
        "elevation_floors": 6.0,
        "pool_laps": None,
        "strokes": None,
        "pool_length_m": None,
        "flag": None,
    }
    assert row["raw"] == run
    phone = workout_to_row(walk, USER, now=NOW)
    assert (phone["device_id"], phone["hr_average"], phone["hr_max"], phone["flag"]) == (None, 0, 0, None)
    pool = workout_to_row(swim, USER, now=NOW)
    assert pool["steps"] is None and pool["pool_laps"] is not None and pool["category_name"] == "Swimming"


def test_an_unknown_category_is_kept_without_a_name():
    record = {**fixture("withings/getworkouts_page.json")["body"]["series"][0], "category": 9999}
    row = workout_to_row(record, USER, now=NOW)
    assert (row["category"], row["category_name"]) == (9999, None)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": None}, "missing id"),
        ({"startdate": "yesterday"}, "startdate must be an integer"),
        ({"data": {"hr_average": 61.5}}, "data.hr_average must be an integer"),
        ({"data": [1, 2]}, "data must be an object"),
    ],
)
def test_a_malformed_workout_names_its_reason(change, reason):
    record = {**fixture("withings/getworkouts_page.json")["body"]["series"][0], **change}
    with pytest.raises(MappingError, match=reason):
        workout_to_row(record, USER, now=NOW)


def test_ecg_recordings_to_rows_with_the_signal_packed_exactly():
    recorded, failed, bpm_core, _move = fixture("withings/heart_list_page.json")["body"]["series"]
    body = fixture("withings/heart_get_signal.json")["body"]
    row = ecg_to_row({**recorded, "signal": body}, USER, now=NOW)
    assert _without(row, "signal", "raw") == {
        "user_id": USER,
        "timestamp": 1773590400,
        "recorded_at": _at(1773590400),
        "modified_at": _at(1773590711),
        "device_id": "5f0e3c1d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
        "model": 93,
        "signal_id": 301122334,
        "afib": 0,
        "afib_name": "negative",
        "heart_rate": 61,
        "systole": None,
        "diastole": None,
        "wear_position": 1,
        "sampling_frequency": 300,
        "sample_count": 90,
        "sample_bytes": 2,
        "flag": None,
    }
    assert decode_signal(row["signal"], row["sample_bytes"]) == body["signal"]
    assert len(row["signal"]) == 180  # two bytes a sample
    assert row["raw"] == {**recorded, "signal": {k: v for k, v in body.items() if k != "signal"}}

    attempt = ecg_to_row(failed, USER, now=NOW)
    assert [attempt[c] for c in ("signal", "signal_id", "afib", "heart_rate", "sample_count")] == [None] * 5
    pressure = ecg_to_row({**bpm_core, "signal": body}, USER, now=NOW)
    assert (pressure["systole"], pressure["diastole"], pressure["afib_name"]) == (131, 82, "inconclusive")


def test_a_signal_beyond_16_bits_is_packed_as_int32_and_round_trips():
    samples = [0, -1, 40_000, -(2**31), 2**31 - 1]
    packed = encode_signal(samples)
    assert (packed.sample_bytes, packed.sample_count) == (4, 5)
    assert decode_signal(packed.data, packed.sample_bytes) == samples
    for bad, reason in (([1.5], "must be an integer"), ([2**31], "beyond 32 bits"), ("0,1", "must be a list")):
        with pytest.raises(MappingError, match=reason):
            encode_signal(bad)


def test_a_recording_whose_signal_was_refused_is_held_with_the_reason():
    recorded = fixture("withings/heart_list_page.json")["body"]["series"][0]
    with pytest.raises(MappingError, match="its signal could not be fetched: status 503"):
        ecg_to_row({**recorded, "signal_error": "status 503"}, USER, now=NOW)
    with pytest.raises(MappingError, match="signalid but no signal"):
        ecg_to_row(recorded, USER, now=NOW)


def test_devices_to_rows():
    scale, watch, _mat, bpm = fixture("withings/getdevice.json")["body"]["devices"]
    row = device_to_row(scale, USER, now=NOW)
    assert _without(row, "raw") == {
        "user_id": USER,
        "device_key": "7c2e9a41b0d3f5867e1c2b3a4d5e6f708192a3b4",
        "type": "Scale",
        "model": "Body+",
        "model_id": 5,
        "battery": "low",
        "firmware": None,
        "first_session_at": _at(1643700000),
        "last_session_at": _at(1770200000),
        "timezone": "Europe/Berlin",
        "fetched_at": NOW,
        "flag": None,
    }
    assert device_to_row(bpm, USER, now=NOW)["first_session_at"] is None
    assert device_to_row({**watch, "battery": "unknown", "fw": "2.1.3"}, USER, now=NOW)["firmware"] == "2.1.3"


def test_the_profile_keeps_the_name_and_never_the_email():
    record = fixture("whoop/profile_basic.json")
    row = profile_to_row(record, 10129, now=NOW)
    assert (row["first_name"], row["last_name"]) == ("Jo", "Sample")
    assert "email" not in row["raw"] and "@" not in str(row)
    with pytest.raises(MappingError, match="without a first or last name"):
        profile_to_row({"user_id": 1, "email": "x@example.com"}, 1, now=NOW)


class _HeartClient:
    """Answers Heart v2 list with a recorded page; counts the signals asked for."""

    def __init__(self, page: dict):
        self.page, self.gets = page, []

    def granted_scopes(self):
        return None

    def iter_action_pages(self, path, action, params, records_key, max_pages=None, *, scope=None, what=""):
        assert (path, action, records_key, params) == ("/v2/heart", "list", "series", {"startdate": 0})
        yield Page(records=list(self.page["series"]), more=False)

    def ecg_signal(self, signalid, *, scope=None, what=""):
        self.gets.append(signalid)
        return fixture("withings/heart_get_signal.json")["body"]


def test_an_empty_ecg_list_is_one_empty_page_and_no_signal_is_asked_for():
    client = _HeartClient(fixture("withings/heart_list_empty.json")["body"])
    pages = list(get("withings", "ecg").pages(client, Window(None, NOW, "full")))
    assert [p.records for p in pages] == [[]] and client.gets == []


def test_the_first_ecg_read_lists_from_zero_and_fetches_each_signal_once():
    client = _HeartClient(fixture("withings/heart_list_page.json")["body"])
    (page,) = get("withings", "ecg").pages(client, Window(None, NOW, "full"))
    assert client.gets == [301122334, 301000457, 300998120]  # not the failed attempt
    assert [("signal" in r) for r in page.records] == [True, False, True, True]
