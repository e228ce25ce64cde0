"""Pure WHOOP mappers: one API record -> one row dict for its table. MappingError on bad input.

Every field is read by `mapping.fields` (integral floats accepted in integer fields); a missing
optional field is NULL, never a default. A value outside its plausible range is stored as sent
and named in the row's `flag` (each table's ranges are declared once, below).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mapping.fields import (
    INT32,
    MAX_DURATION_MILLI,
    NON_NEGATIVE,
    MappingError,
    Plausible,
    boolean,
    check_storable,
    flag_of,
    integer,
    number,
    order_flag,
    parse_timestamp,
    require,
    text,
    uuid_text,
)

__all__ = ["MappingError", "cycle_to_row", "sleep_to_row", "recovery_to_row", "workout_to_row"]

SCORED = "SCORED"
HEART_RATE = Plausible(20, 300, "bpm")  # beats per minute a living wearer can show
PERCENT = Plausible(0, 100, "%")
STRAIN = Plausible(0, 21)
DURATION = Plausible(0, MAX_DURATION_MILLI, "ms")
SIGNED_DURATION = Plausible(-MAX_DURATION_MILLI, MAX_DURATION_MILLI, "ms")


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


def _heart_rate(score: dict, name: str) -> int | None:
    return integer(score.get(name), name, INT32)


def _numbers(score: dict, *names: str) -> dict[str, float | None]:
    """The score's number fields, each in the column of the same name."""
    return {name: number(score.get(name), name) for name in names}


def _whoop_common(record: Any, now: datetime) -> dict:
    if not isinstance(record, dict):
        raise MappingError(f"record must be an object, got {type(record).__name__}")
    raw = check_storable(record)
    return {
        "user_id": integer(require(record, "user_id"), "user_id"),
        "score_state": text(require(record, "score_state"), "score_state", 32),
        "created_at": parse_timestamp(require(record, "created_at"), "created_at", now),
        "updated_at": parse_timestamp(require(record, "updated_at"), "updated_at", now),
        "timezone_offset": text(record.get("timezone_offset"), "timezone_offset", 8),
        "raw": raw,
    }


def _span(record: dict, end_required: bool, now: datetime) -> dict:
    start = parse_timestamp(require(record, "start"), "start", now)
    end = parse_timestamp(require(record, "end") if end_required else record.get("end"), "end", now)
    return {"start": start, "end": end}


def _flagged(row: dict, bounds: dict[str, Plausible]) -> dict:
    """`row` with its `flag`: the implausible values it holds, and an end before its start."""
    row["flag"] = flag_of(row, bounds, order_flag(row.get("start"), row.get("end")))
    return row


CYCLE_BOUNDS = {
    "strain": STRAIN,
    "kilojoule": Plausible(0, unit="kJ"),
    "average_heart_rate": HEART_RATE,
    "max_heart_rate": HEART_RATE,
}


def cycle_to_row(record: dict, *, now: datetime) -> dict:
    """A WHOOP v2 Cycle -> a `cycles` row."""
    row = _whoop_common(record, now)
    score = _score(record)
    row.update(_span(record, end_required=False, now=now))  # no `end` while the cycle is ongoing
    row.update(
        whoop_id=integer(require(record, "id"), "id"),
        average_heart_rate=_heart_rate(score, "average_heart_rate"),
        max_heart_rate=_heart_rate(score, "max_heart_rate"),
    )
    row.update(_numbers(score, "strain", "kilojoule"))
    return _flagged(row, CYCLE_BOUNDS)


SLEEP_STAGE_FIELDS = (
    "total_in_bed_time_milli",
    "total_awake_time_milli",
    "total_no_data_time_milli",
    "total_light_sleep_time_milli",
    "total_slow_wave_sleep_time_milli",
    "total_rem_sleep_time_milli",
)
SLEEP_COUNT_FIELDS = ("sleep_cycle_count", "disturbance_count")
# Sleep need: a baseline plus adjustments; a recent nap lowers the need, so that one may be negative.
SLEEP_NEEDED_FIELDS = ("baseline_milli", "need_from_sleep_debt_milli", "need_from_recent_strain_milli")
SLEEP_SIGNED_FIELDS = ("need_from_recent_nap_milli",)
SLEEP_PERCENT_FIELDS = ("sleep_performance_percentage", "sleep_consistency_percentage", "sleep_efficiency_percentage")
SLEEP_BOUNDS = {
    "respiratory_rate": Plausible(0, 100, "breaths/min"),
    **{f: PERCENT for f in SLEEP_PERCENT_FIELDS},
    **{f: DURATION for f in SLEEP_STAGE_FIELDS + SLEEP_NEEDED_FIELDS},
    **{f: NON_NEGATIVE for f in SLEEP_COUNT_FIELDS},
    **{f: SIGNED_DURATION for f in SLEEP_SIGNED_FIELDS},
}


