"""Generate one day of WHOOP v2 records (cycle, sleeps, recovery, workouts) with the spec's field names."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from .person import WHOOP_4_SINCE, Person, day_rng
from .timeutil import iso_ms, offset_string, with_ms

ID_EPOCH = date(2015, 1, 1)
# Sleep and workout records created before the v2 launch keep their legacy `v1_id` (and workouts
# `sport_id`); the spec says those fields "will not exist past 09/01/2025". Which old records still
# carry them is UNCONFIRMED; this split just exercises both shapes.
V2_LAUNCH = date(2025, 7, 1)
CALIBRATION_DAYS = 4

# (sport_name, sport_id, weight, minutes, metres per minute or None, altitude?, intensity 0..1).
# Lower-case names as in the spec's example ("running"); WHOOP v2 lists recovery activities such
# as sauna among workouts. The exact spelling of multi-word names is UNCONFIRMED.
SPORTS = (
    ("running", 0, 30, (25, 75), 180.0, True, 0.8),
    ("cycling", 1, 16, (40, 150), 450.0, True, 0.65),
    ("weightlifting", 45, 22, (35, 80), None, False, 0.45),
    ("functional-fitness", 48, 8, (30, 60), None, False, 0.7),
    ("yoga", 44, 7, (30, 75), None, False, 0.2),
    ("walking", 63, 10, (30, 90), 85.0, True, 0.15),
    ("swimming", 33, 4, (30, 60), 40.0, False, 0.6),
    ("sauna", 233, 3, (15, 30), None, False, 0.1),
)


@dataclass
class WhoopDay:
    """All WHOOP records of one day; the cycle stays open until the next day exists."""

    day: date
    zone: str
    cycle: dict
    sleeps: list[dict]
    recovery: dict
    workouts: list[dict] = field(default_factory=list)


def _uuid(rng) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _day_number(day: date) -> int:
    return day.toordinal() - ID_EPOCH.toordinal()


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _stamps(rng, end: datetime, upload_minutes: tuple[int, int]) -> tuple[str, str]:
    """(created_at, updated_at): uploaded a little after the activity ends, scored minutes later."""
    created = with_ms(end + timedelta(minutes=rng.uniform(*upload_minutes)), rng)
    updated = with_ms(created + timedelta(minutes=rng.uniform(1, 12)), rng)
    return iso_ms(created), iso_ms(updated)


def _sleep_score(rng, in_bed: int, nap: bool, calibrating: bool) -> dict:
    """SleepScore: stage times in ms that add up to the time in bed, plus need and percentages."""
    awake = int(in_bed * rng.uniform(0.04, 0.13))
    no_data = int(in_bed * rng.uniform(0.01, 0.2)) if rng.random() < 0.04 else 0
    asleep = in_bed - awake - no_data
    sws = int(asleep * rng.uniform(0.15, 0.26))
    rem = int(asleep * rng.uniform(0.17, 0.28)) if not nap or rng.random() < 0.5 else 0
    baseline = 0 if nap else int(rng.gauss(27_400_000, 400_000))
    need = {
        "baseline_milli": baseline,
        "need_from_sleep_debt_milli": 0 if nap else int(rng.uniform(0, 2_400_000)),
        "need_from_recent_strain_milli": 0 if nap else int(rng.uniform(0, 1_200_000)),
        "need_from_recent_nap_milli": -int(rng.uniform(0, 1_800_000)) if rng.random() < 0.1 else 0,
    }
    score = {
        "stage_summary": {
            "total_in_bed_time_milli": in_bed,
            "total_awake_time_milli": awake,
            "total_no_data_time_milli": no_data,
            "total_light_sleep_time_milli": asleep - sws - rem,
            "total_slow_wave_sleep_time_milli": sws,
            "total_rem_sleep_time_milli": rem,
            "sleep_cycle_count": max(0 if nap else 1, round(asleep / 5_400_000)),
            "disturbance_count": rng.randrange(0, 4) if nap else rng.randrange(3, 21),
        },
        "sleep_needed": need,
        "respiratory_rate": round(rng.gauss(15.4, 0.5), 8),
    }
    # Performance and consistency "may not be reported" (calibration, naps); efficiency always is.
    if not nap and not calibrating:
        total_need = max(1, sum(need.values()))
        score["sleep_performance_percentage"] = float(min(100, round(100 * asleep / total_need)))
        score["sleep_consistency_percentage"] = float(rng.randrange(55, 96))
    score["sleep_efficiency_percentage"] = round(100 * asleep / max(1, in_bed - no_data), 8)
    return score


def _sleep(
    rng, cycle_id: int, start: datetime, end: datetime, zone: str, nap: bool, calibrating: bool, user_id: int
) -> dict:
    """One Sleep record (a main sleep or a nap)."""
    created, updated = _stamps(rng, end, (2, 40))
    state = "UNSCORABLE" if rng.random() < 0.012 else "SCORED"
    record = {"id": _uuid(rng), "cycle_id": cycle_id}
    if start.date() < V2_LAUNCH:
        record["v1_id"] = (
            200_000_000 + _day_number(start.date()) * 500_000 + rng.randrange(250_000) + (250_000 if nap else 0)
        )
    record.update(
        {
            "user_id": user_id,
            "created_at": created,
            "updated_at": updated,
            "start": iso_ms(start),
            "end": iso_ms(end),
            "timezone_offset": offset_string(start, zone),
            "nap": nap,
            "score_state": state,
        }
    )
    if state == "SCORED":
        in_bed = int((end - start).total_seconds() * 1000)
        record["score"] = _sleep_score(rng, in_bed, nap, calibrating)
    return record


def _recovery(rng, person: Person, day: date, cycle_id: int, sleep: dict, calibrating: bool) -> dict:
    """The Recovery of a cycle: no id of its own; keyed by cycle_id and its sleep's UUID."""
    created = with_ms(datetime.fromisoformat(sleep["created_at"]) + timedelta(seconds=rng.uniform(20, 200)), rng)
    updated = with_ms(created + timedelta(minutes=rng.uniform(1, 6)), rng)
    record = {
        "cycle_id": cycle_id,
        "sleep_id": sleep["id"],
        "user_id": person.who.whoop_user_id,
        "created_at": iso_ms(created),
        "updated_at": iso_ms(updated),
        "score_state": "UNSCORABLE" if sleep["score_state"] == "UNSCORABLE" else "SCORED",
    }
    if record["score_state"] == "SCORED":
        ratio = _clamp(rng.lognormvariate(0, 0.18), 0.45, 1.8)
        hrv = person.hrv_baseline(day) * ratio
        score = {
            "user_calibrating": calibrating,
            "recovery_score": float(round(_clamp(58 + 95 * (ratio - 1) + rng.gauss(0, 8), 1, 99))),
            "resting_heart_rate": float(round(person.rhr_baseline(day) - 6 * (ratio - 1) + rng.gauss(0, 1.5))),
            "hrv_rmssd_milli": round(hrv, 6),
        }
        if day >= WHOOP_4_SINCE:  # "Only present if the user is on 4.0 or greater"
            score["spo2_percentage"] = round(_clamp(rng.gauss(96.4, 0.9), 90, 100), 4)
            score["skin_temp_celsius"] = round(rng.gauss(33.9, 0.35), 2)
        record["score"] = score
    return record


