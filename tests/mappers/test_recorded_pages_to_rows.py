"""Whole-row mapper tests: each recorded page in tests/fixtures/ against every row it must produce."""

from __future__ import annotations

from datetime import datetime, timezone

from mapping import whoop as mappers
from mapping import withings as withings_mapper
from tests.helpers.api import fixture
from tests.helpers.factories import MAPPED_AT as NOW

USER = 20417
SLEEP_IDS = {n: f"3f0c2b8e-6d1a-4c55-9b1e-7a2f4e9d1c0{n}" for n in range(1, 6)}
WORKOUT_IDS = {n: f"8b1d7e40-2c93-4f6a-a5d8-0e9c3b7f2a1{n}" for n in range(1, 5)}
# Records whose int32/int64 fields hold integral floats (64.0): each has a test of its own below.
INTEGRAL_FLOAT_IDS = {1287652, SLEEP_IDS[4], WORKOUT_IDS[2]}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def records(name: str) -> list[dict]:
    return fixture(f"whoop/{name}")["records"]


def by_id(name: str, key, field: str = "id") -> dict:
    return next(r for r in records(name) if r[field] == key)


def accepted(name: str) -> list[dict]:
    return [r for r in records(name) if r.get("id") not in INTEGRAL_FLOAT_IDS]


# ---- cycles ---------------------------------------------------------------------------------


def expected_cycles() -> list[dict]:
    raw = {r["id"]: r for r in records("cycles_page.json")}
    return [
        {
            "user_id": USER,
            "flag": None,
            "score_state": "PENDING_SCORE",
            "created_at": utc("2025-03-12 05:41:20.101"),
            "updated_at": utc("2025-03-12 07:02:45.880"),
            "timezone_offset": "+01:00",
            "raw": raw[1287654],
            "whoop_id": 1287654,
            "start": utc("2025-03-12 05:41:12.350"),
            "end": None,
            "strain": None,
            "kilojoule": None,
            "average_heart_rate": None,
            "max_heart_rate": None,
        },
        {
            "user_id": USER,
            "flag": None,
            "score_state": "SCORED",
            "created_at": utc("2025-03-11 05:58:47.512"),
            "updated_at": utc("2025-03-12 05:44:03.217"),
            "timezone_offset": "+01:00",
            "raw": raw[1287653],
            "whoop_id": 1287653,
            "start": utc("2025-03-11 05:58:40.004"),
            "end": utc("2025-03-12 05:41:12.350"),
            "strain": 11.734109,
            "kilojoule": 9874.253,
            "average_heart_rate": 71,
            "max_heart_rate": 178,
        },
        {
            "user_id": USER,
            "flag": None,
            "score_state": "UNSCORABLE",
            "created_at": utc("2025-03-09 07:03:01"),
            "updated_at": utc("2025-03-10 06:22:30.456"),
            "timezone_offset": "Z",
            "raw": raw[1287651],
            "whoop_id": 1287651,
            "start": utc("2025-03-09 07:02:55"),
            "end": utc("2025-03-10 06:20:03.117"),
            "strain": None,
            "kilojoule": None,
            "average_heart_rate": None,
            "max_heart_rate": None,
        },
    ]


def test_cycles_page_maps_to_these_rows():
    assert [mappers.cycle_to_row(r, now=NOW) for r in accepted("cycles_page.json")] == expected_cycles()


def test_cycle_with_integral_floats_maps_to_ints():
    record = by_id("cycles_page.json", 1287652)
    row = mappers.cycle_to_row(record, now=NOW)
    assert row == {
        "user_id": USER,
        "flag": None,
        "score_state": "SCORED",
        "created_at": utc("2025-03-10 06:20:09.940"),
        "updated_at": utc("2025-03-11 06:01:15.003"),
        "timezone_offset": "+01:00",
        "raw": record,
        "whoop_id": 1287652,
        "start": utc("2025-03-10 06:20:03.117"),
        "end": utc("2025-03-11 05:58:40.004"),
        "strain": 8.021166,
        "kilojoule": 8012.5,
        "average_heart_rate": 64,
        "max_heart_rate": 162,
    }
    assert type(row["average_heart_rate"]) is int and type(row["max_heart_rate"]) is int


# ---- sleep ----------------------------------------------------------------------------------

NO_SLEEP_SCORE = {
    "respiratory_rate": None,
    "sleep_performance_percentage": None,
    "sleep_consistency_percentage": None,
    "sleep_efficiency_percentage": None,
    "total_in_bed_time_milli": None,
    "total_awake_time_milli": None,
    "total_no_data_time_milli": None,
    "total_light_sleep_time_milli": None,
    "total_slow_wave_sleep_time_milli": None,
    "total_rem_sleep_time_milli": None,
    "sleep_cycle_count": None,
    "disturbance_count": None,
    "baseline_milli": None,
    "need_from_sleep_debt_milli": None,
    "need_from_recent_strain_milli": None,
    "need_from_recent_nap_milli": None,
}


