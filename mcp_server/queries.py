"""The fixed questions the MCP tools answer, through the read model and the metric catalog."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from configuration import clock
from mcp_server.readonly import queryable_tables
from readers import charts, daily, metrics, read_model, series
from readers.export import iso

# Ranges the tools accept: wide enough for any real history, narrow enough that date arithmetic
# (a day's bounds, "now minus days") can never overflow.
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(2199, 12, 31)
MAX_WORKOUT_DAYS = 100_000


def latest_measurements(conn: Connection, now: datetime | None = None, account: int | None = None) -> dict:
    """Per catalog metric: the latest counted value, its unit and time; and which values are flagged."""
    now = now or clock.utcnow()
    found = {}
    for metric in metrics.METRICS:
        row = metrics.latest(conn, metric.name, now, account)
        found[metric.name] = (
            None if row is None else {"value": iso(row["value"]), "unit": metric.unit, "at": iso(row["at"])}
        )
    flagged = read_model.flagged(conn, account)
    return {"metrics": found, "flagged": [read_model.flagged_note(f) for f in flagged]}


def daily_series(conn: Connection, metric: str, start: date, end: date, account: int | None = None) -> dict:
    """Per local day from `start` to `end` (inclusive): the `daily` (or `daily_detail`) view's value of `metric`."""
    if not (EARLIEST_DAY <= start <= LATEST_DAY and EARLIEST_DAY <= end <= LATEST_DAY):
        raise ValueError(f"start_date and end_date must lie between {EARLIEST_DAY} and {LATEST_DAY}")
    if start > end:
        raise ValueError(f"start_date {start} is after end_date {end}")
    return daily.series(conn, metric, start, end, account)


def recent_workouts(
    conn: Connection, days: int = 14, limit: int = 20, now: datetime | None = None, account: int | None = None
) -> list[dict]:
    """Workouts that started in the last `days` days, newest first."""
    if not 1 <= days <= MAX_WORKOUT_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_WORKOUT_DAYS}, not {days}")
    now = now or clock.utcnow()
    rows = charts.recent_workouts(conn, since=now - timedelta(days=days), limit=limit, now=now, account=account)
    return [{k: iso(v) for k, v in row.items()} for row in rows]


def sleep_night(conn: Connection, day: date, account: int | None = None) -> dict:
    """The Withings night that ended on local day `day`: states, minutes and the night's figures."""
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValueError(f"date must lie between {EARLIEST_DAY} and {LATEST_DAY}")
    found = series.night(conn, day, account)
    night = found["night"]
    return {
        "night": None if night is None else _iso_row(night),
        "states": [_iso_row(row) for row in found["states"]],
        "minutes": [_iso_row(row) for row in found["minutes"]],
        "truncated": found["truncated"],
    }


def _iso_row(row: dict) -> dict:
    return {key: iso(value) for key, value in row.items()}


def ecg_recordings(
    conn: Connection, days: int = 365, limit: int = 20, now: datetime | None = None, account: int | None = None
) -> list[dict]:
    """Withings ECG recordings taken in the last `days` days, newest first, without their samples."""
    if not 1 <= days <= MAX_WORKOUT_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_WORKOUT_DAYS}, not {days}")
    now = now or clock.utcnow()
    rows = charts.recent_ecgs(conn, since=now - timedelta(days=days), limit=limit, now=now, account=account)
    return [{k: iso(v) for k, v in row.items()} for row in rows]


def sync_freshness(conn: Connection, now: datetime | None = None, account: int | None = None) -> list[dict]:
    """Per declared resource: last successful sync, newest record, stale or not and why, error line."""
    now = now or clock.utcnow()
    out = []
    for row in read_model.freshness(conn, now, account):
        last = row["last_success_at"]
        out.append(
            {
                "source": row["source"],
                "resource": row["resource"],
                "status": row["status"],
                "last_success_at": iso(last),
                "newest_record": iso(row["newest_record"]),
                "hours_since_success": None if last is None else round((now - last).total_seconds() / 3600, 1),
                "stale_after_hours": row["stale_after"].total_seconds() / 3600,
                "stale": row["stale"],
                "problem": row["problem"],
                "error": str(row["error"]).splitlines()[0] if row["error"] else None,
            }
        )
    return out


def list_tables(conn: Connection) -> dict:
    """Table (and view) -> column names, for writing SQL: what `query` reads (never the token table)."""
    insp = inspect(conn)
    present = set(insp.get_table_names()) | set(insp.get_view_names())
    return {
        name: [c["name"] for c in insp.get_columns(name)] for name in sorted(present.intersection(queryable_tables()))
    }
