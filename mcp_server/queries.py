"""The fixed questions the MCP tools answer, as plain data (dates are the user's local days)."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import MetaData, Table, inspect, select
from sqlalchemy.engine import Connection

from readers.export import iso
from mcp_server.readonly import queryable_tables

# metric -> (table, column, the column that says when, unit)
METRICS = {
    "recovery_score": ("recovery", "recovery_score", "created_at", "%"),
    "hrv_rmssd_milli": ("recovery", "hrv_rmssd_milli", "created_at", "ms"),
    "resting_heart_rate": ("recovery", "resting_heart_rate", "created_at", "bpm"),
    "spo2_percentage": ("recovery", "spo2_percentage", "created_at", "%"),
    "skin_temp_celsius": ("recovery", "skin_temp_celsius", "created_at", "°C"),
    "strain": ("cycles", "strain", "start", "WHOOP strain (0-21)"),
    "kilojoule": ("cycles", "kilojoule", "start", "kJ"),
    "sleep_performance_percentage": ("sleep", "sleep_performance_percentage", "start", "%"),
    "respiratory_rate": ("sleep", "respiratory_rate", "start", "breaths/min"),
    "weight_kg": ("withings_weight", "weight_kg", "measured_at", "kg"),
    "fat_ratio_pct": ("withings_weight", "fat_ratio_pct", "measured_at", "%"),
    "muscle_mass_kg": ("withings_weight", "muscle_mass_kg", "measured_at", "kg"),
    "systolic_mmhg": ("withings_heart_rate", "systolic_mmhg", "measured_at", "mmHg"),
    "diastolic_mmhg": ("withings_heart_rate", "diastolic_mmhg", "measured_at", "mmHg"),
    "heart_rate_bpm": ("withings_heart_rate", "heart_rate_bpm", "measured_at", "bpm"),
}
LATEST = {  # table -> (the column that says when, columns reported)
    "recovery": ("created_at", ("recovery_score", "hrv_rmssd_milli", "resting_heart_rate", "spo2_percentage",
                                "skin_temp_celsius")),
    "cycles": ("start", ("strain", "kilojoule", "average_heart_rate")),
    "sleep": ("start", ("end", "sleep_performance_percentage", "respiratory_rate", "nap")),
    "withings_weight": ("measured_at", ("weight_kg", "fat_ratio_pct", "muscle_mass_kg")),
    "withings_heart_rate": ("measured_at", ("systolic_mmhg", "diastolic_mmhg", "heart_rate_bpm")),
}
# Ranges the tools accept: wide enough for any real history, narrow enough that date arithmetic
# (a day's bounds, "now minus days") can never overflow.
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(2199, 12, 31)
MAX_WORKOUT_DAYS = 100_000
WORKOUT_COLUMNS = ("start", "end", "sport_name", "strain", "average_heart_rate", "max_heart_rate",
                   "kilojoule", "distance_meter")


def table(conn: Connection, name: str) -> Table:
    """A reflected table (so columns other releases add, like deleted_at, are seen)."""
    return Table(name, MetaData(), autoload_with=conn)


def _live(t: Table, query):
    return query.where(t.c.deleted_at.is_(None)) if "deleted_at" in t.c else query


def _as_utc(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def local_day(when: datetime, offset: str | None = None, zone: str | None = None) -> date:
    """The calendar day `when` fell on where the user was (WHOOP offset or Withings zone)."""
    when = _as_utc(when)
    if offset and len(offset) == 6 and offset[0] in "+-":
        sign = 1 if offset[0] == "+" else -1
        return (when + sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))).date()
    if zone:
        try:
            return when.astimezone(ZoneInfo(zone)).date()
        except (ZoneInfoNotFoundError, ValueError):
            pass  # an unknown zone name: the UTC day below
    return when.date()


def latest_measurements(conn: Connection) -> dict:
    """The newest row of each measurement table, with its time in ISO 8601."""
    out = {}
    for name, (when, columns) in LATEST.items():
        t = table(conn, name)
        cols = [t.c[c] for c in (when, *columns) if c in t.c]
        row = conn.execute(_live(t, select(*cols).order_by(t.c[when].desc()).limit(1))).first()
        out[name] = None if row is None else {k: iso(v) for k, v in row._mapping.items()}
    return out


def daily_series(conn: Connection, metric: str, start: date, end: date) -> dict:
    """Per local day from `start` to `end` (inclusive): the day's mean of `metric`, and how many values."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of: {', '.join(METRICS)}")
    if not (EARLIEST_DAY <= start <= LATEST_DAY and EARLIEST_DAY <= end <= LATEST_DAY):
        raise ValueError(f"start_date and end_date must lie between {EARLIEST_DAY} and {LATEST_DAY}")
    if start > end:
        raise ValueError(f"start_date {start} is after end_date {end}")
    name, column, when, unit = METRICS[metric]
    t = table(conn, name)
    zone_col = t.c.timezone_offset if "timezone_offset" in t.c else t.c.timezone
    # A day's records lie within 14 hours either side of its UTC bounds, whatever the offset.
    lo = datetime.combine(start, datetime.min.time(), timezone.utc) - timedelta(hours=14)
    hi = datetime.combine(end, datetime.min.time(), timezone.utc) + timedelta(days=1, hours=14)
    if conn.dialect.name == "sqlite":
        lo, hi = lo.replace(tzinfo=None), hi.replace(tzinfo=None)
    query = select(t.c[when], t.c[column], zone_col).where(t.c[column].is_not(None), t.c[when] >= lo, t.c[when] < hi)
    values = defaultdict(list)
    for at, value, zone in conn.execute(_live(t, query)):
        day = local_day(at, offset=zone) if zone_col.name == "timezone_offset" else local_day(at, zone=zone)
        if start <= day <= end:
            values[day].append(float(value))
    series = [{"date": d.isoformat(), "value": round(sum(v) / len(v), 3), "count": len(v)}
              for d, v in sorted(values.items())]
    return {"metric": metric, "unit": unit, "start": start.isoformat(), "end": end.isoformat(), "days": series}


