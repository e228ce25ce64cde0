"""API-shaped WHOOP v2 and Withings records for tests (field names and types per the spec)."""

from __future__ import annotations

import copy
import uuid
from datetime import datetime, timedelta, timezone

USER_ID = 10129
BASE = datetime(2025, 3, 1, 6, 0, tzinfo=timezone.utc)
# The instant a test hands the mappers (`now=`): their dates are checked against it, and it lies
# after every date the factories and the recorded fixtures hold.
MAPPED_AT = datetime(2026, 6, 1, tzinfo=timezone.utc)


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sleep_uuid(n: int) -> str:
    return str(uuid.UUID(int=0x5EE9 << 96 | n))


def workout_uuid(n: int) -> str:
    return str(uuid.UUID(int=0x3040 << 96 | n))


def cycle(n: int, *, state: str = "SCORED", strain: float = 12.5, updated: datetime | None = None) -> dict:
    start = BASE + timedelta(days=n)
    rec = {
        "id": 93845 + n,
        "user_id": USER_ID,
        "created_at": iso(start + timedelta(hours=1)),
        "updated_at": iso(updated or start + timedelta(hours=3)),
        "start": iso(start),
        "end": iso(start + timedelta(days=1)),
        "timezone_offset": "-05:00",
        "score_state": state,
    }
    if state == "SCORED":
        rec["score"] = {"strain": strain, "kilojoule": 8288.297, "average_heart_rate": 68, "max_heart_rate": 141}
    return rec


def sleep(n: int, *, state: str = "SCORED", nap: bool = False) -> dict:
    start = BASE + timedelta(days=n, hours=-8)
    rec = {
        "id": sleep_uuid(n),
        "cycle_id": 93845 + n,
        "v1_id": None,
        "user_id": USER_ID,
        "created_at": iso(start + timedelta(hours=9)),
        "updated_at": iso(start + timedelta(hours=10)),
        "start": iso(start),
        "end": iso(start + timedelta(hours=8)),
        "timezone_offset": "-05:00",
        "nap": nap,
        "score_state": state,
    }
    if state == "SCORED":
        rec["score"] = {
            "stage_summary": {
                "total_in_bed_time_milli": 30272735,
                "total_awake_time_milli": 1403507,
                "total_no_data_time_milli": 0,
                "total_light_sleep_time_milli": 14905851,
                "total_slow_wave_sleep_time_milli": 6630370,
                "total_rem_sleep_time_milli": 5879573,
                "sleep_cycle_count": 3,
                "disturbance_count": 12,
            },
            "sleep_needed": {
                "baseline_milli": 27395716,
                "need_from_sleep_debt_milli": 352230,
                "need_from_recent_strain_milli": 208595,
                "need_from_recent_nap_milli": -12312,
            },
            "respiratory_rate": 16.11328125,
            "sleep_performance_percentage": 98.0,
            "sleep_consistency_percentage": 90.0,
            "sleep_efficiency_percentage": 91.69533848,
        }
    return rec


def recovery(n: int, *, state: str = "SCORED", score: float = 44.0, updated: datetime | None = None) -> dict:
    start = BASE + timedelta(days=n)
    rec = {
        "cycle_id": 93845 + n,
        "sleep_id": sleep_uuid(n),
        "user_id": USER_ID,
        "created_at": iso(start + timedelta(hours=1)),
        "updated_at": iso(updated or start + timedelta(hours=2)),
        "score_state": state,
    }
    if state == "SCORED":
        rec["score"] = {
            "user_calibrating": False,
            "recovery_score": score,
            "resting_heart_rate": 64.0,
            "hrv_rmssd_milli": 31.813562,
            "spo2_percentage": 95.6875,
            "skin_temp_celsius": 33.7,
        }
    return rec


def workout(n: int, *, state: str = "SCORED", sport: str = "running") -> dict:
    start = BASE + timedelta(days=n, hours=10)
    rec = {
        "id": workout_uuid(n),
        "v1_id": None,
        "user_id": USER_ID,
        "created_at": iso(start + timedelta(hours=2)),
        "updated_at": iso(start + timedelta(hours=3)),
        "start": iso(start),
        "end": iso(start + timedelta(hours=1)),
        "timezone_offset": "-05:00",
        "sport_name": sport,
        "score_state": state,
    }
    if state == "SCORED":
        rec["score"] = {
            "strain": 8.2463,
            "average_heart_rate": 123,
            "max_heart_rate": 146,
            "kilojoule": 1569.34033203125,
            "percent_recorded": 100.0,
            "distance_meter": 1772.77035916,
            "altitude_gain_meter": 46.64384460449,
            "altitude_change_meter": -0.781372010707855,
            "zone_durations": {
                "zone_zero_milli": 300000,
                "zone_one_milli": 600000,
                "zone_two_milli": 900000,
                "zone_three_milli": 900000,
                "zone_four_milli": 600000,
                "zone_five_milli": 300000,
            },
        }
    return rec


def weight_group(grpid: int, *, grams: int = 80500, day: int = 0, modified_shift: int = 0) -> dict:
    date = int((BASE + timedelta(days=day)).timestamp())
    return {
        "grpid": grpid,
        "attrib": 0,
        "date": date,
        "created": date + 60,
        "modified": date + 60 + modified_shift,
        "category": 1,
        "deviceid": "51e8d0e7d16da9ff673accf10958ca94fea55d6e",
        "hash_deviceid": "51e8d0e7d16da9ff673accf10958ca94fea55d6e",
        "measures": [
            {"value": grams, "type": 1, "unit": -3, "algo": 0, "fm": 3},
            {"value": 2100, "type": 6, "unit": -2, "algo": 0, "fm": 3},
        ],
        "modelid": 10,
        "model": "Body Scan",
        "comment": None,
    }


def bp_group(grpid: int, *, day: int = 0) -> dict:
    date = int((BASE + timedelta(days=day, hours=1)).timestamp())
    return {
        "grpid": grpid,
        "attrib": 0,
        "date": date,
        "created": date + 30,
        "modified": date + 30,
        "category": 1,
        "deviceid": None,
        "hash_deviceid": None,
        "measures": [
            {"value": 8000, "type": 9, "unit": -2},
            {"value": 12100, "type": 10, "unit": -2},
            {"value": 6400, "type": 11, "unit": -2},
        ],
        "modelid": 44,
        "model": "BPM Connect",
        "comment": None,
    }


def clone(record: dict) -> dict:
    return copy.deepcopy(record)