def expected_sleep() -> list[dict]:
    raw = {r["id"]: r for r in records("sleep_page.json")}
    return [
        {
            "user_id": USER,
            "flag": None,
            "score_state": "PENDING_SCORE",
            "created_at": utc("2025-03-12 05:40:31.772"),
            "updated_at": utc("2025-03-12 05:40:31.772"),
            "timezone_offset": "+01:00",
            "raw": raw[SLEEP_IDS[1]],
            "whoop_id": SLEEP_IDS[1],
            "whoop_cycle_id": 1287654,
            "v1_id": None,
            "nap": False,
            "start": utc("2025-03-11 22:47:31.220"),
            "end": utc("2025-03-12 05:39:58.410"),
            **NO_SLEEP_SCORE,
        },
        {
            "user_id": USER,
            "flag": None,
            "score_state": "SCORED",
            "created_at": utc("2025-03-11 13:32:09.118"),
            "updated_at": utc("2025-03-11 13:40:52.660"),
            "timezone_offset": "+01:00",
            "raw": raw[SLEEP_IDS[2]],
            "whoop_id": SLEEP_IDS[2],
            "whoop_cycle_id": 1287653,
            "v1_id": None,
            "nap": True,
            "start": utc("2025-03-11 13:05:10"),
            "end": utc("2025-03-11 13:31:44.500"),
            "respiratory_rate": 15.234375,
            "sleep_performance_percentage": None,
            "sleep_consistency_percentage": None,
            "sleep_efficiency_percentage": 86.54751,
            "total_in_bed_time_milli": 1594500,
            "total_awake_time_milli": 214500,
            "total_no_data_time_milli": 0,
            "total_light_sleep_time_milli": 1260000,
            "total_slow_wave_sleep_time_milli": 120000,
            "total_rem_sleep_time_milli": 0,
            "sleep_cycle_count": 0,
            "disturbance_count": 1,
            "baseline_milli": 0,
            "need_from_sleep_debt_milli": 0,
            "need_from_recent_strain_milli": 0,
            "need_from_recent_nap_milli": 0,
        },
        {
            "user_id": USER,
            "flag": None,
            "score_state": "SCORED",
            "created_at": utc("2025-03-11 05:57:02.334"),
            "updated_at": utc("2025-03-11 06:03:48.905"),
            "timezone_offset": "+01:00",
            "raw": raw[SLEEP_IDS[3]],
            "whoop_id": SLEEP_IDS[3],
            "whoop_cycle_id": 1287653,
            "v1_id": 48213377,
            "nap": False,
            "start": utc("2025-03-10 22:31:02.660"),
            "end": utc("2025-03-11 05:56:12.090"),
            "respiratory_rate": 14.941406,
            "sleep_performance_percentage": 91.0,
            "sleep_consistency_percentage": 78.0,
            "sleep_efficiency_percentage": 92.13228,
            "total_in_bed_time_milli": 26709430,
            "total_awake_time_milli": 2101400,
            "total_no_data_time_milli": 0,
            "total_light_sleep_time_milli": 12450020,
            "total_slow_wave_sleep_time_milli": 5520110,
            "total_rem_sleep_time_milli": 6637900,
            "sleep_cycle_count": 5,
            "disturbance_count": 9,
            "baseline_milli": 27648000,
            "need_from_sleep_debt_milli": 1520400,
            "need_from_recent_strain_milli": 300100,
            "need_from_recent_nap_milli": -1594500,
        },
    ]


def test_sleep_page_maps_to_these_rows():
    assert [mappers.sleep_to_row(r, now=NOW) for r in accepted("sleep_page.json")] == expected_sleep()


def test_sleep_with_integral_floats_maps_to_ints():
    record = by_id("sleep_page.json", SLEEP_IDS[4])
    row = mappers.sleep_to_row(record, now=NOW)
    assert row == {
        "user_id": USER,
        "flag": None,
        "score_state": "SCORED",
        "created_at": utc("2025-03-10 06:19:12.001"),
        "updated_at": utc("2025-03-10 06:26:40.512"),
        "timezone_offset": "+01:00",
        "raw": record,
        "whoop_id": SLEEP_IDS[4],
        "whoop_cycle_id": 1287652,
        "v1_id": None,
        "nap": False,
        "start": utc("2025-03-09 23:10:00"),
        "end": utc("2025-03-10 06:18:30"),
        "respiratory_rate": 15.0,
        "sleep_performance_percentage": 84.0,
        "sleep_consistency_percentage": 81.0,
        "sleep_efficiency_percentage": 93.35,
        "total_in_bed_time_milli": 25710000,
        "total_awake_time_milli": 1710000,
        "total_no_data_time_milli": 120000,
        "total_light_sleep_time_milli": 12600000,
        "total_slow_wave_sleep_time_milli": 5400000,
        "total_rem_sleep_time_milli": 5880000,
        "sleep_cycle_count": 4,
        "disturbance_count": 7,
        "baseline_milli": 27648000,
        "need_from_sleep_debt_milli": 0,
        "need_from_recent_strain_milli": 215000,
        "need_from_recent_nap_milli": 0,
    }
    assert type(row["sleep_cycle_count"]) is int and type(row["disturbance_count"]) is int