def _workout_score(rng, sport: tuple, minutes: float) -> dict:
    """WorkoutScore: strain, heart rates, energy, zones that add up to the duration."""
    name, _, _, _, pace, altitude, intensity = sport
    avg_hr = int(_clamp(rng.gauss(92 + 70 * intensity, 7), 80, 175))
    duration_ms = int(minutes * 60_000)
    weights = [rng.uniform(0.2, 1.0) * max(0.05, 1 - abs(zone / 5 - intensity) * 1.6) for zone in range(6)]
    zones = [int(duration_ms * w / sum(weights)) for w in weights]
    zones[1] += duration_ms - sum(zones)
    keys = ("zero", "one", "two", "three", "four", "five")
    score = {
        "strain": round(_clamp(3 + 14 * intensity * (minutes / 60) ** 0.4 + rng.gauss(0, 1), 0.5, 20.5), 6),
        "average_heart_rate": avg_hr,
        "max_heart_rate": min(197, avg_hr + rng.randrange(12, 38)),
        "kilojoule": round(minutes * (4 + 30 * intensity) * rng.uniform(0.85, 1.15), 6),
        "percent_recorded": 100.0 if rng.random() < 0.9 else float(rng.randrange(80, 100)),
    }
    if pace:
        score["distance_meter"] = round(minutes * pace * rng.uniform(0.85, 1.15), 8)
    if altitude:
        score["altitude_gain_meter"] = round(minutes * rng.uniform(0.3, 4.0), 8)
        score["altitude_change_meter"] = round(rng.uniform(-3, 3), 8)
    score["zone_durations"] = {f"zone_{key}_milli": value for key, value in zip(keys, zones, strict=False)}
    return score


def _workout(rng, start: datetime, minutes: float, sport: tuple, zone: str, user_id: int) -> dict:
    """One WorkoutV2 record."""
    end = with_ms(start + timedelta(minutes=minutes), rng)
    created, updated = _stamps(rng, end, (1, 30))
    state = "UNSCORABLE" if rng.random() < 0.02 else "SCORED"
    record = {"id": _uuid(rng)}
    legacy = start.date() < V2_LAUNCH
    if legacy:
        record["v1_id"] = 1_000_000_000 + _day_number(start.date()) * 500_000 + rng.randrange(500_000)
    record.update(
        {
            "user_id": user_id,
            "created_at": created,
            "updated_at": updated,
            "start": iso_ms(start),
            "end": iso_ms(end),
            "timezone_offset": offset_string(start, zone),
            "sport_name": sport[0],
            "score_state": state,
        }
    )
    if state == "SCORED":
        record["score"] = _workout_score(rng, sport, minutes)
    if legacy:
        record["sport_id"] = sport[1]
    return record