def sleep_to_row(record: dict, *, now: datetime) -> dict:
    """A WHOOP v2 Sleep (UUID id) -> a `sleep` row; a missing `nap` is NULL (unknown)."""
    row = _whoop_common(record, now)
    score = _score(record)
    stages, needed = _sub(score, "stage_summary"), _sub(score, "sleep_needed")
    row.update(_span(record, end_required=True, now=now))
    row.update(
        whoop_id=uuid_text(require(record, "id"), "id"),
        whoop_cycle_id=integer(record.get("cycle_id"), "cycle_id"),
        v1_id=integer(record.get("v1_id"), "v1_id"),
        nap=boolean(record.get("nap"), "nap"),
        respiratory_rate=number(score.get("respiratory_rate"), "respiratory_rate"),
    )
    row.update(_numbers(score, *SLEEP_PERCENT_FIELDS))
    row.update({f: integer(stages.get(f), f) for f in SLEEP_STAGE_FIELDS})
    row.update({f: integer(stages.get(f), f, INT32) for f in SLEEP_COUNT_FIELDS})
    row.update({f: integer(needed.get(f), f) for f in SLEEP_NEEDED_FIELDS + SLEEP_SIGNED_FIELDS})
    return _flagged(row, SLEEP_BOUNDS)


RECOVERY_BOUNDS = {
    "recovery_score": PERCENT,
    "resting_heart_rate": HEART_RATE,
    "hrv_rmssd_milli": Plausible(0, 1000, "ms"),
    "spo2_percentage": PERCENT,
    "skin_temp_celsius": Plausible(0, 50, "°C"),
}


def recovery_to_row(record: dict, *, now: datetime) -> dict:
    """A WHOOP v2 Recovery (no id: keyed by cycle_id, sleep_id unique too) -> a `recovery` row."""
    row = _whoop_common(record, now)
    score = _score(record)
    row.update(
        whoop_cycle_id=integer(require(record, "cycle_id"), "cycle_id"),
        whoop_sleep_id=uuid_text(require(record, "sleep_id"), "sleep_id"),
        user_calibrating=boolean(score.get("user_calibrating"), "user_calibrating"),
    )
    row.update(_numbers(score, *RECOVERY_BOUNDS))
    return _flagged(row, RECOVERY_BOUNDS)


ZONE_FIELDS = (
    "zone_zero_milli",
    "zone_one_milli",
    "zone_two_milli",
    "zone_three_milli",
    "zone_four_milli",
    "zone_five_milli",
)
DISTANCE_LIMIT_METER = 1_000_000.0
ALTITUDE = Plausible(-20_000, 20_000, "m")
WORKOUT_BOUNDS = {
    **CYCLE_BOUNDS,
    "percent_recorded": PERCENT,
    "distance_meter": Plausible(0, DISTANCE_LIMIT_METER, "m"),
    "altitude_gain_meter": Plausible(0, ALTITUDE.high, "m"),
    "altitude_change_meter": ALTITUDE,
    **{f: DURATION for f in ZONE_FIELDS},
}


def workout_to_row(record: dict, *, now: datetime) -> dict:
    """A WHOOP v2 WorkoutV2 (UUID id) -> a `workout` row."""
    row = _whoop_common(record, now)
    score = _score(record)
    zones = _sub(score, "zone_durations")
    row.update(_span(record, end_required=True, now=now))
    row.update(
        whoop_id=uuid_text(require(record, "id"), "id"),
        v1_id=integer(record.get("v1_id"), "v1_id"),
        sport_name=text(record.get("sport_name"), "sport_name", 100),
        sport_id=integer(record.get("sport_id"), "sport_id", INT32),
        average_heart_rate=_heart_rate(score, "average_heart_rate"),
        max_heart_rate=_heart_rate(score, "max_heart_rate"),
    )
    row.update(
        _numbers(
            score,
            "strain",
            "kilojoule",
            "percent_recorded",
            "distance_meter",
            "altitude_gain_meter",
            "altitude_change_meter",
        )
    )
    row.update({f: integer(zones.get(f), f) for f in ZONE_FIELDS})
    return _flagged(row, WORKOUT_BOUNDS)
