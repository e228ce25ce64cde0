"""The metric catalog: every metric a reader shows, declared once, with the rows that count.

A metric is the name a person types (`weight`, `recovery`, `sleep_hours`), the table and column
it comes from, its unit and which time gives its local day. Which rows count is the same for
every metric: live (deleted_at IS NULL), not flagged (flag IS NULL: the API's value is kept but
looks implausible), not dated after now + 2 days (an older release stored a weigh-in dated
9999), WHOOP scores only when SCORED (a pending recovery is all nulls), main sleeps only (no
naps), and a Withings reading marked as possibly someone else's (attrib 1) only for a person
with no other reading of that measure. Of several readings, the newest counts, then the highest
API id (two readings in the same minute). The `daily` view (migration 0007) files the same rows
by local day under the same names; tests/readers/test_every_reader_gives_the_same_answer.py
holds the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Date, Float, Select, and_, cast, exists, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement

from configuration import clock
from mapping.fields import latest_plausible
from mapping.withings import AMBIGUOUS_ATTRIB
from models import (
    Cycle,
    Recovery,
    Sleep,
    WithingsActivity,
    WithingsHeartRate,
    WithingsSleepSummary,
    WithingsWeight,
    withings_ecg,
    withings_intraday,
    withings_sleep_series,
    withings_workout,
)
from readers.ownership import owned

MS_PER_HOUR, SECONDS_PER_HOUR = 3_600_000.0, 3600.0
WHOOP_WAKE_DAY = (
    "the local day its cycle's sleep ended (its offset); before that sleep is stored, "
    "the local date of the cycle's start plus 12 hours"
)


@dataclass(frozen=True)
class Metric:
    """One metric: its name (also the `daily` view's column), where it is stored, its unit and day."""

    name: str
    reading: str  # the kind of row it is read from (READINGS)
    column: str  # the column of that row
    unit: str
    day: str  # which time gives its local day
    meaning: str
    numeric: bool = True  # False: a word (a classification), never averaged or charted


def table_name(metric: Metric) -> str:
    """The name of the table a metric's reading counts rows of (READING_TABLES: a model or a Table)."""
    table = READING_TABLES[metric.reading]
    return getattr(table, "__tablename__", None) or table.name


METRICS: tuple[Metric, ...] = (
    Metric("recovery", "recovery", "recovery_score", "%", WHOOP_WAKE_DAY, "WHOOP recovery score"),
    Metric("hrv", "recovery", "hrv_rmssd_milli", "ms", WHOOP_WAKE_DAY, "heart rate variability (RMSSD) in sleep"),
    Metric("resting_hr", "recovery", "resting_heart_rate", "bpm", WHOOP_WAKE_DAY, "resting heart rate"),
    Metric("spo2", "recovery", "spo2_percentage", "%", WHOOP_WAKE_DAY, "blood oxygen in sleep"),
    Metric("skin_temp", "recovery", "skin_temp_celsius", "°C", WHOOP_WAKE_DAY, "skin temperature in sleep"),
    Metric("strain", "strain", "strain", "WHOOP strain (0-21)", WHOOP_WAKE_DAY, "the cycle's day strain"),
    Metric(
        "sleep_performance",
        "sleep",
        "sleep_performance_percentage",
        "%",
        "the local day the sleep ended (its offset)",
        "WHOOP sleep performance of the main sleep",
    ),
    Metric(
        "sleep_hours",
        "sleep",
        "sleep_hours",
        "h",
        "the local day the sleep ended (its offset)",
        "WHOOP hours asleep (in bed minus awake) of the main sleep",
    ),
    Metric(
        "respiratory_rate",
        "sleep",
        "respiratory_rate",
        "breaths/min",
        "the local day the sleep ended (its offset)",
        "WHOOP respiratory rate in sleep",
    ),
    Metric(
        "withings_sleep_hours",
        "withings_sleep",
        "withings_sleep_hours",
        "h",
        "the local day the night ended (its time zone)",
        "Withings total sleep time",
    ),
    Metric(
        "sleep_score",
        "withings_sleep",
        "sleep_score",
        "0-100",
        "the local day the night ended (its time zone)",
        "Withings sleep score",
    ),
    Metric("steps", "steps", "steps", "steps", "Withings' own local date of the activity day", "steps of the day"),
    Metric(
        "distance_km",
        "steps",
        "distance_km",
        "km",
        "Withings' own local date of the activity day",
        "distance walked and run that day",
    ),
    Metric("weight", "weight", "weight_kg", "kg", "the local day of the weigh-in (its time zone)", "body weight"),
    Metric(
        "body_fat", "body_fat", "fat_ratio_pct", "%", "the local day of the weigh-in (its time zone)", "body fat ratio"
    ),
    Metric(
        "bp_systolic",
        "blood_pressure",
        "systolic_mmhg",
        "mmHg",
        "the local day of the reading (its time zone)",
        "systolic blood pressure",
    ),
    Metric(
        "bp_diastolic",
        "blood_pressure",
        "diastolic_mmhg",
        "mmHg",
        "the local day of the reading (its time zone)",
        "diastolic blood pressure, of the same reading",
    ),
    Metric(
        "heart_rate",
        "heart_rate",
        "heart_rate_bpm",
        "bpm",
        "the local day of the reading (its time zone)",
        "pulse measured by a Withings scale or cuff",
    ),
)
IN_DAILY = frozenset(m.name for m in METRICS)  # the `daily` view's columns (migration 0007)

# Read from the Withings series, workouts and ECGs (migration 0018's `daily_detail` view files them by day).
NIGHT_DAY = "the local day the Withings night ended (its time zone)"
UTC_DAY = "the UTC day (the samples carry no time zone)"
METRICS += (
    Metric("night_lowest_hr", "night_lowest_hr", "night_lowest_hr", "bpm", NIGHT_DAY, "lowest heart rate of the night"),
    Metric(
        "night_average_hr", "night_average_hr", "night_average_hr", "bpm", NIGHT_DAY, "average heart rate of the night"
    ),
    Metric("night_hrv", "night_hrv", "night_hrv", "ms", NIGHT_DAY, "average HRV (RMSSD) of the night's minutes"),
    Metric(
        "night_breathing_rate",
        "night_breathing_rate",
        "night_breathing_rate",
        "breaths/min",
        NIGHT_DAY,
        "average breathing rate of the night's minutes",
    ),
    Metric(
        "intraday_steps",
        "intraday_steps",
        "intraday_steps",
        "steps",
        UTC_DAY,
        "the day's intraday step samples added up, on days with no Withings activity steps",
    ),
    Metric(
        "withings_workouts",
        "withings_workouts",
        "withings_workouts",
        "workouts",
        "Withings' own local date of the workout",
        "Withings workouts of the day",
    ),
    Metric("ecg_count", "ecg_count", "ecg_count", "recordings", UTC_DAY, "Withings ECG recordings of the day"),
    Metric(
        "ecg_classification",
        "ecg_classification",
        "afib_name",
        "negative / positive / inconclusive",
        UTC_DAY,
        "atrial fibrillation classification of the day's last classified ECG",
        numeric=False,
    ),
)
BY_NAME = {m.name: m for m in METRICS}


def get(name: str) -> Metric:
    """The metric called `name`; ValueError naming the valid ones otherwise."""
    if name not in BY_NAME:
        raise ValueError(f"unknown metric {name!r}; choose one of: {', '.join(BY_NAME)}")
    return BY_NAME[name]


def _live(model, now: datetime | None, when) -> tuple:
    return (model.deleted_at.is_(None), model.flag.is_(None), when <= latest_plausible(now or clock.utcnow()))


def _recovery(now: datetime | None) -> Select:
    cycle = and_(
        Cycle.user_id == Recovery.user_id, Cycle.whoop_id == Recovery.whoop_cycle_id, Cycle.deleted_at.is_(None)
    )
    return (
        select(*Recovery.__table__.c, Cycle.start.label("at"), Cycle.whoop_id.label("tie"))
        .join(Cycle, cycle)
        .where(
            *_live(Recovery, now, Cycle.start), Recovery.score_state == "SCORED", Recovery.recovery_score.is_not(None)
        )
    )


def _strain(now: datetime | None) -> Select:
    return select(*Cycle.__table__.c, Cycle.start.label("at"), Cycle.whoop_id.label("tie")).where(
        *_live(Cycle, now, Cycle.start), Cycle.score_state == "SCORED", Cycle.strain.is_not(None)
    )


def _sleep(now: datetime | None) -> Select:
    asleep = (Sleep.total_in_bed_time_milli - func.coalesce(Sleep.total_awake_time_milli, 0)) / MS_PER_HOUR
    return select(
        *Sleep.__table__.c, asleep.label("sleep_hours"), Sleep.end.label("at"), Sleep.whoop_id.label("tie")
    ).where(
        *_live(Sleep, now, Sleep.start),
        Sleep.score_state == "SCORED",
        or_(Sleep.nap.is_(None), Sleep.nap.is_(False)),
        Sleep.sleep_performance_percentage.is_not(None),
    )


def _withings_sleep(now: datetime | None) -> Select:
    night = WithingsSleepSummary
    return select(
        *night.__table__.c,
        (night.total_sleep_time_s / SECONDS_PER_HOUR).label("withings_sleep_hours"),
        night.end.label("at"),
        night.withings_id.label("tie"),
    ).where(*_live(night, now, night.end), night.total_sleep_time_s.is_not(None))


def _steps(now: datetime | None) -> Select:
    day = WithingsActivity
    return select(
        *day.__table__.c, (day.distance_m / 1000.0).label("distance_km"), day.date.label("at"), day.id.label("tie")
    ).where(
        day.deleted_at.is_(None),
        day.flag.is_(None),
        day.date <= latest_plausible(now or clock.utcnow()).date(),
        day.steps.is_not(None),
    )


def _measured(model, column: str):
    """Counted readings of a Withings table with `column`; attrib 1 only when no other exists."""

    def reading(now: datetime | None) -> Select:
        other = aliased(model)
        trusted = or_(other.attrib.is_(None), other.attrib != AMBIGUOUS_ATTRIB)
        another = exists().where(other.user_id == model.user_id, *_counted(other, column, now), trusted)
        return select(*model.__table__.c, model.measured_at.label("at"), model.grpid.label("tie")).where(
            *_counted(model, column, now), or_(model.attrib.is_(None), model.attrib != AMBIGUOUS_ATTRIB, ~another)
        )

    return reading


def _counted(model, column: str, now: datetime | None) -> tuple:
    return (*_live(model, now, model.measured_at), getattr(model, column).is_not(None))


class utc_day(FunctionElement):
    """The UTC calendar day of a stored time, in either dialect."""

    type = Date()
    inherit_cache = True


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)})"  # stored as naive UTC text


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element, compiler, **kw):
    return f"CAST(({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC') AS DATE)"


