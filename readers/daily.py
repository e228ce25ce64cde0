"""The `daily` view (migration 0007): one row per local day (and person), under the catalog's names."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import MetaData, Table, func, select
from sqlalchemy.engine import Connection

from readers import metrics

VIEW = "daily"
MAX_DAYS = 5000  # about 14 years of one person's days: a bound, never a truncation in practice


def _view(conn: Connection) -> Table:
    return Table(VIEW, MetaData(), autoload_with=conn)


def as_date(value) -> date | None:
    """A `day` as a date: SQLite hands back text, PostgreSQL a date."""
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    return date.fromisoformat(str(value)[:10])


def rows(conn: Connection, start: date | None = None, end: date | None = None) -> list[dict]:
    """The view's rows from `start` to `end` (inclusive, either open), oldest first, days as dates."""
    view = _view(conn)
    # SQLite's view hands days back as ISO text, and compares them so.
    bound = (lambda d: d) if conn.dialect.name == "postgresql" else date.isoformat
    bounds = ([view.c.day >= bound(start)] if start else []) + ([view.c.day <= bound(end)] if end else [])
    order = (view.c.day.desc(), view.c.whoop_user_id, view.c.withings_user_id)
    query = select(view).where(*bounds).order_by(*order).limit(MAX_DAYS)
    found = [dict(r._mapping) | {"day": as_date(r.day)} for r in conn.execute(query)]
    return found[::-1]


def recent(conn: Connection, days: int) -> list[dict]:
    """The view's rows of the `days` local days up to its newest day (none for an empty view)."""
    view = _view(conn)
    newest = as_date(conn.execute(select(func.max(view.c.day))).scalar())
    return [] if newest is None else rows(conn, start=newest - timedelta(days=days - 1))


def series(conn: Connection, name: str, start: date, end: date) -> dict:
    """Metric `name` per local day from `start` to `end` (inclusive): the value of the day's counted reading."""
    metric = metrics.get(name)
    days = [{"date": r["day"].isoformat(), "value": r[name]} for r in rows(conn, start, end) if r[name] is not None]
    return {
        "metric": name,
        "unit": metric.unit,
        "day": metric.day,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "days": days,
    }


def last_with(conn: Connection, name: str) -> dict | None:
    """The newest row of the view with a value of metric `name` (last night's sleep, today's steps)."""
    view = _view(conn)
    row = conn.execute(
        select(view).where(view.c[metrics.get(name).name].is_not(None)).order_by(view.c.day.desc()).limit(1)
    ).first()
    return None if row is None else dict(row._mapping) | {"day": as_date(row.day)}
