"""Read-only queries for the dashboard, each bounded by dates or LIMIT on an indexed column."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Connection

from models import Cycle, Recovery, Sleep, Workout, WithingsHeartRate, WithingsWeight

TREND_DAYS = 90
RECENT_WORKOUTS = 10
# A trend never returns more rows than this, however many weigh-ins a day someone makes.
MAX_SERIES_ROWS = 2000


def latest_weight(conn: Connection) -> dict | None:
    """The newest weigh-in with a weight, or None."""
    row = conn.execute(
        select(WithingsWeight.user_id, WithingsWeight.weight_kg, WithingsWeight.measured_at,
               WithingsWeight.timezone, WithingsWeight.fat_ratio_pct)
        .where(WithingsWeight.weight_kg.is_not(None))
        .order_by(WithingsWeight.measured_at.desc()).limit(1)
    ).first()
    return dict(row._mapping) if row else None


def weight_at_or_before(conn: Connection, user_id: int, when: datetime) -> dict | None:
    """The newest weigh-in of `user_id` measured at or before `when` (a date, not a row count)."""
    row = conn.execute(
        select(WithingsWeight.weight_kg, WithingsWeight.measured_at)
        # `user_id + 0`: keeps planners off the (user_id, grpid) key, which would read and sort
        # the user's whole history; the measured_at index answers with a short backward scan.
        .where((WithingsWeight.user_id + 0) == user_id, WithingsWeight.weight_kg.is_not(None),
               WithingsWeight.measured_at <= when)
        .order_by(WithingsWeight.measured_at.desc()).limit(1)
    ).first()
    return dict(row._mapping) if row else None


def _newest(conn: Connection, column) -> datetime | None:
    return conn.execute(select(func.max(column))).scalar()


def weight_series(conn: Connection, until: datetime, days: int = TREND_DAYS) -> list[dict]:
    """Weigh-ins of the `days` before `until`, oldest first."""
    rows = conn.execute(
        select(WithingsWeight.measured_at.label("t"), WithingsWeight.weight_kg.label("kg"),
               WithingsWeight.fat_ratio_pct.label("fat_pct"))
        .where(WithingsWeight.weight_kg.is_not(None),
               WithingsWeight.measured_at > until - timedelta(days=days))
        .order_by(WithingsWeight.measured_at.desc()).limit(MAX_SERIES_ROWS)
    )
    return [dict(r._mapping) for r in rows][::-1]


def recovery_series(conn: Connection, days: int = TREND_DAYS) -> list[dict]:
    """Scored recoveries of the last `days` of cycles, dated by their cycle's start, oldest first."""
    # A recovery has no time column of its own: its cycle's indexed `start` dates it, and
    # the join runs on recovery's unique (user_id, whoop_cycle_id) key.
    until = _newest(conn, Cycle.start)
    if until is None:
        return []
    joined = and_(Recovery.user_id == Cycle.user_id, Recovery.whoop_cycle_id == Cycle.whoop_id)
    rows = conn.execute(
        select(Cycle.start.label("t"), Recovery.recovery_score.label("score"),
               Recovery.hrv_rmssd_milli.label("hrv"), Recovery.resting_heart_rate.label("rhr"),
               Cycle.strain.label("day_strain"))
        .join(Recovery, joined)
        .where(Cycle.start > until - timedelta(days=days), Recovery.recovery_score.is_not(None))
        .order_by(Cycle.start.desc()).limit(MAX_SERIES_ROWS)
    )
    return [dict(r._mapping) for r in rows][::-1]


def sleep_series(conn: Connection, days: int = TREND_DAYS) -> list[dict]:
    """Scored main sleeps (no naps) of the last `days`, oldest first."""
    until = _newest(conn, Sleep.start)
    if until is None:
        return []
    rows = conn.execute(
        select(Sleep.end.label("t"), Sleep.sleep_performance_percentage.label("performance"),
               Sleep.total_in_bed_time_milli.label("in_bed_ms"), Sleep.total_awake_time_milli.label("awake_ms"))
        .where(Sleep.nap.is_(False), Sleep.sleep_performance_percentage.is_not(None),
               Sleep.start > until - timedelta(days=days))
        .order_by(Sleep.start.desc()).limit(MAX_SERIES_ROWS)
    )
    return [dict(r._mapping) for r in rows][::-1]


def recent_workouts(conn: Connection, limit: int = RECENT_WORKOUTS) -> list[dict]:
    """The newest `limit` workouts, newest first."""
    rows = conn.execute(
        select(Workout.start, Workout.end, Workout.sport_name, Workout.strain,
               Workout.average_heart_rate, Workout.max_heart_rate, Workout.kilojoule, Workout.score_state)
        .order_by(Workout.start.desc()).limit(limit)
    )
    return [dict(r._mapping) for r in rows]
