"""The sandbox's high-frequency Withings stand-ins: sleep series, intraday, workouts, ECG and devices."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

import sandbox.withings_intraday as intraday_module
from sandbox import SandboxServer
from sandbox.withings_intraday import INTRADAY_FIELDS
from sandbox.withings_nights import SLEEP_SERIES_FIELDS
from sandbox.withings_workouts import WORKOUT_FIELDS
from tests.helpers import withings_shapes as shapes
from tests.sandbox.test_sandbox_endpoints import whoop_headers, withings_headers

NOW = datetime(2025, 3, 10, 9, 30, tzinfo=timezone.utc)
EVENING = int(datetime(2025, 3, 8, 18, 0, tzinfo=timezone.utc).timestamp())  # before two nights' bedtime
DAY = 86_400
SEGMENT_KEYS = {"startdate", "enddate", "state", "model", "model_id"}
HRV_FIELDS = {"sdnn_1", "rmssd", "hrv_quality", "snoring", "breathing_sounds"}


@pytest.fixture(scope="module")
def shared():
    """A read-only server: a year of history with a watch and a sleep monitor worn throughout, pages of 20."""
    with SandboxServer(days=365, seed=7, now=NOW, withings_page_size=20, series_days=None) as sb:
        sb.headers = withings_headers(sb)
        yield sb


@pytest.fixture
def sb():
    """A fresh server for tests that change devices, scopes or faults."""
    with SandboxServer(days=30, seed=11, now=NOW, series_days=None) as server:
        server.headers = withings_headers(server)
        yield server


def call(sb, path: str, **params) -> dict:
    response = requests.post(f"{sb.url}{path}", data=params, headers=sb.headers, timeout=10)
    assert response.status_code == 200  # Withings answers errors with HTTP 200 too
    return response.json()


def body(sb, path: str, **params) -> dict:
    answer = call(sb, path, **params)
    assert answer["status"] == 0, answer
    return answer["body"]


def sleep_series(sb, start: int = EVENING, span: int = DAY, fields=SLEEP_SERIES_FIELDS) -> list[dict]:
    answer = body(sb, "/v2/sleep", action="get", startdate=start, enddate=start + span, data_fields=",".join(fields))
    assert answer["model"] == 32
    return answer["series"]


# ---- every answer in the documented shape (the same checks the fixtures pass) ----

SHAPES = [
    ("/v2/sleep", {"action": "get", "startdate": EVENING, "enddate": EVENING + DAY}, shapes.check_sleep_get),
    ("/v2/measure", {"action": "getintradayactivity", "startdate": EVENING}, shapes.check_intraday),
    ("/v2/measure", {"action": "getintradayactivity", "startdate": 0, "enddate": DAY}, shapes.check_intraday),
    ("/v2/measure", {"action": "getworkouts", "lastupdate": 0}, shapes.check_workouts),
    ("/v2/heart", {"action": "list", "startdate": 0}, shapes.check_heart_list),
    ("/v2/heart", {"action": "list"}, shapes.check_heart_list),
    ("/v2/user", {"action": "getdevice"}, shapes.check_devices),
]


@pytest.mark.parametrize(("path", "params", "check"), SHAPES)
def test_answers_have_the_documented_shape(shared, path, params, check):
    fields = {"/v2/sleep": SLEEP_SERIES_FIELDS, "/v2/measure": INTRADAY_FIELDS}.get(path)
    if params["action"] == "getworkouts":
        fields = WORKOUT_FIELDS
    check(shapes.check_envelope(call(shared, path, **params, **({"data_fields": ",".join(fields)} if fields else {}))))


def test_ecg_signal_and_whoop_profile_have_the_documented_shape(shared):
    listed = body(shared, "/v2/heart", action="list", startdate=0)["series"]
    signalid = next(r["ecg"]["signalid"] for r in listed if "ecg" in r)
    shapes.check_heart_get(shapes.check_envelope(call(shared, "/v2/heart", action="get", signalid=signalid)))
    headers = whoop_headers(shared)
    profile = requests.get(f"{shared.url}/developer/v2/user/profile/basic", headers=headers, timeout=5).json()
    shapes.check_whoop_profile(profile)


# ---- sleep series ----


def test_sleep_segments_carry_state_device_and_minute_series(shared):
    segments = sleep_series(shared)
    assert segments
    for segment in segments:
        assert SEGMENT_KEYS <= set(segment) <= SEGMENT_KEYS | set(SLEEP_SERIES_FIELDS)
        assert segment["state"] in (0, 1, 2, 3) and segment["startdate"] < segment["enddate"]
        assert (segment["model"], segment["model_id"]) == ("Aura Sensor V2", 63)
        for field in set(segment) - SEGMENT_KEYS:
            assert all(isinstance(v, int) for v in segment[field].values())
            assert all(segment["startdate"] <= int(ts) <= segment["enddate"] for ts in segment[field])


def test_sleep_series_has_overlapping_segments_that_agree_on_shared_minutes(shared):
    segments = sorted(sleep_series(shared), key=lambda s: s["startdate"])
    overlapping = [(a, b) for a, b in zip(segments, segments[1:], strict=False) if a["enddate"] > b["startdate"]]
    assert overlapping
    for earlier, later in overlapping:
        shared_minutes = set(earlier["hr"]) & set(later["hr"])
        assert shared_minutes
        assert all(earlier["hr"][ts] == later["hr"][ts] for ts in shared_minutes)


def test_sleep_awake_segments_lack_hrv_fields_and_the_index_needs_a_long_night(shared):
    segments = sleep_series(shared)
    awake = [s for s in segments if s["state"] == 0]
    assert awake and all(not HRV_FIELDS & set(s) for s in awake)
    assert all(HRV_FIELDS <= set(s) for s in segments if s["state"] != 0)
    assert 1 <= sum("withings_index" in s for s in segments) <= 2  # at most one per night, two nights


def test_sleep_answers_only_the_requested_fields(shared):
    segments = sleep_series(shared, fields=("hr", "rmssd"))
    assert {key for s in segments for key in s} == SEGMENT_KEYS | {"hr", "rmssd"}
    default = body(shared, "/v2/sleep", action="get", startdate=EVENING, enddate=EVENING + DAY)["series"]
    assert {key for s in default for key in s} == SEGMENT_KEYS | {"hr", "rr", "snoring"}


def test_sleep_call_returns_only_the_first_24_hours(shared):
    one_day = sleep_series(shared, span=DAY)
    three_days = sleep_series(shared, span=3 * DAY)
    assert three_days == one_day
    assert max(s["startdate"] for s in three_days) <= EVENING + DAY


def test_sleep_without_dates_is_an_error_in_a_200(shared):
    answer = call(shared, "/v2/sleep", action="get", data_fields="hr")
    assert answer["status"] == 503 and "startdate" in answer["error"]


def test_sleep_series_is_the_same_on_every_server_with_the_seed(shared):
    with SandboxServer(days=365, seed=7, now=NOW, series_days=None) as other:
        other.headers = withings_headers(other)
        assert sleep_series(other) == sleep_series(shared)


# ---- intraday ----


def intraday(sb, start: int, end: int | None = None, fields=INTRADAY_FIELDS):
    params = {"action": "getintradayactivity", "startdate": start, "data_fields": ",".join(fields)}
    if end is not None:
        params["enddate"] = end
    return body(sb, "/v2/measure", **params)["series"]


def test_intraday_samples_are_keyed_by_timestamp_with_their_device(shared):
    series = intraday(shared, EVENING, EVENING + DAY)
    assert len(series) > 1000
    for ts, sample in series.items():
        assert ts.isdigit() and EVENING <= int(ts) <= EVENING + DAY
        assert (sample["model"], sample["model_id"]) == ("ScanWatch", 93) and len(sample["deviceid"]) == 40
        assert set(sample) - {"deviceid", "model", "model_id"} <= set(INTRADAY_FIELDS)


def test_intraday_has_gaps_and_never_the_fields_the_watch_cannot_measure(shared):
    series = intraday(shared, EVENING, EVENING + DAY)
    minutes = sorted(int(ts) for ts in series)
    assert max(b - a for a, b in zip(minutes, minutes[1:], strict=False)) >= 3600  # an hour on the charger
    fields = {key for sample in series.values() for key in sample}
    assert not fields & {"rr", "chest_movement_rate", "core_body_temperature"}
    assert {"steps", "heart_rate", "rmssd", "sdnn1", "hrv_quality"} <= fields


def test_intraday_call_covers_at_most_24_hours(shared):
    series = intraday(shared, EVENING, EVENING + 3 * DAY)
    assert series == intraday(shared, EVENING, EVENING + DAY)
    assert max(int(ts) for ts in series) <= EVENING + DAY


def test_intraday_outside_the_history_is_an_empty_list(shared):
    assert intraday(shared, int(NOW.timestamp()) + DAY, int(NOW.timestamp()) + 2 * DAY) == []
    assert intraday(shared, EVENING, EVENING + DAY, fields=("rr",)) == []


def test_intraday_without_dates_answers_the_last_24_hours(shared):
    series = body(shared, "/v2/measure", action="getintradayactivity", data_fields="heart_rate")["series"]
    now = int(NOW.timestamp())
    assert series and all(now - DAY <= int(ts) <= now for ts in series)


def test_intraday_builds_only_the_days_a_call_touches(shared, monkeypatch):
    built = []
    real = intraday_module.intraday_day
    monkeypatch.setattr(intraday_module, "intraday_day", lambda person, day: built.append(day) or real(person, day))
    intraday(shared, EVENING, EVENING + 3 * DAY, fields=("steps",))
    assert len(built) == 2  # a window of 24 h starting at 18:00 touches two UTC days, not the year


# ---- workouts ----


def workouts(sb, **params) -> dict:
    return body(sb, "/v2/measure", action="getworkouts", data_fields=",".join(WORKOUT_FIELDS), **params)


def test_workouts_page_with_more_and_offset(shared):
    pages, offset = [], 0
    while True:
        page = workouts(shared, startdateymd="2024-03-10", enddateymd="2025-03-09", offset=offset)
        assert isinstance(page["more"], bool)
        pages.append(page["series"])
        if not page["more"]:
            assert page["offset"] == 0
            break
        offset = page["offset"]
    records = [r for page in pages for r in page]
    assert len(pages) > 2 and all(len(page) == 20 for page in pages[:-1])
    assert len({r["id"] for r in records}) == len(records)


def test_workouts_keep_their_sport_specific_fields_and_sentinels(shared):
    records = workouts(shared, lastupdate=0, offset=0)["series"]
    records += workouts(shared, lastupdate=0, offset=20)["series"]
    for record in records:
        assert {"id", "category", "timezone", "model", "attrib", "startdate", "enddate", "date", "modified"} <= set(
            record
        )
        data = record["data"]
        if record["category"] == 7:
            assert {"pool_laps", "strokes", "pool_length"} <= set(data) and "steps" not in data
        else:
            assert "steps" in data and "pool_laps" not in data
        assert "core_body_temperature_avg" not in data  # asked for, but no device here measures it
        assert data["spo2_average"] is None
    phone = [r for r in records if r["model"] == 1055]
    assert phone and all(r["deviceid"] is None and r["data"]["hr_average"] == 0 for r in phone)


def test_workouts_lastupdate_and_missing_dates(shared):
    recent = workouts(shared, lastupdate=int(NOW.timestamp()) - 7 * DAY)["series"]
    assert recent and all(r["modified"] >= int(NOW.timestamp()) - 7 * DAY for r in recent)
    answer = call(shared, "/v2/measure", action="getworkouts")
    assert answer["status"] == 503


# ---- ECG ----


def test_ecg_list_is_empty_without_startdate_and_full_from_zero(shared):
    assert body(shared, "/v2/heart", action="list") == {"series": [], "more": False, "offset": 0}
    page = body(shared, "/v2/heart", action="list", startdate=0)
    assert page["more"] is True and len(page["series"]) == 20
    record = page["series"][0]
    assert {"deviceid", "model", "timestamp", "modified"} <= set(record) and record["model"] == 93


def test_ecg_list_has_failed_recordings_without_signal_and_a_window_filters(shared):
    records, offset = [], 0
    while True:
        page = body(shared, "/v2/heart", action="list", startdate=0, offset=offset)
        records += page["series"]
        if not page["more"]:
            break
        offset = page["offset"]
    failed = [r for r in records if "ecg" not in r]
    assert failed and all("heart_rate" not in r for r in failed)
    assert {r["ecg"]["afib"] for r in records if "ecg" in r} <= {0, 1, 2}
    middle = records[len(records) // 2]["timestamp"]
    window = body(shared, "/v2/heart", action="list", startdate=middle, enddate=middle)["series"]
    assert [r["timestamp"] for r in window] == [middle]


def test_ecg_get_returns_the_signal_of_a_listed_recording(shared):
    listed = body(shared, "/v2/heart", action="list", startdate=0)["series"]
    recording = next(r for r in listed if "ecg" in r)
    signal = body(shared, "/v2/heart", action="get", signalid=recording["ecg"]["signalid"])
    assert signal["sampling_frequency"] == 300 and len(signal["signal"]) == 300 * 30
    assert all(isinstance(v, int) for v in signal["signal"]) and signal["heart_rate"] == recording["heart_rate"]
    assert call(shared, "/v2/heart", action="get", signalid=12345)["status"] == 503


# ---- devices ----


def devices(sb) -> dict[str, dict]:
    return {d["model"]: d for d in body(sb, "/v2/user", action="getdevice")["devices"]}


def test_getdevice_lists_every_device_with_battery_and_sessions(sb):
    found = devices(sb)
    assert {"ScanWatch", "Aura Sensor V2", "BPM Connect"} <= set(found)
    for device in found.values():
        assert device["battery"] in ("high", "medium", "low")
        assert device["deviceid"] == device["hash_deviceid"] and len(device["deviceid"]) == 40
        assert device["first_session_date"] <= device["last_session_date"] <= int(NOW.timestamp())
    assert (
        found["ScanWatch"]["deviceid"]
        == body(sb, "/v2/measure", action="getactivity", lastupdate=0)["activities"][0]["deviceid"]
    )


def test_admin_sets_a_battery_low_and_an_old_last_session(sb):
    nine_days_ago = int(NOW.timestamp()) - 9 * DAY
    answer = requests.post(
        f"{sb.url}/_sandbox/device",
        params={"model": "ScanWatch", "battery": "low", "last_session": nine_days_ago},
        timeout=5,
    )
    assert answer.status_code == 200 and answer.json()["device"]["battery"] == "low"
    watch = devices(sb)["ScanWatch"]
    assert (watch["battery"], watch["last_session_date"]) == ("low", nine_days_ago)
    bad = requests.post(f"{sb.url}/_sandbox/device", params={"model": "ScanWatch", "battery": "empty"}, timeout=5)
    assert bad.status_code == 400 and "battery" in bad.json()["error"]
    assert sb.set_device("BPM Connect", battery="medium")["battery"] == "medium"


# ---- auth, scopes and faults apply to them too ----


def test_new_endpoints_need_a_token_and_the_scope(sb):
    answer = requests.post(f"{sb.url}/v2/user", data={"action": "getdevice"}, timeout=5).json()
    assert answer["status"] == 401
    sb.deny_scope("withings", "user.activity")
    assert call(sb, "/v2/sleep", action="get", startdate=EVENING, enddate=EVENING + DAY)["status"] == 403
    assert call(sb, "/v2/heart", action="list", startdate=0)["status"] == 0


def test_faults_reach_the_new_endpoints(sb):
    sb.add_fault("withings_status", "/v2/heart", status=601, times=1)
    assert call(sb, "/v2/heart", action="list", startdate=0)["status"] == 601
    sb.add_fault("alternate_offset", "/v2/measure", times=1)
    page = call(sb, "/v2/measure", action="getworkouts", lastupdate=0)
    assert (page["body"]["more"], page["body"]["offset"]) == (1, 1)


def test_an_edited_workout_moves_its_modified_and_a_deleted_one_is_no_longer_listed(sb):
    listed = body(sb, "/v2/measure", action="getworkouts", lastupdate=0)["series"]
    edited, deleted = listed[-1], listed[0]
    modified = sb.edit_workout(edited["id"], 777)
    sb.delete_workout(deleted["id"])
    again = {r["id"]: r for r in body(sb, "/v2/measure", action="getworkouts", lastupdate=0)["series"]}
    assert deleted["id"] not in again and len(again) == len(listed) - 1
    assert again[edited["id"]]["data"]["calories"] == 777 and again[edited["id"]]["modified"] == modified
    since = body(sb, "/v2/measure", action="getworkouts", lastupdate=modified)["series"]
    assert [r["id"] for r in since] == [edited["id"]]
    with pytest.raises(KeyError, match="no workout 1"):
        sb.edit_workout(1, 5)
