"""Day-based panels of the summary, from the `daily` view: recovery and sleep by the day you woke up, steps."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.engine import Connection

from dashboard.localtime import PageZone, choose_zone, naive_local, show
from readers import charts

ROLLING_DAYS = 7
BAR_DAYS = 30  # a daily bar stays several pixels wide, and evenly spaced, even on a phone


def page_zone(conn: Connection, account: int | None = None) -> PageZone:
    """The one zone the page shows times in, from the account's newest WHOOP and Withings records."""
    return choose_zone(**charts.zone_hints(conn, account))


def axis(zone: PageZone, now: datetime, days: int = charts.TREND_DAYS) -> dict:
    """The charts' date ranges: the last `days` (bars: BAR_DAYS) local days, ending with today."""
    today = now.astimezone(zone.tz).date()
    return {
        "today": today.isoformat(),
        "start": (today - timedelta(days=days - 1)).isoformat(),
        "bar_start": (today - timedelta(days=BAR_DAYS - 1)).isoformat(),
        "end": (today + timedelta(days=1)).isoformat(),
    }


def recovery_days(days: list[dict]) -> dict:
    """One recovery per local wake-up day (the `daily` view's), with 7-day rolling means of HRV and resting HR."""
    rows = [r for r in days if r["recovery"] is not None]
    on = [r["day"] for r in rows]
    hrv = [_round(r["hrv"], 1) for r in rows]
    rhr = [_round(r["resting_hr"], 0) for r in rows]
    return {
        "day": [d.isoformat() for d in on],
        "score": [_round(r["recovery"], 0) for r in rows],
        "hrv": hrv,
        "hrv_7d": rolling_mean(on, hrv),
        "rhr": rhr,
        "rhr_7d": rolling_mean(on, rhr),
    }


def rolling_mean(days: list[date], values: list[float | None], window: int = ROLLING_DAYS) -> list[float | None]:
    """For each day, the mean of the values of that day and the `window - 1` calendar days before it."""
    out = []
    for day in days:
        inside = [
            v
            for d, v in zip(days, values, strict=False)
            if v is not None and timedelta(0) <= day - d < timedelta(days=window)
        ]
        out.append(round(sum(inside) / len(inside), 1) if inside else None)
    return out


def sleep_days(days: list[dict]) -> dict:
    """WHOOP's main sleep per local wake-up day: performance and hours asleep."""
    rows = [r for r in days if r["sleep_performance"] is not None]
    return {
        "day": [r["day"].isoformat() for r in rows],
        "performance": [_round(r["sleep_performance"], 0) for r in rows],
        "hours": [_round(r["sleep_hours"], 1) for r in rows],
    }


def blood_pressure(
    conn: Connection, latest: dict | None, zone: PageZone, now: datetime, ago, account: int | None = None
) -> dict:
    """The latest counted blood-pressure reading and the readings of the 90 days before it."""
    if latest is None:
        return {"latest": None, "t": [], "local": [], "systolic": [], "diastolic": [], "pulse": []}
    rows = charts.blood_pressure_series(conn, latest["measured_at"], account=account)
    return {
        "latest": {
            "systolic": _round(latest["systolic"], 0),
            "diastolic": _round(latest["diastolic"], 0),
            "pulse": _round(latest["pulse"], 0),
            "measured_local": show(latest["measured_at"], zone),
            "ago": ago(latest["measured_at"], now),
        },
        "t": [r["t"].isoformat() for r in rows],
        "local": [naive_local(r["t"], zone) for r in rows],
        "systolic": [_round(r["systolic"], 0) for r in rows],
        "diastolic": [_round(r["diastolic"], 0) for r in rows],
        "pulse": [_round(r["pulse"], 0) for r in rows],
    }


def steps(days: list[dict]) -> dict:
    """Steps (and km) per local day from Withings activity."""
    rows = [r for r in days if r["steps"] is not None]
    return {
        "available": True,
        "day": [r["day"].isoformat() for r in rows],
        "steps": [r["steps"] for r in rows],
        "km": [_round(r["distance_km"], 1) for r in rows],
    }


def sleep_compare(days: list[dict]) -> dict:
    """Hours asleep per wake-up day from WHOOP and from Withings, side by side."""
    rows = [r for r in days if r["sleep_hours"] is not None or r["withings_sleep_hours"] is not None]
    return {
        "available": True,
        "day": [r["day"].isoformat() for r in rows],
        "whoop_hours": [_round(r["sleep_hours"], 1) for r in rows],
        "withings_hours": [_round(r["withings_sleep_hours"], 1) for r in rows],
        "withings_score": [_round(r["sleep_score"], 0) for r in rows],
    }


def _round(value: float | None, digits: int) -> float | None:
    if value is None:
        return None
    return round(value) if digits == 0 else round(value, digits)