# ---- recovery -------------------------------------------------------------------------------


def test_recovery_page_maps_to_these_rows():
    raw = records("recovery_full_page.json")
    no_score = {
        "user_calibrating": None,
        "recovery_score": None,
        "resting_heart_rate": None,
        "hrv_rmssd_milli": None,
        "spo2_percentage": None,
        "skin_temp_celsius": None,
    }
    expected = [
        {
            "user_id": USER,
            "flag": None,
            "score_state": "PENDING_SCORE",
            "created_at": utc("2025-03-12 05:41:35.220"),
            "updated_at": utc("2025-03-12 05:41:35.220"),
            "timezone_offset": None,
            "raw": raw[0],
            "whoop_cycle_id": 1287654,
            "whoop_sleep_id": SLEEP_IDS[1],
            **no_score,
        },
        {
            "user_id": USER,
            "flag": None,
            "score_state": "SCORED",
            "created_at": utc("2025-03-11 05:58:58.407"),
            "updated_at": utc("2025-03-11 06:04:02.119"),
            "timezone_offset": None,
            "raw": raw[1],
            "whoop_cycle_id": 1287653,
            "whoop_sleep_id": SLEEP_IDS[3],
            "user_calibrating": False,
            "recovery_score": 71.0,
            "resting_heart_rate": 52.0,
            "hrv_rmssd_milli": 68.41229,
            "spo2_percentage": 96.25,
            "skin_temp_celsius": 33.913334,
        },
        {
            "user_id": USER,
            "flag": None,
            "score_state": "SCORED",
            "created_at": utc("2025-03-10 06:20:15.660"),
            "updated_at": utc("2025-03-10 06:27:01.034"),
            "timezone_offset": None,
            "raw": raw[2],
            "whoop_cycle_id": 1287652,
            "whoop_sleep_id": SLEEP_IDS[4],
            "user_calibrating": True,
            "recovery_score": 38.0,
            "resting_heart_rate": 58.0,
            "hrv_rmssd_milli": 41.906704,
            "spo2_percentage": None,
            "skin_temp_celsius": None,
        },
        {
            "user_id": USER,
            "flag": None,
            "score_state": "UNSCORABLE",
            "created_at": utc("2025-03-09 07:03:11.812"),
            "updated_at": utc("2025-03-09 07:15:44.090"),
            "timezone_offset": None,
            "raw": raw[3],
            "whoop_cycle_id": 1287651,
            "whoop_sleep_id": SLEEP_IDS[5],
            **no_score,
        },
    ]
    assert [mappers.recovery_to_row(r, now=NOW) for r in raw] == expected


# ---- workout --------------------------------------------------------------------------------

NO_WORKOUT_SCORE = {
    "average_heart_rate": None,
    "max_heart_rate": None,
    "strain": None,
    "kilojoule": None,
    "percent_recorded": None,
    "distance_meter": None,
    "altitude_gain_meter": None,
    "altitude_change_meter": None,
    "zone_zero_milli": None,
    "zone_one_milli": None,
    "zone_two_milli": None,
    "zone_three_milli": None,
    "zone_four_milli": None,
    "zone_five_milli": None,
}