def _series_live(table, when, now: datetime | None) -> tuple:
    return (table.c.deleted_at.is_(None), table.c.flag.is_(None), when <= latest_plausible(now or clock.utcnow()))


# A night's figure: an aggregate of its minutes (live, unflagged, between the night's start and end).
NIGHT_FIGURES = {
    "night_lowest_hr": lambda m: func.min(m.c.hr),
    "night_average_hr": lambda m: cast(func.avg(m.c.hr), Float),
    "night_hrv": lambda m: cast(func.avg(m.c.rmssd), Float),
    "night_breathing_rate": lambda m: cast(func.avg(m.c.rr), Float),
}


def _night(name: str):
    """Live, unflagged Withings nights with figure `name` of their minutes, one row a night (a night
    without a total sleep time still has its minutes)."""

    def reading(now: datetime | None) -> Select:
        night, minute = WithingsSleepSummary, withings_sleep_series
        figure = NIGHT_FIGURES[name](minute)
        during = and_(
            minute.c.user_id == night.user_id,
            minute.c.measured_at >= night.start,
            minute.c.measured_at <= night.end,
            minute.c.deleted_at.is_(None),
            minute.c.flag.is_(None),
        )
        return (
            select(
                night.id,
                night.user_id,
                night.local_date,
                night.end.label("at"),
                night.withings_id.label("tie"),
                figure.label(name),
            )
            .join(minute, during)
            .where(*_live(night, now, night.end))
            .group_by(night.id, night.user_id, night.local_date, night.end, night.withings_id)
            .having(figure.is_not(None))
        )

    return reading


