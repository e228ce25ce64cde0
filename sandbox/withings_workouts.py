"""The Withings Measure v2 `getworkouts` stand-in: a few workouts a week from the watch, some from a phone.

Each day's workouts are a pure function of (seed, day). Docs: docs/API_NOTES.md, Withings: Workouts.
"""

from __future__ import annotations

from datetime import date, timedelta

from .person import Person, day_rng, device_id
from .timeutil import local_at, unix
from .withings_daily import HR_FIELDS

# Every `data_fields` entry the reference lists for getworkouts.
WORKOUT_FIELDS = (
    "calories",
    "intensity",
    "manual_intensity",
    "manual_distance",
    "manual_calories",
    *HR_FIELDS,
    "pause_duration",
    "algo_pause_duration",
    "spo2_average",
    "core_body_temperature_avg",
    "core_body_temperature_min",
    "core_body_temperature_max",
    "core_body_temperature_status",
    "steps",
    "distance",
    "elevation",
    "pool_laps",
    "strokes",
    "pool_length",
)
# Undocumented default without `data_fields`; the sandbox answers what a real capture carried.
WORKOUT_DEFAULT_FIELDS = ("calories", "intensity", "hr_average", "hr_min", "hr_max", "steps", "distance")
WALK, RUN, BICYCLING, SWIMMING, LIFT_WEIGHTS, YOGA = 1, 2, 6, 7, 16, 28
WATCH_SPORTS = (RUN, RUN, BICYCLING, SWIMMING, LIFT_WEIGHTS, YOGA)
SWIM_ONLY = ("pool_laps", "strokes", "pool_length", "algo_pause_duration")
NOT_SWIMMING = ("steps", "distance", "elevation")
WATCH_MODEL_ID = 93  # ScanWatch
PHONE_MODEL_ID = 1055  # "GoogleFit tracker": no device id, no heart rate (zeros)
WORKOUT_ID_BASE = 4_000_000_000


def _watch_data(rng, category: int, seconds: int) -> dict:
    hr = rng.randint(115, 160) if category in (RUN, BICYCLING) else rng.randint(90, 125)
    zones = [rng.randrange(0, seconds // 3) for _ in range(3)]
    data = {
        "calories": int(seconds / 60 * (11 if category == RUN else 7)),
        "intensity": 0,
        "manual_intensity": 0,
        "manual_distance": 0,
        "manual_calories": 0,
        "hr_average": hr,
        "hr_min": hr - rng.randint(20, 40),
        "hr_max": hr + rng.randint(10, 30),
        "hr_zone_0": max(0, seconds - sum(zones)),
        "hr_zone_1": zones[0],
        "hr_zone_2": zones[1],
        "hr_zone_3": zones[2],
        "pause_duration": 0,
        "spo2_average": None,  # sent as null when the watch took no SpO2 during the workout
    }
    if category == SWIMMING:
        laps = seconds // 50
        data.update(pool_laps=laps, strokes=laps * rng.randint(14, 20), pool_length=25, algo_pause_duration=120)
    else:
        steps = {RUN: seconds * 2.6, BICYCLING: 0, WALK: seconds * 1.8}.get(category, seconds * 0.2)
        data.update(
            steps=int(steps),
            distance=int(seconds * {RUN: 2.9, BICYCLING: 6.5, WALK: 1.3}.get(category, 0)),
            elevation=rng.randint(0, 12),
        )
    return data


def _phone_walk(rng, seconds: int) -> dict:
    steps = int(seconds * 1.7)
    return {
        **{field: 0 for field in ("intensity", "manual_distance", "manual_calories", "pause_duration")},
        **{field: 0 for field in HR_FIELDS},
        "calories": int(seconds / 60 * 5),
        "steps": steps,
        "distance": int(steps * 0.8),
        "elevation": rng.randint(0, 6),
        "algo_pause_duration": None,
        "spo2_average": None,
    }


def workouts_on(person: Person, day: date) -> list[dict]:
    """The workouts of one local day, every data field the device gives, oldest first."""
    rng = day_rng(person.seed, "withings-workouts", day)
    zone, watch = person.zone_for(day), device_id(person.seed, "ScanWatch")
    planned = []
    if rng.random() < 0.45:
        planned.append((rng.choice(WATCH_SPORTS), rng.uniform(17.0, 19.5), rng.randrange(25, 75) * 60, False))
    if rng.random() < 0.12:
        planned.append((WALK, rng.uniform(12.0, 13.5), rng.randrange(8, 30) * 60, True))
    records = []
    for index, (category, hour, seconds, by_phone) in enumerate(sorted(planned, key=lambda p: p[1])):
        start = unix(local_at(day, hour, zone))
        records.append(
            {
                "id": person.who.id_offset + WORKOUT_ID_BASE + day.toordinal() * 10 + index,
                "category": category,
                "timezone": zone,
                "model": PHONE_MODEL_ID if by_phone else WATCH_MODEL_ID,
                "attrib": 0,
                "startdate": start,
                "enddate": start + seconds,
                "date": day.isoformat(),
                "modified": start + seconds + rng.randrange(300, 7200),
                "deviceid": None if by_phone else watch,
                "data": _phone_walk(rng, seconds) if by_phone else _watch_data(rng, category, seconds),
            }
        )
    return records


def with_fields(record: dict, fields: tuple[str, ...]) -> dict:
    """A workout as answered for `data_fields`: only the fields asked for that it has."""
    return {**record, "data": {k: record["data"][k] for k in fields if k in record["data"]}}


def workouts_between(person: Person, first: date, last: date) -> list[dict]:
    """Every workout from local day `first` to `last`, oldest first."""
    days = ((first + timedelta(days=n)) for n in range((last - first).days + 1))
    return [record for day in days for record in workouts_on(person, day)]
