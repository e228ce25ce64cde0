"""Read-only queries for the dashboard, each bounded by dates or LIMIT on an indexed column."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, case, or_, select
from sqlalchemy.engine import Connection

from storage import quarantine
from mapping.fields import latest_plausible
from models import Cycle, Recovery, Sleep, Workout, WithingsHeartRate, WithingsWeight
from readers.read_model import newest
from mapping.withings import AMBIGUOUS_ATTRIB

TREND_DAYS = 90
RECENT_WORKOUTS = 10
# A trend never returns more rows than this, however many weigh-ins a day someone makes.
MAX_SERIES_ROWS = 2000


def _live_weights(now: datetime | None = None):
    """Weigh-ins with a weight that were not deleted and are not dated in the future."""
    return (WithingsWeight.weight_kg.is_not(None), WithingsWeight.deleted_at.is_(None),
            WithingsWeight.measured_at <= latest_plausible(now))


def latest_weight(conn: Connection, now: datetime | None = None) -> dict | None:
    """The newest weigh-in with a weight, or None; one Withings marks as possibly someone
    else's (attrib 1) only when no other exists."""
    row = conn.execute(
        select(WithingsWeight.user_id, WithingsWeight.weight_kg, WithingsWeight.measured_at,
               WithingsWeight.timezone, WithingsWeight.fat_ratio_pct, WithingsWeight.attrib)
        .where(*_live_weights(now))
        .order_by(case((WithingsWeight.attrib == AMBIGUOUS_ATTRIB, 1), else_=0),
                  WithingsWeight.measured_at.desc()).limit(1)
    ).first()
    return dict(row._mapping) if row else None


def weight_at_or_before(conn: Connection, user_id: int, when: datetime) -> dict | None:
    """The newest weigh-in of `user_id` measured at or before `when` (a date, not a row count)."""
    row = conn.execute(
        select(WithingsWeight.weight_kg, WithingsWeight.measured_at)
        # `user_id + 0`: keeps planners off the (user_id, grpid) key, which would read and sort
        # the user's whole history; the measured_at index answers with a short backward scan.
        .where((WithingsWeight.user_id + 0) == user_id, WithingsWeight.weight_kg.is_not(None),
               WithingsWeight.deleted_at.is_(None), WithingsWeight.measured_at <= when)
        .order_by(WithingsWeight.measured_at.desc()).limit(1)
    ).first()
    return dict(row._mapping) if row else None


def weight_series(conn: Connection, until: datetime, days: int = TREND_DAYS) -> list[dict]:
    """Weigh-ins of the `days` before `until`, oldest first."""
    rows = conn.execute(
        select(WithingsWeight.measured_at.label("t"), WithingsWeight.weight_kg.label("kg"),
               WithingsWeight.fat_ratio_pct.label("fat_pct"))
        .where(*_live_weights(), WithingsWeight.measured_at > until - timedelta(days=days))
        .order_by(WithingsWeight.measured_at.desc()).limit(MAX_SERIES_ROWS)
    )
    return [dict(r._mapping) for r in rows][::-1]


def sleep_series(conn: Connection, days: int = TREND_DAYS) -> list[dict]:
    """Scored main sleeps (no naps) of the last `days`, oldest first."""
    until = newest(conn, Sleep.start)
    if until is None:
        return []
    rows = conn.execute(
        select(Sleep.end.label("t"), Sleep.timezone_offset.label("offset"),
               Sleep.sleep_performance_percentage.label("performance"),
               Sleep.total_in_bed_time_milli.label("in_bed_ms"), Sleep.total_awake_time_milli.label("awake_ms"))
        .where(or_(Sleep.nap.is_(False), Sleep.nap.is_(None)), Sleep.deleted_at.is_(None),
               Sleep.sleep_performance_percentage.is_not(None), Sleep.start > until - timedelta(days=days))
        .order_by(Sleep.start.desc()).limit(MAX_SERIES_ROWS)
    )
    return [dict(r._mapping) for r in rows][::-1]