def _intraday_steps(now: datetime | None) -> Select:
    sample, day = withings_intraday, utc_day(withings_intraday.c.measured_at)
    activity = exists().where(
        WithingsActivity.user_id == sample.c.user_id,
        WithingsActivity.date == day,
        WithingsActivity.deleted_at.is_(None),
        WithingsActivity.flag.is_(None),
        WithingsActivity.steps.is_not(None),
    )
    return (
        select(
            sample.c.user_id,
            day.label("day"),
            func.max(sample.c.measured_at).label("at"),
            day.label("tie"),
            func.sum(sample.c.steps).label("intraday_steps"),
        )
        .where(*_series_live(sample, sample.c.measured_at, now), sample.c.steps.is_not(None), ~activity)
        .group_by(sample.c.user_id, day)
    )


def _workouts(now: datetime | None) -> Select:
    workout = withings_workout
    return (
        select(
            workout.c.user_id,
            workout.c.date.label("day"),
            func.max(workout.c.start).label("at"),
            workout.c.date.label("tie"),
            func.count().label("withings_workouts"),
        )
        .where(*_series_live(workout, workout.c.start, now), workout.c.date.is_not(None))
        .group_by(workout.c.user_id, workout.c.date)
    )


def _ecg_count(now: datetime | None) -> Select:
    ecg, day = withings_ecg, utc_day(withings_ecg.c.recorded_at)
    return (
        select(
            ecg.c.user_id,
            day.label("day"),
            func.max(ecg.c.recorded_at).label("at"),
            day.label("tie"),
            func.count().label("ecg_count"),
        )
        .where(*_series_live(ecg, ecg.c.recorded_at, now))
        .group_by(ecg.c.user_id, day)
    )


