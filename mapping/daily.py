"""Pure mappers of the day-level resources: WHOOP's body measurement, Withings daily activity
and Withings sleep summaries (docs/API_NOTES.md, Withings "Activity and sleep"). MappingError on
what cannot be stored; every field is read by `mapping.fields` (a missing field is NULL) and an
implausible value is stored as sent and named in the row's `flag`.

Withings sends only the `data` fields a request names, so the lists below name every field its
reference documents: those without a column still arrive, in `raw`."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from mapping.fields import (
    INT32,
    NON_NEGATIVE,
    MappingError,
    Plausible,
    boolean,
    check_storable,
    flag_of,
    integer,
    local_date,
    number,
    order_flag,
    parse_epoch,
    require,
    text,
    ymd_date,
)


def _count(value: Any, name: str) -> int | None:
    """A whole number that may arrive as 1200 or 1200.0 (Withings types vary); flagged below 0."""
    return integer(value, name, INT32)


def _amount(value: Any, name: str) -> float | None:
    """A quantity (metres, floors, kcal, an index); flagged below 0."""
    return number(value, name)


def _object(record: Any, what: str) -> dict:
    if not isinstance(record, dict):
        raise MappingError(f"{what} must be an object, got {type(record).__name__}")
    return check_storable(record)


BODY_BOUNDS = {
    "height_meter": Plausible(0.3, 3.0, "m"),
    "weight_kilogram": Plausible(1, 500, "kg"),
    "max_heart_rate": Plausible(20, 300, "bpm"),
}


def body_measurement_to_row(record: dict, user_id: int, *, now: datetime) -> dict:
    """WHOOP's current body measurement -> a `whoop_body_measurement` row first and last seen `now`."""
    record = _object(record, "body measurement")
    height = number(record.get("height_meter"), "height_meter")
    weight = number(record.get("weight_kilogram"), "weight_kilogram")
    max_hr = integer(record.get("max_heart_rate"), "max_heart_rate", INT32)
    if height is None and weight is None and max_hr is None:
        raise MappingError("body measurement without height, weight or max heart rate")
    key = "|".join(
        "-" if v is None else f"{v:g}"
        for v in (None if height is None else round(height, 4), None if weight is None else round(weight, 4), max_hr)
    )
    row = {
        "user_id": integer(user_id, "user_id"),
        "value_key": key,
        "height_meter": height,
        "weight_kilogram": weight,
        "max_heart_rate": max_hr,
        "first_seen_at": now,
        "last_seen_at": now,
        "raw": record,
    }
    row["flag"] = flag_of(row, BODY_BOUNDS)
    return row


# getactivity field -> (column, reader): every `data_fields` entry Measure v2 - Getactivity
# documents; durations are seconds (docs/API_NOTES.md, Withings "Activity and sleep").
ACTIVITY_FIELDS = {
    "steps": ("steps", _count),
    "distance": ("distance_m", _amount),
    "elevation": ("elevation_floors", _amount),
    "soft": ("soft_s", _count),
    "moderate": ("moderate_s", _count),
    "intense": ("intense_s", _count),
    "active": ("active_s", _count),
    "calories": ("calories_kcal", _amount),
    "totalcalories": ("total_calories_kcal", _amount),
    "hr_average": ("hr_average", _count),
    "hr_min": ("hr_min", _count),
    "hr_max": ("hr_max", _count),
    "hr_zone_0": ("hr_zone_0_s", _count),
    "hr_zone_1": ("hr_zone_1_s", _count),
    "hr_zone_2": ("hr_zone_2_s", _count),
    "hr_zone_3": ("hr_zone_3_s", _count),
}


def activity_to_row(record: dict, user_id: int, *, now: datetime) -> dict:
    """A Withings getactivity day -> a `withings_activity` row keyed by (user_id, local date)."""
    record = _object(record, "activity")
    model = record.get("model")
    row = {
        "user_id": integer(user_id, "user_id"),
        "date": ymd_date(require(record, "date"), "date"),
        "timezone": text(record.get("timezone"), "timezone", 64),
        "modified_at": parse_epoch(record.get("modified"), "modified", now),
        "device_id": text(record.get("deviceid") or record.get("hash_deviceid"), "deviceid", 64),
        "model": text(str(model) if isinstance(model, (int, str)) else None, "model", 100),
        "model_id": integer(record.get("modelid"), "modelid", INT32),
        "brand": integer(record.get("brand"), "brand", INT32),
        "is_tracker": boolean(record.get("is_tracker"), "is_tracker"),
        "raw": record,
    }
    row.update({column: read(record.get(field), field) for field, (column, read) in ACTIVITY_FIELDS.items()})
    row["flag"] = flag_of(row, {column: NON_NEGATIVE for column, _read in ACTIVITY_FIELDS.values()})
    return row