def _cycle_score(rng, workouts: list[dict]) -> dict:
    """CycleScore: day strain at least the hardest workout's, energy growing with strain."""
    strains = [w["score"]["strain"] for w in workouts if "score" in w]
    strain = _clamp(max(strains, default=0) + rng.uniform(1.5, 4.0), 4.0, 20.9) if strains else rng.uniform(4.0, 10.5)
    max_hr = max([w["score"]["max_heart_rate"] for w in workouts if "score" in w], default=0)
    return {
        "strain": round(strain, 7),
        "kilojoule": round(7200 + 380 * strain * rng.uniform(0.9, 1.1), 3),
        "average_heart_rate": int(rng.gauss(66 + strain / 2, 3)),
        "max_heart_rate": max(max_hr, rng.randrange(112, 150)),
    }


def _place_activities(rng, wake: datetime, day_end: datetime) -> list[tuple]:
    """(kind, start, minutes, sport) for ~0.8 workouts and the odd nap, in order, before 22:00."""
    items = []
    for _ in range(rng.choices((0, 1, 2), weights=(38, 45, 17))[0]):
        sport = rng.choices(SPORTS, weights=[s[2] for s in SPORTS])[0]
        items.append(("workout", rng.uniform(*sport[3]), sport))
    if rng.random() < 0.12:
        items.append(("nap", rng.uniform(20, 90), None))
    rng.shuffle(items)
    cursor, placed = wake + timedelta(minutes=rng.uniform(30, 240)), []
    for kind, minutes, sport in items:
        if kind == "nap":
            cursor = max(cursor, wake + timedelta(hours=5))
        if cursor + timedelta(minutes=minutes) > day_end:
            break
        placed.append((kind, with_ms(cursor, rng), minutes, sport))
        cursor += timedelta(minutes=minutes + rng.uniform(30, 300))
    return placed


def _extra_workout(person: Person, day: date, wake: datetime, zone: str) -> dict:
    """A morning workout from its own RNG stream, so the day's other ids stay as generated.

    It ends by wake + 2.5 h, before any nap (naps start 5 h after waking or later).
    """
    rng = day_rng(person.seed, "extra-workout", day)
    sport = rng.choices(SPORTS[:4], weights=[s[2] for s in SPORTS[:4]])[0]
    start = with_ms(wake + timedelta(minutes=rng.uniform(45, 80)), rng)
    return _workout(rng, start, rng.uniform(30, 60), sport, zone, person.who.whoop_user_id)


def generate_whoop_day(person: Person, day: date, first_day: date, ensure_workout: bool = False) -> WhoopDay:
    """The records of `day`: its cycle (open), main sleep, maybe a nap, recovery and workouts.

    With ensure_workout (days added by advance_day) a day without any workout gets one.
    """
    rng = day_rng(person.seed, "whoop", day)
    zone = person.zone_for(day)
    start = with_ms(person.bedtime(day), rng)
    wake = with_ms(start + timedelta(hours=_clamp(rng.gauss(7.5, 0.7), 5.0, 9.8)), rng)
    cycle_id = person.who.id_offset + 100_000_000 + _day_number(day) * 250_000 + rng.randrange(250_000)
    user_id = person.who.whoop_user_id
    calibrating = day < first_day + timedelta(days=CALIBRATION_DAYS)
    evening_zone = person.zone_for(day - timedelta(days=1))
    sleeps = [_sleep(rng, cycle_id, start, wake, evening_zone, False, calibrating, user_id)]
    workouts = []
    for kind, begin, minutes, sport in _place_activities(rng, wake, person.day_end(day)):
        if kind == "nap":
            end = with_ms(begin + timedelta(minutes=minutes), rng)
            sleeps.append(_sleep(rng, cycle_id, begin, end, zone, True, calibrating, user_id))
        else:
            workouts.append(_workout(rng, begin, minutes, sport, zone, user_id))
    if ensure_workout and not workouts:
        workouts.append(_extra_workout(person, day, wake, zone))
    recovery = _recovery(rng, person, day, cycle_id, sleeps[0], calibrating)
    created = with_ms(start + timedelta(minutes=rng.uniform(1, 20)), rng)
    cycle = {
        "id": cycle_id,
        "user_id": user_id,
        "created_at": iso_ms(created),
        "updated_at": iso_ms(created),
        "start": iso_ms(start),
        "timezone_offset": offset_string(start, evening_zone),
        "score_state": "UNSCORABLE" if rng.random() < 0.005 else "SCORED",
    }
    if cycle["score_state"] == "SCORED":
        cycle["score"] = _cycle_score(rng, workouts)
    return WhoopDay(day, zone, cycle, sleeps, recovery, workouts)


def close_cycle(cycle: dict, end: datetime, rng) -> None:
    """Give a cycle its `end` (the next bedtime) and the later `updated_at` that comes with it."""
    items = list(cycle.items())
    cycle.clear()
    for key, value in items:
        cycle[key] = value
        if key == "start":
            cycle["end"] = iso_ms(end)
    cycle["updated_at"] = iso_ms(with_ms(end + timedelta(minutes=rng.uniform(5, 60)), rng))