def _ecg_classification(now: datetime | None) -> Select:
    ecg = withings_ecg
    return select(*ecg.c, ecg.c.recorded_at.label("at"), ecg.c.timestamp.label("tie")).where(
        *_series_live(ecg, ecg.c.recorded_at, now), ecg.c.afib_name.is_not(None)
    )


READINGS = {
    "recovery": _recovery,
    "strain": _strain,
    "sleep": _sleep,
    "withings_sleep": _withings_sleep,
    "steps": _steps,
    "weight": _measured(WithingsWeight, "weight_kg"),
    "body_fat": _measured(WithingsWeight, "fat_ratio_pct"),
    "blood_pressure": _measured(WithingsHeartRate, "systolic_mmhg"),
    "heart_rate": _measured(WithingsHeartRate, "heart_rate_bpm"),
    **{name: _night(name) for name in NIGHT_FIGURES},
    "intraday_steps": _intraday_steps,
    "withings_workouts": _workouts,
    "ecg_count": _ecg_count,
    "ecg_classification": _ecg_classification,
}


# The table each kind of reading counts rows of (its provider, hence whose rows they are).
READING_TABLES = {
    "recovery": Recovery,
    "strain": Cycle,
    "sleep": Sleep,
    "withings_sleep": WithingsSleepSummary,
    "steps": WithingsActivity,
    "weight": WithingsWeight,
    "body_fat": WithingsWeight,
    "blood_pressure": WithingsHeartRate,
    "heart_rate": WithingsHeartRate,
    **dict.fromkeys(NIGHT_FIGURES, WithingsSleepSummary),
    "intraday_steps": withings_intraday,
    "withings_workouts": withings_workout,
    "ecg_count": withings_ecg,
    "ecg_classification": withings_ecg,
}


def readings(name: str, now: datetime | None = None, account: int | None = None) -> Select:
    """The rows that count for metric `name` (every column of its table, `at` and `tie`), unordered;
    only the account's when one is given."""
    reading = get(name).reading
    return READINGS[reading](now).where(*owned(READING_TABLES[reading], account))


def latest(conn: Connection, name: str, now: datetime | None = None, account: int | None = None) -> dict | None:
    """The row that counts as metric `name`'s latest (newest `at`, then highest API id), or None."""
    query = readings(name, now, account).subquery()
    row = conn.execute(select(query).order_by(query.c.at.desc(), query.c.tie.desc()).limit(1)).first()
    if row is None:
        return None
    found = dict(row._mapping)
    found["value"] = found[get(name).column]
    return found


def series(
    conn: Connection,
    name: str,
    since: datetime,
    until: datetime | None = None,
    limit: int = 2000,
    account: int | None = None,
) -> list[dict]:
    """The counted rows of metric `name` with `at` after `since` (up to `until`), oldest first."""
    query = readings(name, until, account).subquery()
    bounds = [query.c.at > since] + ([query.c.at <= until] if until is not None else [])
    rows = conn.execute(select(query).where(*bounds).order_by(query.c.at.desc(), query.c.tie.desc()).limit(limit))
    return [dict(r._mapping) for r in rows][::-1]
