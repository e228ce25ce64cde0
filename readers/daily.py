"""The `daily` view (migration 0007) and `daily_detail` (migration 0018: `daily` and more columns): one row
per local day (and person), under the catalog's names."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import MetaData, Table, func, select, union
from sqlalchemy.engine import Connection
from sqlalchemy.sql import FromClause

from readers import metrics, ownership

DAILY = "daily"
# Every column of `daily`, the same values, then the series, workouts and ECGs. Adding up a year of
# intraday minutes costs it some 0.5 s, so a reader of `daily`'s own columns reads `daily`.
VIEW = "daily_detail"
MAX_DAYS = 5000  # about 14 years of one person's days: a bound, never a truncation in practice


def _view(conn: Connection, name: str) -> Table:
    return Table(name, MetaData(), autoload_with=conn)


def provider_of(name: str) -> str:
    """The provider of one of the view's metric columns (from the table its reading counts)."""
    return ownership.PROVIDER_OF_TABLE[metrics.table_name(metrics.get(name))]


def view_for(metric: str) -> str:
    """The view that holds metric `metric`'s column: `daily` when it has it, else `daily_detail`."""
    return DAILY if metrics.get(metric).name in metrics.IN_DAILY else VIEW


def view_of(conn: Connection, account: int | None = None, name: str = DAILY) -> FromClause:
    """The view `name` (one of VIEWS), or the same columns for one account's days only.

    The view pairs every WHOOP user of a day with every Withings user of that day (it cannot
    know which two ids are one person), so an account's days are not a WHERE on its rows: each
    provider's columns are taken from the rows of the account's own user ids of that provider,
    and paired again by day, as the view pairs a single person's."""
    view = _view(conn, name)
    if account is None:
        return view
    sides = {}
    for provider in dict.fromkeys(ownership.PROVIDER_OF_TABLE.values()):
        user = view.c[f"{provider}_user_id"]
        columns = [c for c in view.c if c.name in metrics.BY_NAME and provider_of(c.name) == provider]
        sides[provider] = (
            select(view.c.day, user, *columns)
            .where(ownership.user_of(user, provider, account))
            .distinct()  # one row per pairing with the other provider's users: the same values
            .subquery(provider)
        )
    days = union(*(select(side.c.day) for side in sides.values())).subquery("days")
    joined = days
    for side in sides.values():
        joined = joined.outerjoin(side, side.c.day == days.c.day)
    picked = {c.name: side.c[c.name] for side in sides.values() for c in side.c if c.name != "day"}
    return (
        select(days.c.day, *(picked[c.name].label(c.name) for c in view.c if c.name != "day"))
        .select_from(joined)
        .subquery(name)
    )


def as_date(value) -> date | None:
    """A `day` as a date: SQLite hands back text, PostgreSQL a date."""
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    return date.fromisoformat(str(value)[:10])


def rows(
    conn: Connection,
    start: date | None = None,
    end: date | None = None,
    account: int | None = None,
    name: str = DAILY,
) -> list[dict]:
    """The rows of view `name` from `start` to `end` (inclusive, either open), oldest first, days as dates."""
    view = view_of(conn, account, name)
    # SQLite's view hands days back as ISO text, and compares them so.
    bound = (lambda d: d) if conn.dialect.name == "postgresql" else date.isoformat
    bounds = ([view.c.day >= bound(start)] if start else []) + ([view.c.day <= bound(end)] if end else [])
    order = (view.c.day.desc(), view.c.whoop_user_id, view.c.withings_user_id)
    query = select(view).where(*bounds).order_by(*order).limit(MAX_DAYS)
    found = [dict(r._mapping) | {"day": as_date(r.day)} for r in conn.execute(query)]
    return found[::-1]


def recent(conn: Connection, days: int, account: int | None = None) -> list[dict]:
    """`daily`'s rows of the `days` local days up to its newest day (none for an empty view)."""
    view = view_of(conn, account)
    newest = as_date(conn.execute(select(func.max(view.c.day))).scalar())
    return [] if newest is None else rows(conn, start=newest - timedelta(days=days - 1), account=account)


def series(conn: Connection, name: str, start: date, end: date, account: int | None = None) -> dict:
    """Metric `name` per local day from `start` to `end` (inclusive): the value of the day's counted reading."""
    metric = metrics.get(name)
    found = rows(conn, start, end, account, view_for(name))
    days = [{"date": r["day"].isoformat(), "value": r[name]} for r in found if r[name] is not None]
    return {
        "metric": name,
        "unit": metric.unit,
        "day": metric.day,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "days": days,
    }


def last_with(conn: Connection, name: str, account: int | None = None) -> dict | None:
    """The newest row of the view with a value of metric `name` (last night's sleep, today's steps)."""
    view = view_of(conn, account, view_for(name))
    row = conn.execute(
        select(view).where(view.c[metrics.get(name).name].is_not(None)).order_by(view.c.day.desc()).limit(1)
    ).first()
    return None if row is None else dict(row._mapping) | {"day": as_date(row.day)}
