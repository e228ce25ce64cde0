"""Day-based panels of the summary, from the `daily` view: recovery and sleep by the day you woke up, steps."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy.engine import Connection

from dashboard.localtime import PageZone, choose_zone, local_day, naive_local, record_zone, show
from readers import charts

ROLLING_DAYS = 7
BAR_DAYS = 30  # a daily bar stays several pixels wide, and evenly spaced, even on a phone
# The least a value axis spans, so that a day's noise never fills a chart's height (a 55-60 bpm
# axis draws a 2 bpm wobble as a cliff): about what each measure moves in an ordinary month.
MIN_SPANS = {"weight": 4.0, "hrv": 40.0, "rhr": 16.0, "bp": 60.0}


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
    hrv = [rounded(r["hrv"], 1) for r in rows]
    rhr = [rounded(r["resting_hr"], 0) for r in rows]
    return {
        "day": [d.isoformat() for d in on],
        "score": [rounded(r["recovery"], 0) for r in rows],
        "hrv": hrv,
        "hrv_7d": rolling_mean(on, hrv),
        "rhr": rhr,
        "rhr_7d": rolling_mean(on, rhr),
    }


def pending_days(unscored: list[dict], scored: list[str], zone: PageZone) -> list[str]:
    """The local days (ISO) of recoveries WHOOP has not scored, where the day has no score: drawn as pending."""
    # The day a recovery belongs to is the morning it was made, in the strap's own offset.
    days = {local_day(_utc(r["at"]), record_zone(zone, r["offset"])).isoformat() for r in unscored}
    return sorted(days - set(scored))


def y_range(values, span: float) -> list[float] | None:
    """A value axis holding every value and at least `span` wide, centred on the values; None: no value."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    low, high = min(present), max(present)
    if high - low < span:
        middle = (low + high) / 2
        low, high = middle - span / 2, middle + span / 2
    else:
        pad = (high - low) * 0.05
        low, high = low - pad, high + pad
    return [round(low, 1), round(high, 1)]


def weight_jumps(times: list[str], kg: list[float | None], threshold: float) -> list[dict]:
    """Weigh-ins at least `threshold` kg from the counted one before them: where, how much, since when."""
    jumps = []
    for i in range(1, len(kg)):
        if kg[i] is None or kg[i - 1] is None or abs(kg[i] - kg[i - 1]) < threshold:
            continue
        jumps.append(
            {"local": times[i], "kg": kg[i], "delta_kg": round(kg[i] - kg[i - 1], 2), "previous": times[i - 1]}
        )
    return jumps


def _utc(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


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
        "performance": [rounded(r["sleep_performance"], 0) for r in rows],
        "hours": [rounded(r["sleep_hours"], 1) for r in rows],
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
            "systolic": rounded(latest["systolic"], 0),
            "diastolic": rounded(latest["diastolic"], 0),
            "pulse": rounded(latest["pulse"], 0),
            "measured_local": show(latest["measured_at"], zone),
            "ago": ago(latest["measured_at"], now),
        },
        "t": [r["t"].isoformat() for r in rows],
        "local": [naive_local(r["t"], zone) for r in rows],
        "systolic": [rounded(r["systolic"], 0) for r in rows],
        "diastolic": [rounded(r["diastolic"], 0) for r in rows],
        "pulse": [rounded(r["pulse"], 0) for r in rows],
    }


def steps(days: list[dict]) -> dict:
    """Steps (and km) per local day from Withings activity."""
    rows = [r for r in days if r["steps"] is not None]
    return {
        "available": True,
        "day": [r["day"].isoformat() for r in rows],
        "steps": [r["steps"] for r in rows],
        "km": [rounded(r["distance_km"], 1) for r in rows],
    }


def sleep_compare(days: list[dict]) -> dict:
    """Hours asleep per wake-up day from WHOOP and from Withings, side by side."""
    rows = [r for r in days if r["sleep_hours"] is not None or r["withings_sleep_hours"] is not None]
    return {
        "available": True,
        "day": [r["day"].isoformat() for r in rows],
        "whoop_hours": [rounded(r["sleep_hours"], 1) for r in rows],
        "withings_hours": [rounded(r["withings_sleep_hours"], 1) for r in rows],
        "withings_score": [rounded(r["sleep_score"], 0) for r in rows],
    }


def rounded(value: float | None, digits: int) -> float | None:
    """`value` to `digits` places (an int for 0), or None: how every panel and card shows a number."""
    if value is None:
        return None
    return round(value) if digits == 0 else round(value, digits)
