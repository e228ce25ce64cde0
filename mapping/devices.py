"""Pure mappers of Withings workouts, ECG recordings and devices (docs/API_NOTES.md, Withings
"Workouts", "ECG" and "Devices"). MappingError on what cannot be stored; a missing field is NULL,
and a value is stored as sent (a phone's 0 bpm included), implausible ones named in `flag`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mapping.ecg import encode_signal
from mapping.fields import (
    INT32,
    NON_NEGATIVE,
    MappingError,
    Plausible,
    check_storable,
    flag_of,
    integer,
    number,
    order_flag,
    parse_epoch,
    require,
    text,
    ymd_date,
)
from mapping.workout_categories import WORKOUT_CATEGORIES

AFIB_NAMES = {0: "negative", 1: "positive", 2: "inconclusive"}  # Heart v2 `ecg.afib`
# Heart v2 `model` of an ECG recording (reference; ScanWatch's 93 from vangorra/python_withings_api PR #85).
ECG_MODELS = {44: "BPM Core", 91: "Move ECG", 93: "ScanWatch"}
HEART_RATE = Plausible(20, 300, "bpm")


def _object(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise MappingError(f"{what} must be an object, got {type(value).__name__}")
    return value


def _count(value: Any, name: str) -> int | None:
    return integer(value, name, INT32)


def _text(value: Any, name: str) -> str | None:
    """A status word the schema types as an integer and captures send as a string."""
    return text(str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value, name, 32)


# getworkouts `data` field -> (column, reader): every field the reference documents.
WORKOUT_FIELDS = {
    "calories": ("calories_kcal", number),
    "intensity": ("intensity", _count),
    "manual_intensity": ("manual_intensity", _count),
    "manual_distance": ("manual_distance_m", number),
    "manual_calories": ("manual_calories_kcal", number),
    "hr_average": ("hr_average", _count),
    "hr_min": ("hr_min", _count),
    "hr_max": ("hr_max", _count),
    "hr_zone_0": ("hr_zone_0_s", _count),
    "hr_zone_1": ("hr_zone_1_s", _count),
    "hr_zone_2": ("hr_zone_2_s", _count),
    "hr_zone_3": ("hr_zone_3_s", _count),
    "pause_duration": ("pause_duration_s", _count),
    "algo_pause_duration": ("algo_pause_duration_s", _count),
    "spo2_average": ("spo2_average", number),
    "core_body_temperature_avg": ("core_body_temperature_avg", number),
    "core_body_temperature_min": ("core_body_temperature_min", number),
    "core_body_temperature_max": ("core_body_temperature_max", number),
    "core_body_temperature_status": ("core_body_temperature_status", _text),
    "steps": ("steps", _count),
    "distance": ("distance_m", number),
    "elevation": ("elevation_floors", number),
    "pool_laps": ("pool_laps", _count),
    "strokes": ("strokes", _count),
    "pool_length": ("pool_length_m", number),
}
WORKOUT_DATA_FIELDS = tuple(WORKOUT_FIELDS)
# Heart rates of 0 are a phone's "not measured" (stored as sent): only negatives are flagged.
_WORKOUT_BOUNDS = {
    column: NON_NEGATIVE for column, read in WORKOUT_FIELDS.values() if read is not _text and column != "spo2_average"
}


def workout_to_row(record: dict, user_id: int, *, now: datetime) -> dict:
    """A Withings getworkouts workout -> a `withings_workout` row keyed by its `id`."""
    record = check_storable(_object(record, "workout"))
    data = record.get("data") or {}
    if not isinstance(data, dict):
        raise MappingError("data must be an object")
    category = integer(record.get("category"), "category", INT32)
    row = {
        "user_id": integer(user_id, "user_id"),
        "withings_id": integer(require(record, "id"), "id"),
        "category": category,
        "category_name": WORKOUT_CATEGORIES.get(category),
        "start": parse_epoch(require(record, "startdate"), "startdate", now),
        "end": parse_epoch(record.get("enddate"), "enddate", now),
        "date": ymd_date(record.get("date"), "date"),
        "timezone": text(record.get("timezone"), "timezone", 64),
        "model": integer(record.get("model"), "model", INT32),
        "attrib": integer(record.get("attrib"), "attrib", INT32),
        "device_id": text(record.get("deviceid"), "deviceid", 64),
        "modified_at": parse_epoch(record.get("modified"), "modified", now),
        "raw": record,
    }
    row.update({column: read(data.get(field), f"data.{field}") for field, (column, read) in WORKOUT_FIELDS.items()})
    row["flag"] = flag_of(row, _WORKOUT_BOUNDS, order_flag(row["start"], row["end"]))
    return row


def ecg_to_row(record: dict, user_id: int, *, now: datetime) -> dict:
    """A Heart v2 `list` recording, with its `get` body under `signal` when it has one, -> a
    `withings_ecg` row keyed by its `timestamp`. A failed recording has no signal: NULLs."""
    record = _object(record, "ECG recording")
    if record.get("signal_error"):  # Heart v2 `get` refused this recording's signal
        raise MappingError(f"its signal could not be fetched: {str(record['signal_error'])[:200]}")
    body = record.get("signal")
    ecg = _object(record.get("ecg") or {}, "ecg")
    pressure = _object(record.get("bloodpressure") or {}, "bloodpressure")
    afib = integer(ecg.get("afib"), "ecg.afib", INT32)
    row = {
        "user_id": integer(user_id, "user_id"),
        "timestamp": integer(require(record, "timestamp"), "timestamp"),
        "recorded_at": parse_epoch(record["timestamp"], "timestamp", now),
        "modified_at": parse_epoch(record.get("modified"), "modified", now),
        "device_id": text(record.get("deviceid"), "deviceid", 64),
        "model": integer(record.get("model"), "model", INT32),
        "signal_id": integer(ecg.get("signalid"), "ecg.signalid"),
        "afib": afib,
        "afib_name": AFIB_NAMES.get(afib),
        "heart_rate": _count(record.get("heart_rate"), "heart_rate"),
        "systole": _count(pressure.get("systole"), "bloodpressure.systole"),
        "diastole": _count(pressure.get("diastole"), "bloodpressure.diastole"),
        **_signal_columns(body, record),
    }
    # `raw` is the list record and the signal's description; the samples live in `signal` alone.
    described = {k: v for k, v in record.items() if k != "signal"}
    if isinstance(body, dict):
        described["signal"] = {k: v for k, v in body.items() if k != "signal"}
    row["raw"] = check_storable(described)
    row["flag"] = flag_of(row, {"heart_rate": HEART_RATE})
    return row


def _signal_columns(body: Any, record: dict) -> dict:
    if body is None:
        if (record.get("ecg") or {}).get("signalid") is not None:
            raise MappingError("recording with a signalid but no signal fetched")
        empty = ("wear_position", "sampling_frequency", "sample_count", "sample_bytes", "signal")
        return dict.fromkeys(empty)
    body = _object(body, "signal")
    packed = encode_signal(require(body, "signal"), "signal.signal")
    return {
        "wear_position": _count(body.get("wearposition"), "signal.wearposition"),
        "sampling_frequency": _count(body.get("sampling_frequency"), "signal.sampling_frequency"),
        "sample_count": packed.sample_count,
        "sample_bytes": packed.sample_bytes,
        "signal": packed.data,
    }


def device_to_row(record: dict, user_id: int, *, now: datetime) -> dict:
    """A getdevice device -> the `withings_device` row of its `hash_deviceid`, fetched `now`.

    The battery word is stored as sent (`unknown` included); the firmware only partners get."""
    record = check_storable(_object(record, "device"))
    model = record.get("model")
    return {
        "user_id": integer(user_id, "user_id"),
        "device_key": text(record.get("hash_deviceid") or require(record, "deviceid"), "hash_deviceid", 64),
        "type": text(record.get("type"), "type", 64),
        "model": text(str(model) if isinstance(model, int) else model, "model", 100),
        "model_id": integer(record.get("model_id"), "model_id", INT32),
        "battery": text(record.get("battery"), "battery", 16),
        "firmware": text(record.get("fw"), "fw", 64),
        "first_session_at": parse_epoch(record.get("first_session_date"), "first_session_date", now),
        "last_session_at": parse_epoch(record.get("last_session_date"), "last_session_date", now),
        "timezone": text(record.get("timezone"), "timezone", 64),
        "fetched_at": now,
        "raw": record,
        "flag": None,
    }
