"""Pure mappers: one API record -> one row dict for its table. No I/O; MappingError on bad input."""
from __future__ import annotations

import json
import math
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

INT32 = 2**31 - 1
INT64 = 2**63 - 1
SCORED = "SCORED"

# Withings meastype codes (api_facts.md §2.3) -> weight-table column.
WEIGHT_TYPES = {
    1: "weight_kg", 5: "fat_free_mass_kg", 6: "fat_ratio_pct", 8: "fat_mass_kg",
    76: "muscle_mass_kg", 77: "hydration_kg", 88: "bone_mass_kg",
}
# Cardio measures: BP (9, 10), heart pulse (11), pulse wave velocity (91), vascular age (155).
HEART_TYPES = {
    9: "diastolic_mmhg", 10: "systolic_mmhg", 11: "heart_rate_bpm",
    91: "pulse_wave_velocity_m_s", 155: "vascular_age",
}


class MappingError(ValueError):
    """An API record that cannot become a row; the message is the reason."""


# ---- field readers -------------------------------------------------------------------------

def _require(record: dict, key: str) -> Any:
    value = record.get(key)
    if value is None:
        raise MappingError(f"missing {key}")
    return value


def _int(value: Any, name: str, limit: int = INT64) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MappingError(f"{name} must be an integer, got {type(value).__name__}")
    if not -limit - 1 <= value <= limit:
        raise MappingError(f"{name} out of range: {value}")
    return value