def recent_workouts(conn: Connection, days: int = 14, limit: int = 20) -> list[dict]:
    """Workouts that started in the last `days` days, newest first."""
    if not 1 <= days <= MAX_WORKOUT_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_WORKOUT_DAYS}, not {days}")
    t = table(conn, "workout")
    since = datetime.now(timezone.utc) - timedelta(days=days)
    if conn.dialect.name == "sqlite":
        since = since.replace(tzinfo=None)
    cols = [t.c[c] for c in WORKOUT_COLUMNS if c in t.c]
    query = _live(t, select(*cols).where(t.c.start >= since).order_by(t.c.start.desc()).limit(limit))
    return [{k: iso(v) for k, v in row._mapping.items()} for row in conn.execute(query)]


def sync_freshness(conn: Connection) -> list[dict]:
    """Per source and resource: last successful sync, status, error line (never token data)."""
    t = table(conn, "sync_state")
    wanted = ("source", "resource", "status", "last_success_at", "window_end", "error")
    rows = conn.execute(select(*[t.c[c] for c in wanted if c in t.c]).order_by(t.c.source, t.c.resource))
    now = datetime.now(timezone.utc)
    out = []
    for row in rows:
        item = {k: iso(v) for k, v in row._mapping.items()}
        last = row._mapping.get("last_success_at")
        item["hours_since_success"] = None if last is None else round((now - _as_utc(last)).total_seconds() / 3600, 1)
        if item.get("error"):
            item["error"] = str(item["error"]).splitlines()[0]
        out.append(item)
    return out


def list_tables(conn: Connection) -> dict:
    """Table -> column names, for writing SQL: the tables `query` reads (never the token table)."""
    insp = inspect(conn)
    present = set(insp.get_table_names())
    return {name: [c["name"] for c in insp.get_columns(name)]
            for name in sorted(present.intersection(queryable_tables()))}

