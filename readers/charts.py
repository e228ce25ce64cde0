"""Per-reading series for the dashboard's charts, from the metric catalog's counted rows."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Connection

from configuration import clock
from configuration.invocation import command
from mapping.devices import ECG_MODELS
from mapping.fields import latest_plausible
from models import Cycle, Recovery, Sleep, WithingsHeartRate, WithingsWeight, Workout, withings_ecg
from readers import metrics, read_model
from readers.ownership import owned

TREND_DAYS = 90
RECENT_WORKOUTS = 10
# A trend never returns more rows than this, however many weigh-ins a day someone makes.
MAX_SERIES_ROWS = 2000


def weight_at_or_before(conn: Connection, user_id: int, when: datetime) -> dict | None:  # one user: one account
    """The counted weigh-in of `user_id` measured last at or before `when` (a date, not a row count)."""
    query = metrics.readings("weight").subquery()
    row = conn.execute(
        select(query.c.weight_kg, query.c.measured_at)
        .where(query.c.user_id == user_id, query.c.at <= when)
        .order_by(query.c.at.desc(), query.c.tie.desc())
        .limit(1)
    ).first()
    return dict(row._mapping) if row else None


def weight_series(conn: Connection, until: datetime, days: int = TREND_DAYS, account: int | None = None) -> list[dict]:
    """Counted weigh-ins of the `days` before `until`, oldest first."""
    rows = metrics.series(conn, "weight", until - timedelta(days=days), until, MAX_SERIES_ROWS, account)
    return [{"t": r["at"], "kg": r["weight_kg"], "fat_pct": r["fat_ratio_pct"]} for r in rows]


def unscored_recoveries(conn: Connection, since: datetime, account: int | None = None) -> list[dict]:
    """Recoveries since `since` that WHOOP has not scored (yet): their time and WHOOP offset, oldest first."""
    rows = conn.execute(
        select(Recovery.created_at, Recovery.timezone_offset, Recovery.score_state)
        .where(
            Recovery.score_state != "SCORED",
            Recovery.deleted_at.is_(None),
            Recovery.created_at >= since,
            Recovery.created_at <= latest_plausible(clock.utcnow()),
            *owned(Recovery, account),
        )
        .order_by(Recovery.created_at)
        .limit(MAX_SERIES_ROWS)
    )
    return [{"at": at, "offset": offset, "state": state} for at, offset, state in rows]


def blood_pressure_series(
    conn: Connection, until: datetime, days: int = TREND_DAYS, account: int | None = None
) -> list[dict]:
    """Counted blood-pressure readings of the `days` before `until`, oldest first."""
    rows = metrics.series(conn, "bp_systolic", until - timedelta(days=days), until, MAX_SERIES_ROWS, account)
    return [
        {"t": r["at"], "systolic": r["systolic_mmhg"], "diastolic": r["diastolic_mmhg"], "pulse": r["heart_rate_bpm"]}
        for r in rows
    ]


def zone_hints(conn: Connection, account: int | None = None) -> dict:
    """The newest Withings `timezone` name and the newest WHOOP `timezone_offset` with its time."""
    hints = {"withings_tz": None, "whoop_offset": None, "whoop_at": None}
    newest_tz = None
    for model in (WithingsWeight, WithingsHeartRate):
        row = conn.execute(
            select(model.timezone, model.measured_at)
            .where(
                model.timezone.is_not(None),
                model.deleted_at.is_(None),
                model.measured_at <= latest_plausible(clock.utcnow()),
                *owned(model, account),
            )
            .order_by(model.measured_at.desc())
            .limit(1)
        ).first()
        if row is not None and (newest_tz is None or row.measured_at > newest_tz):
            hints["withings_tz"], newest_tz = row.timezone, row.measured_at
    for model, column in ((Cycle, Cycle.start), (Sleep, Sleep.start)):
        row = conn.execute(
            select(model.timezone_offset, column.label("at"))
            .where(model.deleted_at.is_(None), column <= latest_plausible(clock.utcnow()), *owned(model, account))
            .order_by(column.desc())
            .limit(1)
        ).first()
        if row is not None and row.timezone_offset and (hints["whoop_at"] is None or row.at > hints["whoop_at"]):
            hints["whoop_offset"], hints["whoop_at"] = row.timezone_offset, row.at
    return hints


def recent_workouts(
    conn: Connection,
    since: datetime | None = None,
    limit: int = RECENT_WORKOUTS,
    now: datetime | None = None,
    account: int | None = None,
) -> list[dict]:
    """The newest `limit` live, unflagged workouts (started after `since`, when given), newest first."""
    live = [
        Workout.deleted_at.is_(None),
        Workout.flag.is_(None),
        Workout.start <= latest_plausible(now or clock.utcnow()),
        *owned(Workout, account),
    ]
    rows = conn.execute(
        select(
            Workout.start,
            Workout.end,
            Workout.sport_name,
            Workout.strain,
            Workout.average_heart_rate,
            Workout.max_heart_rate,
            Workout.kilojoule,
            Workout.distance_meter,
            Workout.score_state,
        )
        .where(*live, *([Workout.start >= since] if since is not None else []))
        .order_by(Workout.start.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in rows]


def recent_ecgs(
    conn: Connection,
    since: datetime | None = None,
    limit: int = RECENT_WORKOUTS,
    now: datetime | None = None,
    account: int | None = None,
) -> list[dict]:
    """The newest `limit` live Withings ECG recordings (taken after `since`, when given), newest
    first: when, which device model, heart rate and AFib classification; a failed recording has
    none. The samples stay in the table (mapping.ecg.decode_signal reads them)."""
    table = withings_ecg
    live = [
        table.c.deleted_at.is_(None),
        table.c.recorded_at <= latest_plausible(now or clock.utcnow()),
        *owned(table, account),
    ]
    rows = conn.execute(
        select(
            table.c.recorded_at,
            table.c.model,
            table.c.heart_rate,
            table.c.afib,
            table.c.afib_name,
            table.c.wear_position,
            table.c.sample_count,
            table.c.sampling_frequency,
            table.c.signal_id,
        )
        .where(*live, *([table.c.recorded_at >= since] if since is not None else []))
        .order_by(table.c.recorded_at.desc())
        .limit(limit)
    )
    return [dict(r._mapping) | {"device": ECG_MODELS.get(r.model), "recorded": r.signal_id is not None} for r in rows]


def quarantine_overview(conn: Connection, account: int | None = None) -> dict[str, list[str]]:
    """Per source, one line per resource with quarantined records (count and oldest reason)."""
    out: dict[str, list[str]] = {}
    for q in read_model.quarantined(conn, account):
        count = q["count"]
        out.setdefault(q["source"], []).append(
            f"{q['resource']}: {count} record{'s' if count != 1 else ''} quarantined "
            f"(oldest reason: {q['oldest_reason'][:120]}); {command('quarantine')} lists them"
        )
    return out