# getsummary `data` field -> (column, reader), for the documented fields worth a column.
SLEEP_SUMMARY_FIELDS = {
    "total_timeinbed": ("total_timeinbed_s", _count),
    "total_sleep_time": ("total_sleep_time_s", _count),
    "lightsleepduration": ("light_sleep_s", _count),
    "deepsleepduration": ("deep_sleep_s", _count),
    "remsleepduration": ("rem_sleep_s", _count),
    "wakeupduration": ("awake_s", _count),
    "wakeupcount": ("wakeup_count", _count),
    "sleep_efficiency": ("sleep_efficiency", _amount),
    "sleep_latency": ("sleep_latency_s", _count),
    "sleep_score": ("sleep_score", _count),
    "hr_average": ("hr_average", _count),
    "hr_min": ("hr_min", _count),
    "hr_max": ("hr_max", _count),
    "rr_average": ("rr_average", _count),
    "rr_min": ("rr_min", _count),
    "rr_max": ("rr_max", _count),
    "snoring": ("snoring_s", _count),
    "snoringepisodecount": ("snoring_episodes", _count),
    "asleepduration": ("asleep_s", _count),
    "wakeup_latency": ("wakeup_latency_s", _count),
    "waso": ("waso_s", _count),
    "nb_rem_episodes": ("rem_episodes", _count),
    "out_of_bed_count": ("out_of_bed_count", _count),
    "breathing_disturbances_intensity": ("breathing_disturbances_intensity", _amount),
    "apnea_hypopnea_index": ("apnea_hypopnea_index", _amount),
}
# The other documented getsummary fields: requested, kept in `raw` (docs/API_NOTES.md says why).
SLEEP_SUMMARY_RAW_FIELDS = (
    "durationtosleep",
    "durationtowakeup",
    "night_events",
    "withings_index",
    "breathing_quality_assessment",
    "mvt_score_avg",
    "mvt_active_duration",
    "rmssd_start_avg",
    "rmssd_end_avg",
    "chest_movement_rate_wellness_average",
    "chest_movement_rate_wellness_min",
    "chest_movement_rate_wellness_max",
    "breathing_sounds",
    "breathing_sounds_episode_count",
    "chest_movement_rate_average",
    "chest_movement_rate_min",
    "chest_movement_rate_max",
    "core_body_temperature_min",
    "core_body_temperature_max",
    "core_body_temperature_avg",
    "core_body_temperature_status",
)
ACTIVITY_DATA_FIELDS = tuple(ACTIVITY_FIELDS)
SLEEP_DATA_FIELDS = (*SLEEP_SUMMARY_FIELDS, *SLEEP_SUMMARY_RAW_FIELDS)


def sleep_summary_to_row(record: dict, user_id: int, *, now: datetime) -> dict:
    """A Withings Sleep v2 getsummary night -> a `withings_sleep_summary` row keyed by its `id`."""
    record = _object(record, "sleep summary")
    data = record.get("data") or {}
    if not isinstance(data, dict):
        raise MappingError("data must be an object")
    row = {
        "user_id": integer(user_id, "user_id"),
        "withings_id": integer(require(record, "id"), "id"),
        "start": parse_epoch(require(record, "startdate"), "startdate", now),
        "end": parse_epoch(require(record, "enddate"), "enddate", now),
        "date": ymd_date(record.get("date"), "date"),
        "timezone": text(record.get("timezone"), "timezone", 64),
        "created_at": parse_epoch(record.get("created"), "created", now),
        "modified_at": parse_epoch(record.get("modified"), "modified", now),
        "model": integer(record.get("model"), "model", INT32),
        "model_id": integer(record.get("model_id"), "model_id", INT32),
        "device_id": text(record.get("hash_deviceid"), "hash_deviceid", 64),
        "raw": record,
    }
    row["local_date"] = local_date(row["end"], row["timezone"])
    row.update(
        {column: read(data.get(field), f"data.{field}") for field, (column, read) in SLEEP_SUMMARY_FIELDS.items()}
    )
    row["flag"] = flag_of(
        row,
        {column: NON_NEGATIVE for column, _read in SLEEP_SUMMARY_FIELDS.values()},
        order_flag(row["start"], row["end"]),
    )
    return row


def profile_to_row(record: dict, user_id: int, *, now: datetime) -> dict:
    """WHOOP's basic profile -> a `whoop_profile` row (the name) first and last seen `now`.

    The email address is left out of the row and of `raw`: nothing here needs it, and a copy of
    the database (a backup, an export) should not carry it."""
    record = _object(record, "profile")
    first = text(record.get("first_name"), "first_name", 200)
    last = text(record.get("last_name"), "last_name", 200)
    if first is None and last is None:
        raise MappingError("profile without a first or last name")
    kept = {k: v for k, v in record.items() if k != "email"}
    return {
        "user_id": integer(user_id, "user_id"),
        # The natural key of a name: its hash, so that a long name still fits the key column.
        "value_key": hashlib.sha256(json.dumps([first, last]).encode()).hexdigest(),
        "first_name": first,
        "last_name": last,
        "first_seen_at": now,
        "last_seen_at": now,
        "raw": check_storable(kept),
        "flag": None,
    }