def expected_workouts() -> list[dict]:
    raw = {r["id"]: r for r in records("workout_page.json")}
    return [
        {
            "user_id": USER,
            "flag": None,
            "score_state": "PENDING_SCORE",
            "created_at": utc("2025-03-12 07:05:31.006"),
            "updated_at": utc("2025-03-12 07:05:31.006"),
            "timezone_offset": "+01:00",
            "raw": raw[WORKOUT_IDS[4]],
            "whoop_id": WORKOUT_IDS[4],
            "v1_id": None,
            "sport_name": "functional-fitness",
            "sport_id": None,
            "start": utc("2025-03-12 06:30:00"),
            "end": utc("2025-03-12 07:05:00"),
            **NO_WORKOUT_SCORE,
        },
        {
            "user_id": USER,
            "flag": None,
            "score_state": "SCORED",
            "created_at": utc("2025-03-11 17:49:20.318"),
            "updated_at": utc("2025-03-11 17:55:02.771"),
            "timezone_offset": "+01:00",
            "raw": raw[WORKOUT_IDS[3]],
            "whoop_id": WORKOUT_IDS[3],
            "v1_id": None,
            "sport_name": "running",
            "sport_id": None,
            "start": utc("2025-03-11 17:02:10.500"),
            "end": utc("2025-03-11 17:48:55.250"),
            "average_heart_rate": 151,
            "max_heart_rate": 178,
            "strain": 12.418733,
            "kilojoule": 2411.7302,
            "percent_recorded": 100.0,
            "distance_meter": 8012.44,
            "altitude_gain_meter": 41.2,
            "altitude_change_meter": -1.6,
            "zone_zero_milli": 12000,
            "zone_one_milli": 64000,
            "zone_two_milli": 401000,
            "zone_three_milli": 1203000,
            "zone_four_milli": 960000,
            "zone_five_milli": 164750,
        },
        {
            "user_id": USER,
            "flag": None,
            "score_state": "UNSCORABLE",
            "created_at": utc("2025-03-09 18:31:05"),
            "updated_at": utc("2025-03-09 18:40:17.388"),
            "timezone_offset": "+01:00",
            "raw": raw[WORKOUT_IDS[1]],
            "whoop_id": WORKOUT_IDS[1],
            "v1_id": 91827364,
            "sport_name": "yoga",
            "sport_id": 44,
            "start": utc("2025-03-09 17:45:00"),
            "end": utc("2025-03-09 18:30:00"),
            **NO_WORKOUT_SCORE,
        },
    ]


def test_workout_page_maps_to_these_rows():
    assert [mappers.workout_to_row(r, now=NOW) for r in accepted("workout_page.json")] == expected_workouts()


def test_workout_with_integral_floats_maps_to_ints():
    record = by_id("workout_page.json", WORKOUT_IDS[2])
    row = mappers.workout_to_row(record, now=NOW)
    assert row == {
        "user_id": USER,
        "flag": None,
        "score_state": "SCORED",
        "created_at": utc("2025-03-10 17:01:12.455"),
        "updated_at": utc("2025-03-10 17:09:40.020"),
        "timezone_offset": "+01:00",
        "raw": record,
        "whoop_id": WORKOUT_IDS[2],
        "v1_id": None,
        "sport_name": "cycling",
        "sport_id": None,
        "start": utc("2025-03-10 16:00:00"),
        "end": utc("2025-03-10 17:00:00"),
        "average_heart_rate": 139,
        "max_heart_rate": 162,
        "strain": 10.9,
        "kilojoule": 2890.1,
        "percent_recorded": 98.5,
        "distance_meter": None,
        "altitude_gain_meter": None,
        "altitude_change_meter": None,
        "zone_zero_milli": 0,
        "zone_one_milli": 300000,
        "zone_two_milli": 1500000,
        "zone_three_milli": 1200000,
        "zone_four_milli": 600000,
        "zone_five_milli": 0,
    }
    assert type(row["max_heart_rate"]) is int and type(row["zone_zero_milli"]) is int


def test_the_fixture_pages_hold_every_case_they_claim():
    cycles, sleeps = records("cycles_page.json"), records("sleep_page.json")
    assert any("end" not in c and c["score_state"] == "PENDING_SCORE" for c in cycles)
    assert any(s["nap"] for s in sleeps)
    for name in ("cycles_page.json", "sleep_page.json", "recovery_full_page.json", "workout_page.json"):
        page = fixture(f"whoop/{name}")
        assert set(page) == {"records", "next_token"}
        assert {"SCORED", "PENDING_SCORE"} <= {r["score_state"] for r in page["records"]}
    assert all(
        any(r["score_state"] == "UNSCORABLE" for r in records(name))
        for name in ("cycles_page.json", "recovery_full_page.json", "workout_page.json")
    )


# ---- Withings getmeas -------------------------------------------------------------------------


def test_body_scan_whole_body_values_reach_the_weight_row():
    groups = fixture("withings/getmeas_devices_page.json")["body"]["measuregrps"]
    scan = next(g for g in groups if g["grpid"] == 6120031207)
    rows = withings_mapper.measure_group_to_rows(scan, USER, "Europe/Berlin", now=NOW)
    assert "withings_heart_rate" not in rows
    [weight] = rows["withings_weight"]
    expected = {
        "weight_kg": 83.412,
        "fat_free_mass_kg": 65.91,
        "fat_ratio_pct": 20.98,
        "fat_mass_kg": 17.5,
        "muscle_mass_kg": 62.62,
        "hydration_kg": 45.18,
        "bone_mass_kg": 3.29,
    }
    assert {col: weight[col] for col in expected} == expected
