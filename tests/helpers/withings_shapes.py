"""Shape checks for the high-frequency Withings answers and the WHOOP basic profile, as
docs/API_NOTES.md describes them; the fixtures and the sandbox are held to the same checks."""

from __future__ import annotations

import re

from sandbox.withings_intraday import INTRADAY_FIELDS
from sandbox.withings_nights import SLEEP_SERIES_FIELDS
from sandbox.withings_workouts import WORKOUT_FIELDS

NUMBER = (int, float)
SLEEP_STATES = (0, 1, 2, 3, 4, 5, 15)
AFIB_CLASSES = (0, 1, 2)
BATTERY_LEVELS = ("high", "medium", "low")
DEVICE_TYPES = (
    "Scale",
    "Babyphone",
    "Blood Pressure Monitor",
    "Activity Tracker",
    "Sleep Monitor",
    "Smart Connected Thermometer",
    "Gateway",
    "iGlucose",
    "Lingo",
)
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _typed(record: dict, required: dict, optional: dict | None = None) -> None:
    """Every required key with its type, optional keys typed when present, nothing else."""
    optional = optional or {}
    missing = set(required) - set(record)
    assert not missing, f"missing {sorted(missing)} in {record}"
    extra = set(record) - set(required) - set(optional)
    assert not extra, f"undocumented {sorted(extra)} in {record}"
    for key, kind in {**required, **optional}.items():
        if key in record:
            assert isinstance(record[key], kind), f"{key}={record[key]!r} is not {kind}"


def check_envelope(answer: dict) -> dict:
    """The Withings envelope of a success: `status` 0 and a `body` object; returns the body."""
    assert answer["status"] == 0 and isinstance(answer["body"], dict), answer
    assert "error" not in answer
    return answer["body"]


def check_paged(body: dict, key: str) -> list:
    """`more` (a boolean on the v2 endpoints) and `offset` beside the records list."""
    _typed(body, {key: list, "more": bool, "offset": int})
    return body[key]


def check_sleep_get(body: dict) -> None:
    """Sleep v2 get: a list of segments, each with its minute series as {"<unix>": number}."""
    _typed(body, {"series": list}, {"model": int})
    for segment in body["series"]:
        series = {field: dict for field in SLEEP_SERIES_FIELDS}
        _typed(segment, {"startdate": int, "enddate": int, "state": int, "model": str, "model_id": int}, series)
        assert segment["state"] in SLEEP_STATES and segment["startdate"] < segment["enddate"]
        for field in set(segment) & set(SLEEP_SERIES_FIELDS):
            for ts, value in segment[field].items():
                assert ts.isdigit() and isinstance(value, NUMBER), (field, ts, value)


def check_intraday(body: dict) -> None:
    """Measure v2 getintradayactivity: samples keyed by unix time (an empty answer is a list)."""
    _typed(body, {"series": (dict, list)})
    if isinstance(body["series"], list):
        assert body["series"] == []
        return
    for ts, sample in body["series"].items():
        assert ts.isdigit()
        fields = {field: NUMBER for field in INTRADAY_FIELDS}
        _typed(sample, {"deviceid": (str, type(None)), "model": str, "model_id": int}, fields)
        assert set(sample) & set(INTRADAY_FIELDS), f"a sample without data at {ts}"


def check_workouts(body: dict) -> None:
    """Measure v2 getworkouts: a page of workouts, each with its `data` fields (numbers or null)."""
    for workout in check_paged(body, "series"):
        _typed(
            workout,
            {
                "id": int,
                "category": int,
                "timezone": str,
                "model": int,
                "attrib": int,
                "startdate": int,
                "enddate": int,
                "date": str,
                "modified": int,
                "deviceid": (str, type(None)),
                "data": dict,
            },
        )
        assert ISO_DAY.match(workout["date"]) and workout["startdate"] <= workout["enddate"]
        status_field = {"core_body_temperature_status": str}
        numbers = {field: (*NUMBER, type(None)) for field in WORKOUT_FIELDS if field not in status_field}
        _typed(workout["data"], {}, {**numbers, **status_field})


def check_heart_list(body: dict) -> None:
    """Heart v2 list: recordings; a failed one has neither `ecg` nor `heart_rate`."""
    for record in check_paged(body, "series"):
        _typed(
            record,
            {"deviceid": str, "model": int, "timestamp": int},
            {"modified": int, "ecg": dict, "heart_rate": int, "bloodpressure": dict},
        )
        if "ecg" in record:
            _typed(record["ecg"], {"signalid": int, "afib": int})
            assert record["ecg"]["afib"] in AFIB_CLASSES
        if "bloodpressure" in record:
            _typed(record["bloodpressure"], {"diastole": int, "systole": int})


def check_heart_get(body: dict) -> None:
    """Heart v2 get: the signal in microvolts and how it was taken."""
    _typed(
        body,
        {"signal": list, "sampling_frequency": int, "wearposition": int},
        {"model": int, "heart_rate": int},
    )
    assert body["signal"] and all(isinstance(v, int) for v in body["signal"])


def check_devices(body: dict) -> None:
    """User v2 getdevice: each device's kind, battery and sessions (session dates may be null)."""
    _typed(body, {"devices": list})
    maybe_time = (int, type(None))
    for device in body["devices"]:
        _typed(
            device,
            {
                "type": str,
                "battery": str,
                "model": str,
                "model_id": int,
                "deviceid": str,
                "hash_deviceid": str,
                "timezone": str,
                "first_session_date": maybe_time,
                "last_session_date": maybe_time,
            },
            {"mac_address": str, "fw": str, "network": str, "last_used_network": str, "sim_status": str},
        )
        assert device["type"] in DEVICE_TYPES and device["battery"] in BATTERY_LEVELS


def check_whoop_profile(profile: dict) -> None:
    """WHOOP GET /v2/user/profile/basic: the four required fields, nothing else."""
    _typed(profile, {"user_id": int, "email": str, "first_name": str, "last_name": str})
