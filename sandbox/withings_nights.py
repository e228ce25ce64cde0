"""The Withings Sleep v2 `get` stand-in: a night's sleep-state segments with their minute series.

A night is a pure function of (seed, day): its span is the one its getsummary night gives, its
segments and values come from a generator of their own, so a night is built only when asked for.
Docs: docs/API_NOTES.md, Withings: Sleep series.
"""

from __future__ import annotations

from datetime import date

from .person import day_rng

# Every series field the reference lists for Sleep v2 get (its `data_fields`).
SLEEP_SERIES_FIELDS = (
    "hr",
    "rr",
    "snoring",
    "sdnn_1",
    "rmssd",
    "hrv_quality",
    "mvt_score",
    "chest_movement_rate",
    "withings_index",
    "breathing_sounds",
)
# What comes back without `data_fields` is not documented; the sandbox answers the reference's example.
SLEEP_SERIES_DEFAULT = ("hr", "rr", "snoring")
AWAKE, LIGHT, DEEP, REM = 0, 1, 2, 3
SLEEP_CYCLE = (LIGHT, DEEP, LIGHT, REM)
# Awake segments carry no HRV, snoring or breathing-sound readings here: a series field can be
# missing from a segment, and a client must not invent it.
AWAKE_FIELDS = ("hr", "rr", "mvt_score", "chest_movement_rate")
MAT_MODEL, MAT_MODEL_ID = "Aura Sensor V2", 63  # segments name the device by string, plus model_id
SLEEP_MONITOR = 32  # body.model: 16 a tracker, 32 a sleep monitor
SAMPLE_SECONDS = 60
OVERLAP_SECONDS = 120  # one segment of each night runs this far into the next, as real nights can
WITHINGS_INDEX_MIN_SLEEP = 5 * 3600  # "5 hours of sleep are required in order to calculate the Withings Index"
MAX_SPAN = 86_400  # "only the first 24h after startdate will be returned"


def _states(rng, start: int, end: int) -> list[dict]:
    """Consecutive segments from start to end: short awake spells between sleep states."""
    segments, at, state, step = [], start, AWAKE, 0
    while at < end:
        minutes = rng.randrange(3, 15) if state == AWAKE else rng.randrange(10, 50)
        stop = min(end, at + minutes * 60)
        segments.append({"startdate": at, "enddate": stop, "state": state})
        at = stop
        if state != AWAKE and rng.random() < 0.2:
            state = AWAKE
        else:
            state, step = SLEEP_CYCLE[step % len(SLEEP_CYCLE)], step + 1
    if len(segments) > 2:
        middle = segments[len(segments) // 2]
        middle["enddate"] = min(end, middle["enddate"] + OVERLAP_SECONDS)
    return segments


def _minute_values(rng, hr_base: int, asleep: bool) -> dict[str, int]:
    """One minute's readings; awake minutes move more and beat faster."""
    lift = 0 if asleep else rng.randint(5, 14)
    return {
        "hr": hr_base + lift + rng.randint(-3, 3),
        "rr": rng.randint(12, 17),
        "snoring": rng.choice((0, 0, 0, 0, rng.randint(5, 60))) if asleep else 0,
        "sdnn_1": rng.randint(30, 95),
        "rmssd": rng.randint(20, 85),
        "hrv_quality": rng.randint(0, 4),
        "mvt_score": rng.randint(0, 40) if asleep else rng.randint(60, 255),
        "chest_movement_rate": rng.randint(12, 18),
        "breathing_sounds": rng.choice((0, 0, rng.randint(1, 60))),
    }


def night_segments(seed: int, day: date, start: int, end: int) -> list[dict]:
    """Every segment of the night ending on `day` (spanning start..end), with every series field.

    A value belongs to its timestamp, not to its segment: where two segments overlap, both
    carry the same readings for the shared minutes, so a client must key them by timestamp.
    """
    rng = day_rng(seed, "withings-sleep-series", day)
    segments = _states(rng, start, end)
    hr_base = rng.randint(48, 58)
    first_minute = -(-start // SAMPLE_SECONDS) * SAMPLE_SECONDS
    states = {}
    for segment in segments:
        for ts in range(max(first_minute, segment["startdate"]), segment["enddate"], SAMPLE_SECONDS):
            states.setdefault(ts - ts % SAMPLE_SECONDS, segment["state"])
    values = {ts: _minute_values(rng, hr_base, state != AWAKE) for ts, state in sorted(states.items())}
    asleep = sum(s["enddate"] - s["startdate"] for s in segments if s["state"] != AWAKE)
    last_sleep = max((s for s in segments if s["state"] != AWAKE), key=lambda s: s["enddate"], default=None)
    for segment in segments:
        segment.update(model=MAT_MODEL, model_id=MAT_MODEL_ID)
        fields = AWAKE_FIELDS if segment["state"] == AWAKE else SLEEP_SERIES_FIELDS
        minutes = [ts for ts in values if segment["startdate"] <= ts < segment["enddate"]]
        for field in fields:
            if field != "withings_index":
                segment[field] = {str(ts): values[ts][field] for ts in minutes}
        if segment is last_sleep and asleep >= WITHINGS_INDEX_MIN_SLEEP:
            segment["withings_index"] = {str(segment["startdate"]): rng.randint(2, 24)}
    return segments


def select_fields(segment: dict, fields: tuple[str, ...]) -> dict:
    """A segment as answered for `data_fields`: its span, state and device, and the series asked for."""
    kept = {key: segment[key] for key in ("startdate", "enddate", "state", "model", "model_id")}
    kept.update({field: segment[field] for field in fields if field in segment})
    return kept
