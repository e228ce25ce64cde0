"""Queries for tables a database may not have yet (Withings activity and sleep summary).

A database migrated before these resources existed has neither table; the dashboard asks the
inspector once per request which of them (and which columns) are there, and shows "no data
yet" otherwise instead of failing the whole page.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import column, func, inspect, select, table
from sqlalchemy.engine import Connection

from models import UTCDateTime

TREND_DAYS = 90
MAX_ROWS = 2000
ACTIVITY = "withings_activity"
SLEEP = "withings_sleep_summary"
# The columns each panel needs; a table without all of them counts as absent (a database the
# ETL has not upgraded to 0004_activity_sleep_body yet: the dashboard only reads).
NEEDED = {ACTIVITY: {"date", "steps", "deleted_at"}, SLEEP: {"start", "end", "total_sleep_time_s", "deleted_at"}}

# `date` is left untyped: SQLite hands back text, PostgreSQL a date, and _as_date reads both.
_activity = table(ACTIVITY, column("date"), column("steps"), column("distance_m"), column("deleted_at"))
_sleep = table(SLEEP, column("start", UTCDateTime()), column("end", UTCDateTime()),
               column("total_sleep_time_s"), column("sleep_score"), column("timezone"), column("deleted_at"))


def available(conn: Connection) -> dict[str, set[str]]:
    """The columns of each optional table this database has (absent tables are left out)."""
    inspector = inspect(conn)
    present = set(inspector.get_table_names())
    found = {}
    for name in NEEDED:
        if name in present:
            columns = {c["name"] for c in inspector.get_columns(name)}
            if NEEDED[name] <= columns:
                found[name] = columns
    return found


def daily_steps(conn: Connection, days: int = TREND_DAYS) -> list[dict]:
    """Steps (and distance) per local calendar day of the last `days` days with data, oldest first."""
    live = _activity.c.deleted_at.is_(None)
    newest = _as_date(conn.execute(select(func.max(_activity.c.date)).where(live)).scalar())
    if newest is None:
        return []
    since = (newest - timedelta(days=days)).isoformat()
    rows = conn.execute(
        select(_activity.c.date, _activity.c.steps, _activity.c.distance_m)
        .where(live, _activity.c.date > since).order_by(_activity.c.date.desc()).limit(MAX_ROWS))
    out = [{"day": _as_date(r.date), "steps": r.steps, "distance_m": r.distance_m} for r in rows]
    return out[::-1]


def withings_nights(conn: Connection, columns: set[str], days: int = TREND_DAYS) -> list[dict]:
    """Withings sleep summaries that began in the last `days` days of data, oldest first."""
    live = _sleep.c.deleted_at.is_(None)
    newest = conn.execute(select(func.max(_sleep.c.start)).where(live)).scalar()
    if newest is None:
        return []
    wanted = [_sleep.c.start, _sleep.c.end, _sleep.c.total_sleep_time_s.label("total_sleep_seconds")]
    wanted += [_sleep.c[name] for name in ("sleep_score", "timezone") if name in columns]
    rows = conn.execute(select(*wanted).where(live, _sleep.c.start > newest - timedelta(days=days))
                        .order_by(_sleep.c.start.desc()).limit(MAX_ROWS))
    return [dict(r._mapping) for r in rows][::-1]


def _as_date(value) -> date | None:
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])
