"""Day-based panels of the summary: recovery and sleep by the day you woke up, blood pressure, steps."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.engine import Connection

from dashboard import optional_queries, queries
from dashboard.localtime import PageZone, choose_zone, local_day, naive_local, record_zone, show

ROLLING_DAYS = 7
BAR_DAYS = 30  # a daily bar stays several pixels wide, and evenly spaced, even on a phone
MS_PER_HOUR = 3_600_000
SECONDS_PER_HOUR = 3600


def page_zone(conn: Connection) -> PageZone:
    """The one zone the page shows times in, from the newest WHOOP and Withings records."""
    return choose_zone(**queries.zone_hints(conn))


def axis(zone: PageZone, now: datetime, days: int = queries.TREND_DAYS) -> dict:
    """The charts' date ranges: the last `days` (bars: BAR_DAYS) local days, ending with today."""
    today = now.astimezone(zone.tz).date()
    return {"today": today.isoformat(), "start": (today - timedelta(days=days - 1)).isoformat(),
            "bar_start": (today - timedelta(days=BAR_DAYS - 1)).isoformat(),
            "end": (today + timedelta(days=1)).isoformat()}


def recovery_days(conn: Connection, zone: PageZone) -> dict:
    """One recovery per local wake-up day, with 7-day rolling means of HRV and resting heart rate."""
    by_day: dict[date, dict] = {}
    for row in queries.recovery_by_wake_day(conn):
        by_day[_wake_day(row, zone)] = row  # oldest first: a second one that day (travel) wins
    days = sorted(by_day)
    hrv = [_round(by_day[d]["hrv"], 1) for d in days]
    rhr = [_round(by_day[d]["rhr"], 0) for d in days]
    return {"day": [d.isoformat() for d in days], "score": [_round(by_day[d]["score"], 0) for d in days],
            "hrv": hrv, "hrv_7d": rolling_mean(days, hrv), "rhr": rhr, "rhr_7d": rolling_mean(days, rhr)}


def _wake_day(row: dict, zone: PageZone) -> date:
    if row["woke"] is not None:
        return local_day(row["woke"], record_zone(zone, row["offset"]))
    # The sleep is not synced yet: its cycle started at bedtime, so an evening start means tomorrow.
    start = row["cycle_start"].astimezone(record_zone(zone, row["cycle_offset"]))
    return start.date() + timedelta(days=1 if start.hour >= 12 else 0)


def rolling_mean(days: list[date], values: list[float | None], window: int = ROLLING_DAYS) -> list[float | None]:
    """For each day, the mean of the values of that day and the `window - 1` calendar days before it."""
    out = []
    for day in days:
        inside = [v for d, v in zip(days, values) if v is not None and timedelta(0) <= day - d < timedelta(days=window)]
        out.append(round(sum(inside) / len(inside), 1) if inside else None)
    return out


def sleep_days(sleeps: list[dict], zone: PageZone) -> list[str]:
    """The local day each WHOOP sleep ended on (its `t`), in the sleep's own offset."""
    return [local_day(s["t"], record_zone(zone, s.get("offset"))).isoformat() for s in sleeps]


def blood_pressure(conn: Connection, zone: PageZone, now: datetime, ago) -> dict:
    """The latest blood-pressure reading and the readings of the 90 days before it."""
    latest = queries.latest_blood_pressure(conn)
    if latest is None:
        return {"latest": None, "t": [], "local": [], "systolic": [], "diastolic": [], "pulse": []}
    rows = queries.blood_pressure_series(conn, latest["measured_at"])
    return {
        "latest": {"systolic": _round(latest["systolic_mmhg"], 0), "diastolic": _round(latest["diastolic_mmhg"], 0),
                   "pulse": _round(latest["heart_rate_bpm"], 0), "measured_local": show(latest["measured_at"], zone),
                   "ago": ago(latest["measured_at"], now)},
        "t": [r["t"].isoformat() for r in rows], "local": [naive_local(r["t"], zone) for r in rows],
        "systolic": [_round(r["systolic"], 0) for r in rows], "diastolic": [_round(r["diastolic"], 0) for r in rows],
        "pulse": [_round(r["pulse"], 0) for r in rows],
    }


def steps(conn: Connection, available: dict) -> dict:
    """Steps per local day from Withings activity; `available` is False before that table exists."""
    if optional_queries.ACTIVITY not in available:
        return {"available": False, "day": [], "steps": [], "km": []}
    rows = optional_queries.daily_steps(conn)
    return {"available": True, "day": [r["day"].isoformat() for r in rows], "steps": [r["steps"] for r in rows],
            "km": [None if r["distance_m"] is None else round(r["distance_m"] / 1000, 1) for r in rows]}


def sleep_compare(conn: Connection, available: dict, zone: PageZone, whoop: dict) -> dict:
    """Hours asleep per wake-up day from WHOOP and from Withings, side by side."""
    columns = available.get(optional_queries.SLEEP)
    nights = [] if columns is None else optional_queries.withings_nights(conn, columns)
    withings = {}
    for n in nights:
        day = local_day(n["end"], record_zone(zone, tz_name=n.get("timezone"))).isoformat()
        hours = None if n["total_sleep_seconds"] is None else round(n["total_sleep_seconds"] / SECONDS_PER_HOUR, 1)
        withings[day] = (hours, _round(n.get("sleep_score"), 0))
    whoop_hours = dict(zip(whoop["day"], whoop["hours"]))
    days = sorted(set(withings) | set(whoop_hours))
    return {"available": columns is not None, "day": days, "whoop_hours": [whoop_hours.get(d) for d in days],
            "withings_hours": [withings.get(d, (None, None))[0] for d in days],
            "withings_score": [withings.get(d, (None, None))[1] for d in days]}


def _round(value: float | None, digits: int) -> float | None:
    if value is None:
        return None
    return round(value) if digits == 0 else round(value, digits)
