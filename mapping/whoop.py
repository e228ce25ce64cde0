"""Pure WHOOP mappers: one API record -> one row dict for its table. MappingError on bad input.

Every field is read by `mapping_fields` (integral floats accepted in integer fields, bounds
checked); a missing optional field is NULL, never a default.
"""
from __future__ import annotations

from typing import Any

from mapping.fields import (INT32, MAX_DURATION_MILLI, MappingError, boolean, check_order, check_storable,
                            integer, number, parse_timestamp, require, text, uuid_text)

__all__ = ["MappingError", "cycle_to_row", "sleep_to_row", "recovery_to_row", "workout_to_row"]

SCORED = "SCORED"
HEART_RATE = (20, 300)  # beats per minute a living wearer can show
PERCENT = (0.0, 100.0)


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
    return integer(score.get(name), name, INT32, *HEART_RATE)


def _duration(obj: dict, name: str, signed: bool = False) -> int | None:
    return integer(obj.get(name), name, low=-MAX_DURATION_MILLI if signed else 0, high=MAX_DURATION_MILLI)


def _whoop_common(record: Any) -> dict:
    if not isinstance(record, dict):
        raise MappingError(f"record must be an object, got {type(record).__name__}")
    check_storable(record)
    return {
        "user_id": integer(require(record, "user_id"), "user_id"),
        "score_state": text(require(record, "score_state"), "score_state", 32),
        "created_at": parse_timestamp(require(record, "created_at"), "created_at"),
        "updated_at": parse_timestamp(require(record, "updated_at"), "updated_at"),
        "timezone_offset": text(record.get("timezone_offset"), "timezone_offset", 8),
        "raw": record,
    }


def _span(record: dict, end_required: bool) -> dict:
    start = parse_timestamp(require(record, "start"), "start")
    end = parse_timestamp(require(record, "end") if end_required else record.get("end"), "end")
    check_order(start, end)
    return {"start": start, "end": end}


def cycle_to_row(record: dict) -> dict:
    """A WHOOP v2 Cycle -> a `cycles` row."""
    row = _whoop_common(record)
    score = _score(record)
    row.update(_span(record, end_required=False))  # no `end` while the cycle is ongoing
    row.update(
        whoop_id=integer(require(record, "id"), "id"),
        strain=number(score.get("strain"), "strain", 0.0, 21.0),
        kilojoule=number(score.get("kilojoule"), "kilojoule", 0.0),
        average_heart_rate=_heart_rate(score, "average_heart_rate"),
        max_heart_rate=_heart_rate(score, "max_heart_rate"),
    )
    return row


SLEEP_STAGE_FIELDS = (
    "total_in_bed_time_milli", "total_awake_time_milli", "total_no_data_time_milli",
    "total_light_sleep_time_milli", "total_slow_wave_sleep_time_milli", "total_rem_sleep_time_milli",
)
SLEEP_COUNT_FIELDS = ("sleep_cycle_count", "disturbance_count")
# Sleep need: a baseline plus adjustments; a recent nap lowers the need, so that one may be negative.
SLEEP_NEEDED_FIELDS = ("baseline_milli", "need_from_sleep_debt_milli", "need_from_recent_strain_milli")
SLEEP_SIGNED_FIELDS = ("need_from_recent_nap_milli",)
SLEEP_PERCENT_FIELDS = ("sleep_performance_percentage", "sleep_consistency_percentage",
                        "sleep_efficiency_percentage")


def sleep_to_row(record: dict) -> dict:
    """A WHOOP v2 Sleep (UUID id) -> a `sleep` row; a missing `nap` is NULL (unknown)."""
    row = _whoop_common(record)
    score = _score(record)
    stages, needed = _sub(score, "stage_summary"), _sub(score, "sleep_needed")
    row.update(_span(record, end_required=True))
    row.update(
        whoop_id=uuid_text(require(record, "id"), "id"),
        whoop_cycle_id=integer(record.get("cycle_id"), "cycle_id"),
        v1_id=integer(record.get("v1_id"), "v1_id"),
        nap=boolean(record.get("nap"), "nap"),
        respiratory_rate=number(score.get("respiratory_rate"), "respiratory_rate", 0.0, 100.0),
    )
    row.update({f: number(score.get(f), f, *PERCENT) for f in SLEEP_PERCENT_FIELDS})
    row.update({f: _duration(stages, f) for f in SLEEP_STAGE_FIELDS})
    row.update({f: integer(stages.get(f), f, INT32, low=0) for f in SLEEP_COUNT_FIELDS})
    row.update({f: _duration(needed, f) for f in SLEEP_NEEDED_FIELDS})
    row.update({f: _duration(needed, f, signed=True) for f in SLEEP_SIGNED_FIELDS})
    return row


def recovery_to_row(record: dict) -> dict:
    """A WHOOP v2 Recovery (no id: keyed by cycle_id, sleep_id unique too) -> a `recovery` row."""
    row = _whoop_common(record)
    score = _score(record)
    row.update(
        whoop_cycle_id=integer(require(record, "cycle_id"), "cycle_id"),
        whoop_sleep_id=uuid_text(require(record, "sleep_id"), "sleep_id"),
        user_calibrating=boolean(score.get("user_calibrating"), "user_calibrating"),
        recovery_score=number(score.get("recovery_score"), "recovery_score", *PERCENT),
        resting_heart_rate=number(score.get("resting_heart_rate"), "resting_heart_rate", *HEART_RATE),
        hrv_rmssd_milli=number(score.get("hrv_rmssd_milli"), "hrv_rmssd_milli", 0.0, 1000.0),
        spo2_percentage=number(score.get("spo2_percentage"), "spo2_percentage", *PERCENT),
        skin_temp_celsius=number(score.get("skin_temp_celsius"), "skin_temp_celsius", 0.0, 50.0),
    )
    return row


ZONE_FIELDS = (
    "zone_zero_milli", "zone_one_milli", "zone_two_milli", "zone_three_milli",
    "zone_four_milli", "zone_five_milli",
)
DISTANCE_LIMIT_METER = 1_000_000.0


def workout_to_row(record: dict) -> dict:
    """A WHOOP v2 WorkoutV2 (UUID id) -> a `workout` row."""
    row = _whoop_common(record)
    score = _score(record)
    zones = _sub(score, "zone_durations")
    row.update(_span(record, end_required=True))
    row.update(
        whoop_id=uuid_text(require(record, "id"), "id"),
        v1_id=integer(record.get("v1_id"), "v1_id"),
        sport_name=text(record.get("sport_name"), "sport_name", 100),
        sport_id=integer(record.get("sport_id"), "sport_id", INT32),
        average_heart_rate=_heart_rate(score, "average_heart_rate"),
        max_heart_rate=_heart_rate(score, "max_heart_rate"),
        strain=number(score.get("strain"), "strain", 0.0, 21.0),
        kilojoule=number(score.get("kilojoule"), "kilojoule", 0.0),
        percent_recorded=number(score.get("percent_recorded"), "percent_recorded", *PERCENT),
        distance_meter=number(score.get("distance_meter"), "distance_meter", 0.0, DISTANCE_LIMIT_METER),
        altitude_gain_meter=number(score.get("altitude_gain_meter"), "altitude_gain_meter", 0.0, 20_000.0),
        altitude_change_meter=number(score.get("altitude_change_meter"), "altitude_change_meter",
                                     -20_000.0, 20_000.0),
    )
    row.update({f: _duration(zones, f) for f in ZONE_FIELDS})
    return row
