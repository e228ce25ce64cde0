"""The Withings Measure v2 `getintradayactivity` stand-in: the watch's minute samples, one UTC day at a time.

A day is a pure function of (seed, day) and is built only when a call asks for it, so a year of
history costs nothing until it is read. Docs: docs/API_NOTES.md, Withings: Intraday activity.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from .person import Person, day_rng, device_id
from .timeutil import UTC, unix
from .withings_workouts import RUN, SWIMMING, WALK, workouts_on

# Every `data_fields` entry the reference lists for getintradayactivity.
INTRADAY_FIELDS = (
    "steps",
    "elevation",
    "calories",
    "distance",
    "stroke",
    "pool_lap",
    "duration",
    "heart_rate",
    "spo2_auto",
    "rmssd",
    "sdnn1",
    "hrv_quality",
    "core_body_temperature",
    "rr",
    "chest_movement_rate",
)
# Without `data_fields` the real answer is not documented; the sandbox answers these.
INTRADAY_DEFAULT_FIELDS = ("steps", "elevation", "calories", "distance", "heart_rate")
WATCH_MODEL, WATCH_MODEL_ID = "ScanWatch", 93
MINUTE = 60
MAX_SPAN = 86_400  # "only the first 24h after startdate will be returned"
AWAKE_HOURS = range(6, 22)  # UTC hours in which the person walks about


def _workout_minutes(person: Person, day: date) -> dict[int, int]:
    """{minute timestamp: workout category} for the workouts touching UTC day `day`."""
    minutes = {}
    for local_day in (day - timedelta(days=1), day, day + timedelta(days=1)):
        for workout in workouts_on(person, local_day):
            if workout["deviceid"] is None:
                continue  # a phone's walk: the watch saw an ordinary walk, not a workout
            for ts in range(workout["startdate"] - workout["startdate"] % MINUTE, workout["enddate"], MINUTE):
                minutes[ts] = workout["category"]
    return minutes


def _sample(rng, hour: int, sport: int | None) -> dict:
    """One minute's readings; what the minute carries depends on the time of day and the sport."""
    awake = hour in AWAKE_HOURS
    hr = rng.randint(120, 165) if sport else (rng.randint(62, 95) if awake else rng.randint(48, 60))
    sample: dict = {"heart_rate": hr, "duration": MINUTE}
    if sport == SWIMMING:
        sample.update(stroke=rng.randint(18, 34), pool_lap=rng.choice((1, 1, 2)), calories=round(rng.uniform(6, 10), 2))
    elif sport in (RUN, WALK) or (awake and rng.random() < 0.35):
        steps = rng.randint(140, 175) if sport == RUN else rng.randint(5, 120)
        sample.update(
            steps=steps,
            distance=round(steps * 0.76, 2),
            calories=round(steps * 0.045, 2),
            elevation=rng.choice((0, 0, 0, 0, 0, 0, 0, 0, 0, 1)),
        )
    if not awake and rng.random() < 0.1:
        sample.update(rmssd=rng.randint(25, 90), sdnn1=rng.randint(35, 110), hrv_quality=rng.randint(0, 4))
    if not awake and rng.random() < 0.05:
        sample["spo2_auto"] = rng.randint(93, 99)
    return sample


def intraday_day(person: Person, day: date) -> dict[int, dict]:
    """Every sample of UTC day `day`, keyed by its minute, with every field the watch measures.

    Gaps are part of the day: an hour on the charger and a spell off the wrist have no samples.
    The watch measures no breathing, chest movement or core temperature, so those fields never
    appear even when asked for.
    """
    rng = day_rng(person.seed, "withings-intraday", day)
    midnight = unix(datetime.combine(day, time(0), UTC))
    charging = midnight + rng.randrange(6, 20) * 3600
    off_wrist = midnight + rng.randrange(0, 1440) * MINUTE
    off_minutes = rng.randrange(5, 40) * MINUTE
    sports = _workout_minutes(person, day)
    samples = {}
    for ts in range(midnight, midnight + 86_400, MINUTE):
        if charging <= ts < charging + 3600 or off_wrist <= ts < off_wrist + off_minutes:
            continue
        samples[ts] = _sample(rng, (ts - midnight) // 3600, sports.get(ts))
    return samples


def answer_intraday(
    person: Person, start: int, end: int, fields: tuple[str, ...], first: date, now: int
) -> dict[str, dict]:
    """The `series` of one call: samples from start to end (both included, at most 24 h after
    start, never after `now`), each carrying its device and the requested fields it has."""
    end = min(end, start + MAX_SPAN, now)
    watch = {"deviceid": device_id(person.seed, WATCH_MODEL), "model": WATCH_MODEL, "model_id": WATCH_MODEL_ID}
    series: dict[str, dict] = {}
    day = max(first, datetime.fromtimestamp(start, UTC).date())
    while end >= start and day <= datetime.fromtimestamp(end, UTC).date():
        for ts, sample in intraday_day(person, day).items():
            asked = {field: sample[field] for field in fields if field in sample}
            if start <= ts <= end and asked:
                series[str(ts)] = {**watch, **asked}
        day += timedelta(days=1)
    return series