def _float(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MappingError(f"{name} must be a number, got {type(value).__name__}")
    result = float(value)
    if not math.isfinite(result) or abs(result) > 1e15:
        raise MappingError(f"{name} out of range: {value}")
    return result


def _bool(value: Any, name: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise MappingError(f"{name} must be true or false, got {type(value).__name__}")
    return value


def _text(value: Any, name: str, max_len: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise MappingError(f"{name} must be a string, got {type(value).__name__}")
    if len(value) > max_len:
        raise MappingError(f"{name} longer than {max_len} characters")
    return value


def _uuid(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise MappingError(f"{name} must be a UUID string, got {type(value).__name__}")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise MappingError(f"{name} is not a UUID") from None


def parse_timestamp(value: Any, name: str) -> datetime | None:
    """ISO-8601 (WHOOP, `Z` or an offset) -> aware UTC datetime."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MappingError(f"{name} must be an ISO-8601 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MappingError(f"{name} is not an ISO-8601 timestamp: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        # WHOOP's migration guide: "Timezone handling standardized to UTC when not specified".
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def parse_epoch(value: Any, name: str) -> datetime | None:
    """Unix seconds (Withings) -> aware UTC datetime; epochs are UTC, never `replace` a tz."""
    seconds = _int(value, name, limit=253402300799)  # up to year 9999
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _check_text_is_storable(record: Any) -> None:
    # PostgreSQL rejects NUL characters and unpaired surrogates (from "\udXXX" escapes) in text
    # and JSONB; one such field must reject its record, not abort the whole batch. One C-speed
    # pass over the serialised record clears almost every record; only a bad one is walked to
    # name the offending field.
    try:
        text = json.dumps(record, ensure_ascii=False)
        if "\x00" not in text:
            text.encode("utf-8")
            return
    except (UnicodeEncodeError, TypeError, ValueError):
        pass  # the walk below names the field
    _find_unstorable_text(record)


def _find_unstorable_text(value: Any, path: str = "record") -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise MappingError(f"{path} contains a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise MappingError(f"{path} is not valid UTF-8 text") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _find_unstorable_text(key, path)
            _find_unstorable_text(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            _find_unstorable_text(item, path)


def _score(record: dict) -> dict:
    """The `score` object, only when SCORED (WHOOP: "Only present if the score state is SCORED")."""
    if record.get("score_state") != SCORED:
        return {}
    score = record.get("score")
    if score is None:
        return {}
    if not isinstance(score, dict):
        raise MappingError("score must be an object")
    return score


def _sub(obj: dict, key: str) -> dict:
    value = obj.get(key) or {}
    if not isinstance(value, dict):
        raise MappingError(f"score.{key} must be an object")
    return value


def _whoop_common(record: Any) -> dict:
    if not isinstance(record, dict):
        raise MappingError(f"record must be an object, got {type(record).__name__}")
    _check_text_is_storable(record)
    return {
        "user_id": _int(_require(record, "user_id"), "user_id"),
        "score_state": _text(_require(record, "score_state"), "score_state", 32),
        "created_at": parse_timestamp(_require(record, "created_at"), "created_at"),
        "updated_at": parse_timestamp(_require(record, "updated_at"), "updated_at"),
        "timezone_offset": _text(record.get("timezone_offset"), "timezone_offset", 8),
        "raw": record,
    }


# ---- WHOOP ---------------------------------------------------------------------------------

def cycle_to_row(record: dict) -> dict:
    """A WHOOP v2 Cycle -> a `cycles` row."""
    row = _whoop_common(record)
    score = _score(record)
    row.update(
        whoop_id=_int(_require(record, "id"), "id"),
        start=parse_timestamp(_require(record, "start"), "start"),
        end=parse_timestamp(record.get("end"), "end"),  # absent while the cycle is ongoing
        strain=_float(score.get("strain"), "strain"),
        kilojoule=_float(score.get("kilojoule"), "kilojoule"),
        average_heart_rate=_int(score.get("average_heart_rate"), "average_heart_rate", INT32),
        max_heart_rate=_int(score.get("max_heart_rate"), "max_heart_rate", INT32),
    )
    return row


SLEEP_STAGE_FIELDS = (
    "total_in_bed_time_milli", "total_awake_time_milli", "total_no_data_time_milli",
    "total_light_sleep_time_milli", "total_slow_wave_sleep_time_milli",
    "total_rem_sleep_time_milli", "sleep_cycle_count", "disturbance_count",
)
SLEEP_NEEDED_FIELDS = (
    "baseline_milli", "need_from_sleep_debt_milli", "need_from_recent_strain_milli",
    "need_from_recent_nap_milli",
)
SLEEP_PERCENT_FIELDS = (
    "respiratory_rate", "sleep_performance_percentage", "sleep_consistency_percentage",
    "sleep_efficiency_percentage",
)


def sleep_to_row(record: dict) -> dict:
    """A WHOOP v2 Sleep (UUID id) -> a `sleep` row."""
    row = _whoop_common(record)
    score = _score(record)
    stages, needed = _sub(score, "stage_summary"), _sub(score, "sleep_needed")
    row.update(
        whoop_id=_uuid(_require(record, "id"), "id"),
        whoop_cycle_id=_int(record.get("cycle_id"), "cycle_id"),
        v1_id=_int(record.get("v1_id"), "v1_id"),
        nap=bool(_bool(record.get("nap"), "nap")),
        start=parse_timestamp(_require(record, "start"), "start"),
        end=parse_timestamp(_require(record, "end"), "end"),
    )
    row.update({f: _float(score.get(f), f) for f in SLEEP_PERCENT_FIELDS})
    row.update({f: _int(stages.get(f), f) for f in SLEEP_STAGE_FIELDS})
    row.update({f: _int(needed.get(f), f) for f in SLEEP_NEEDED_FIELDS})
    return row


RECOVERY_FLOAT_FIELDS = (
    "recovery_score", "resting_heart_rate", "hrv_rmssd_milli", "spo2_percentage", "skin_temp_celsius",
)


def recovery_to_row(record: dict) -> dict:
    """A WHOOP v2 Recovery (no id: keyed by cycle_id, sleep_id unique too) -> a `recovery` row."""
    row = _whoop_common(record)
    score = _score(record)
    row.update(
        whoop_cycle_id=_int(_require(record, "cycle_id"), "cycle_id"),
        whoop_sleep_id=_uuid(_require(record, "sleep_id"), "sleep_id"),
        user_calibrating=_bool(score.get("user_calibrating"), "user_calibrating"),
    )
    row.update({f: _float(score.get(f), f) for f in RECOVERY_FLOAT_FIELDS})
    return row


WORKOUT_FLOAT_FIELDS = (
    "strain", "kilojoule", "percent_recorded", "distance_meter", "altitude_gain_meter",
    "altitude_change_meter",
)
ZONE_FIELDS = (
    "zone_zero_milli", "zone_one_milli", "zone_two_milli", "zone_three_milli",
    "zone_four_milli", "zone_five_milli",
)


def workout_to_row(record: dict) -> dict:
    """A WHOOP v2 WorkoutV2 (UUID id) -> a `workout` row."""
    row = _whoop_common(record)
    score = _score(record)
    zones = _sub(score, "zone_durations")
    row.update(
        whoop_id=_uuid(_require(record, "id"), "id"),
        v1_id=_int(record.get("v1_id"), "v1_id"),
        sport_name=_text(record.get("sport_name"), "sport_name", 100),
        sport_id=_int(record.get("sport_id"), "sport_id", INT32),
        start=parse_timestamp(_require(record, "start"), "start"),
        end=parse_timestamp(_require(record, "end"), "end"),
        average_heart_rate=_int(score.get("average_heart_rate"), "average_heart_rate", INT32),
        max_heart_rate=_int(score.get("max_heart_rate"), "max_heart_rate", INT32),
    )
    row.update({f: _float(score.get(f), f) for f in WORKOUT_FLOAT_FIELDS})
    row.update({f: _int(zones.get(f), f) for f in ZONE_FIELDS})
    return row


# ---- Withings ------------------------------------------------------------------------------

def decode_measure(measure: dict) -> float:
    """Withings value x 10^unit, exact in decimal (65750, -3 -> 65.75) before becoming a float."""
    value = _int(measure.get("value"), "measures.value")
    unit = _int(measure.get("unit"), "measures.unit", limit=30)
    if value is None or unit is None:
        raise MappingError("measure without value or unit")
    return _float(float(Decimal(value).scaleb(unit)), "measures.value")


def _decode_group_measures(group: dict) -> dict[int, float]:
    measures = group.get("measures")
    if not isinstance(measures, list):
        raise MappingError("measures must be a list")
    decoded: dict[int, float] = {}
    for measure in measures:
        if not isinstance(measure, dict):
            raise MappingError("each measure must be an object")
        mtype = _int(measure.get("type"), "measures.type", INT32)
        # Segmental measures repeat a type with a `position`; the whole-body value has none.
        if mtype in decoded or measure.get("position") is not None:
            continue
        decoded[mtype] = decode_measure(measure)
    return decoded


def _withings_common(group: dict, user_id: int, tz: str | None) -> dict:
    device = group.get("deviceid")
    model = group.get("model")
    return {
        "user_id": _int(user_id, "user_id"),
        "grpid": _int(_require(group, "grpid"), "grpid"),
        "measured_at": parse_epoch(_require(group, "date"), "date"),
        "timezone": _text(tz, "timezone", 64),
        "created_at": parse_epoch(group.get("created"), "created"),
        "modified_at": parse_epoch(group.get("modified"), "modified"),
        "attrib": _int(group.get("attrib"), "attrib", INT32),  # 17 is undocumented: kept as is
        "category": _int(group.get("category"), "category", INT32),
        "device_id": _text(device, "deviceid", 64),  # null on manual entries
        "model": _text(str(model) if isinstance(model, (int, str)) else None, "model", 100),
        "raw": group,
    }


def measure_group_to_rows(group: dict, user_id: int, tz: str | None = None) -> tuple[dict | None, dict | None]:
    """A Withings measure group -> (withings_weight row or None, withings_heart_rate row or None).

    A group with body-composition types lands in the weight table, one with BP/pulse types in
    the heart-rate table; a group may land in both (same grpid, one row per table). Unknown
    meastypes are kept only in `raw`.
    """
    if not isinstance(group, dict):
        raise MappingError(f"measure group must be an object, got {type(group).__name__}")
    _check_text_is_storable(group)
    if group.get("category") == 2:
        raise MappingError("category 2 is a user objective, not a measurement")
    values = _decode_group_measures(group)
    common = _withings_common(group, user_id, tz)
    weight = heart = None
    if values.keys() & WEIGHT_TYPES.keys():
        weight = {**common, **{col: values.get(code) for code, col in WEIGHT_TYPES.items()}}
    if values.keys() & HEART_TYPES.keys():
        heart = {**common, **{col: values.get(code) for code, col in HEART_TYPES.items()}}
    return weight, heart


def weight_to_row(group: dict, user_id: int, tz: str | None = None) -> dict | None:
    """The `withings_weight` row of a measure group, or None when it has no body measures."""
    return measure_group_to_rows(group, user_id, tz)[0]


def heart_rate_to_row(group: dict, user_id: int, tz: str | None = None) -> dict | None:
    """The `withings_heart_rate` row of a measure group, or None when it has no cardio measures."""
    return measure_group_to_rows(group, user_id, tz)[1]


# ---- WHOOP body measurement, Withings daily activity and sleep summary ----------------------

def _count(value: Any, name: str) -> int | None:
    """A whole number that may arrive as 1200 or 1200.0 (Withings types vary between fields)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _int(value, name, INT32)


def _object(record: Any, what: str) -> dict:
    if not isinstance(record, dict):
        raise MappingError(f"{what} must be an object, got {type(record).__name__}")
    _check_text_is_storable(record)
    return record


def _local_date(value: Any, name: str):
    if not isinstance(value, str):
        raise MappingError(f"{name} must be a YYYY-MM-DD string")
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise MappingError(f"{name} is not a YYYY-MM-DD date: {value[:20]!r}") from None


def body_measurement_to_row(record: dict, user_id: int, seen_at: datetime) -> dict:
    """WHOOP's current body measurement -> a `whoop_body_measurement` row first and last seen now."""
    record = _object(record, "body measurement")
    height = _float(record.get("height_meter"), "height_meter")
    weight = _float(record.get("weight_kilogram"), "weight_kilogram")
    max_hr = _int(record.get("max_heart_rate"), "max_heart_rate", INT32)
    if height is None and weight is None and max_hr is None:
        raise MappingError("body measurement without height, weight or max heart rate")
    key = "|".join("-" if v is None else f"{v:g}" for v in (
        None if height is None else round(height, 4), None if weight is None else round(weight, 4), max_hr))
    return {"user_id": _int(user_id, "user_id"), "value_key": key, "height_meter": height,
            "weight_kilogram": weight, "max_heart_rate": max_hr, "first_seen_at": seen_at,
            "last_seen_at": seen_at, "raw": record}


# getactivity field -> (column, reader); durations are seconds (docs/API_NOTES.md, Withings "Activity and sleep").
ACTIVITY_FIELDS = {
    "steps": ("steps", _count), "distance": ("distance_m", _float), "elevation": ("elevation_floors", _float),
    "soft": ("soft_s", _count), "moderate": ("moderate_s", _count), "intense": ("intense_s", _count),
    "active": ("active_s", _count), "calories": ("calories_kcal", _float),
    "totalcalories": ("total_calories_kcal", _float), "hr_average": ("hr_average", _count),
    "hr_min": ("hr_min", _count), "hr_max": ("hr_max", _count), "hr_zone_0": ("hr_zone_0_s", _count),
    "hr_zone_1": ("hr_zone_1_s", _count), "hr_zone_2": ("hr_zone_2_s", _count), "hr_zone_3": ("hr_zone_3_s", _count),
}


def activity_to_row(record: dict, user_id: int) -> dict:
    """A Withings getactivity day -> a `withings_activity` row keyed by (user_id, local date)."""
    record = _object(record, "activity")
    model = record.get("model")
    row = {
        "user_id": _int(user_id, "user_id"),
        "date": _local_date(_require(record, "date"), "date"),
        "timezone": _text(record.get("timezone"), "timezone", 64),
        "modified_at": parse_epoch(record.get("modified"), "modified"),
        "device_id": _text(record.get("deviceid") or record.get("hash_deviceid"), "deviceid", 64),
        "model": _text(str(model) if isinstance(model, (int, str)) else None, "model", 100),
        "model_id": _int(record.get("modelid"), "modelid", INT32),
        "brand": _int(record.get("brand"), "brand", INT32),
        "is_tracker": _bool(record.get("is_tracker"), "is_tracker"),
        "raw": record,
    }
    row.update({column: read(record.get(field), field) for field, (column, read) in ACTIVITY_FIELDS.items()})
    return row


# getsummary `data` field -> (column, reader)
SLEEP_SUMMARY_FIELDS = {
    "total_timeinbed": ("total_timeinbed_s", _count), "total_sleep_time": ("total_sleep_time_s", _count),
    "lightsleepduration": ("light_sleep_s", _count), "deepsleepduration": ("deep_sleep_s", _count),
    "remsleepduration": ("rem_sleep_s", _count), "wakeupduration": ("awake_s", _count),
    "wakeupcount": ("wakeup_count", _count), "sleep_efficiency": ("sleep_efficiency", _float),
    "sleep_latency": ("sleep_latency_s", _count), "sleep_score": ("sleep_score", _count),
    "hr_average": ("hr_average", _count), "hr_min": ("hr_min", _count), "hr_max": ("hr_max", _count),
    "rr_average": ("rr_average", _count), "rr_min": ("rr_min", _count), "rr_max": ("rr_max", _count),
    "snoring": ("snoring_s", _count), "snoringepisodecount": ("snoring_episodes", _count),
}


def sleep_summary_to_row(record: dict, user_id: int) -> dict:
    """A Withings Sleep v2 getsummary night -> a `withings_sleep_summary` row keyed by its `id`."""
    record = _object(record, "sleep summary")
    data = record.get("data") or {}
    if not isinstance(data, dict):
        raise MappingError("data must be an object")
    row = {
        "user_id": _int(user_id, "user_id"),
        "withings_id": _int(_require(record, "id"), "id"),
        "start": parse_epoch(_require(record, "startdate"), "startdate"),
        "end": parse_epoch(_require(record, "enddate"), "enddate"),
        "date": _local_date(record["date"], "date") if record.get("date") is not None else None,
        "timezone": _text(record.get("timezone"), "timezone", 64),
        "created_at": parse_epoch(record.get("created"), "created"),
        "modified_at": parse_epoch(record.get("modified"), "modified"),
        "model": _int(record.get("model"), "model", INT32),
        "model_id": _int(record.get("model_id"), "model_id", INT32),
        "device_id": _text(record.get("hash_deviceid"), "hash_deviceid", 64),
        "raw": record,
    }
    row.update({column: read(data.get(field), f"data.{field}") for field, (column, read) in SLEEP_SUMMARY_FIELDS.items()})
    return row