def recovery_by_wake_day(conn: Connection, days: int = TREND_DAYS) -> list[dict]:
    """Scored recoveries of the last `days` of cycles with the end of their sleep, oldest first."""
    # A recovery belongs to the morning its sleep ends, not to its cycle's start the evening
    # before; `woke` is None only while the sleep itself has not been synced yet.
    until = newest(conn, Cycle.start)
    if until is None:
        return []
    by_cycle = and_(Recovery.user_id == Cycle.user_id, Recovery.whoop_cycle_id == Cycle.whoop_id)
    by_sleep = and_(Sleep.user_id == Recovery.user_id, Sleep.whoop_id == Recovery.whoop_sleep_id)
    rows = conn.execute(
        select(Sleep.end.label("woke"), Sleep.timezone_offset.label("offset"), Cycle.start.label("cycle_start"),
               Cycle.timezone_offset.label("cycle_offset"), Recovery.recovery_score.label("score"),
               Recovery.hrv_rmssd_milli.label("hrv"), Recovery.resting_heart_rate.label("rhr"))
        .select_from(Recovery).join(Cycle, by_cycle).outerjoin(Sleep, by_sleep)
        .where(Cycle.start > until - timedelta(days=days), Recovery.recovery_score.is_not(None),
               Cycle.deleted_at.is_(None), Recovery.deleted_at.is_(None))
        .order_by(Cycle.start.desc()).limit(MAX_SERIES_ROWS)
    )
    return [dict(r._mapping) for r in rows][::-1]


def latest_blood_pressure(conn: Connection) -> dict | None:
    """The newest reading with a systolic pressure (and its pulse, when the cuff sent one), or None."""
    row = conn.execute(
        select(WithingsHeartRate.measured_at, WithingsHeartRate.systolic_mmhg, WithingsHeartRate.diastolic_mmhg,
               WithingsHeartRate.heart_rate_bpm, WithingsHeartRate.timezone)
        .where(WithingsHeartRate.systolic_mmhg.is_not(None), WithingsHeartRate.deleted_at.is_(None),
               WithingsHeartRate.measured_at <= latest_plausible())
        .order_by(WithingsHeartRate.measured_at.desc()).limit(1)
    ).first()
    return dict(row._mapping) if row else None


def blood_pressure_series(conn: Connection, until: datetime, days: int = TREND_DAYS) -> list[dict]:
    """Blood-pressure readings of the `days` before `until`, oldest first."""
    rows = conn.execute(
        select(WithingsHeartRate.measured_at.label("t"), WithingsHeartRate.systolic_mmhg.label("systolic"),
               WithingsHeartRate.diastolic_mmhg.label("diastolic"), WithingsHeartRate.heart_rate_bpm.label("pulse"))
        .where(WithingsHeartRate.systolic_mmhg.is_not(None), WithingsHeartRate.deleted_at.is_(None),
               WithingsHeartRate.measured_at > until - timedelta(days=days), WithingsHeartRate.measured_at <= until)
        .order_by(WithingsHeartRate.measured_at.desc()).limit(MAX_SERIES_ROWS)
    )
    return [dict(r._mapping) for r in rows][::-1]


def zone_hints(conn: Connection) -> dict:
    """The newest Withings `timezone` name and the newest WHOOP `timezone_offset` with its time."""
    hints = {"withings_tz": None, "whoop_offset": None, "whoop_at": None}
    newest_tz = None
    for model in (WithingsWeight, WithingsHeartRate):
        row = conn.execute(select(model.timezone, model.measured_at)
                           .where(model.timezone.is_not(None), model.deleted_at.is_(None),
                                  model.measured_at <= latest_plausible())
                           .order_by(model.measured_at.desc()).limit(1)).first()
        if row is not None and (newest_tz is None or row.measured_at > newest_tz):
            hints["withings_tz"], newest_tz = row.timezone, row.measured_at
    for model, column in ((Cycle, Cycle.start), (Sleep, Sleep.start)):
        row = conn.execute(select(model.timezone_offset, column.label("at"))
                           .where(model.deleted_at.is_(None), column <= latest_plausible())
                           .order_by(column.desc()).limit(1)).first()
        if row is not None and row.timezone_offset and (hints["whoop_at"] is None or row.at > hints["whoop_at"]):
            hints["whoop_offset"], hints["whoop_at"] = row.timezone_offset, row.at
    return hints


def recent_workouts(conn: Connection, limit: int = RECENT_WORKOUTS) -> list[dict]:
    """The newest `limit` workouts, newest first."""
    rows = conn.execute(
        select(Workout.start, Workout.end, Workout.sport_name, Workout.strain,
               Workout.average_heart_rate, Workout.max_heart_rate, Workout.kilojoule, Workout.score_state)
        .where(Workout.deleted_at.is_(None), Workout.start <= latest_plausible())
        .order_by(Workout.start.desc()).limit(limit)
    )
    return [dict(r._mapping) for r in rows]


def quarantine_overview(conn: Connection) -> dict[str, list[str]]:
    """Per source, one line per resource with quarantined records (count and oldest reason)."""
    out: dict[str, list[str]] = {}
    for q in quarantine.summary(conn):
        count = q["count"]
        out.setdefault(q["source"], []).append(
            f"{q['resource']}: {count} record{'s' if count != 1 else ''} quarantined "
            f"(oldest reason: {q['oldest_reason'][:120]}); python etl.py status lists them")
    return out
