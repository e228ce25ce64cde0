"""A `daily` view: one row per local day (and person), for people's SQL and Grafana panels.

Revision ID: 0007_daily_view
Revises: 0006_withings_fields
Create Date: 2026-12-03

Columns are only added, and the view is new: every table and column that exists stays as it is.
- `local_date` on withings_weight and withings_heart_rate (the day of `measured_at`) and on
  withings_sleep_summary (the day of `end`), in the record's IANA `timezone`. SQLite has no time
  zone database, so the day is computed once in Python (mapping.fields.local_date) and stored;
  existing rows are filled here. A missing or unknown zone name files the UTC day.
- WHOOP rows carry a fixed `timezone_offset` ("+02:00"), which both dialects add in SQL.

The view applies the metric catalog's row rules (readers/metrics.py; tests/readers/test_every_reader_gives_the_same_answer.py
holds the two in step): live (deleted_at IS NULL), not flagged, WHOOP scores SCORED, nothing
dated after the database's now + 2 days, WHOOP sleeps that are not naps, and a Withings reading
Withings marks as possibly someone else's (attrib 1) only for a person with no other reading
of that measure. Of several readings in a day, the last one counts (then the highest API id).
The columns are documented in the README and stay as they are: a change is a new view beside
this one. A later SQLite batch migration of a table the view reads drops and re-creates it.
"""

from datetime import timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from alembic import op

revision = "0007_daily_view"
down_revision = "0006_withings_fields"
branch_labels = None
depends_on = None

LOCAL_DATE_OF = {
    "withings_weight": "measured_at",
    "withings_heart_rate": "measured_at",
    "withings_sleep_summary": "end",
}
BATCH = 1000
# Per dialect: the database's "now + 2 days", today + 2 days, and a WHOOP offset's pattern test.
NOW = {"sqlite": "datetime('now', '+2 days')", "postgresql": "now() + interval '2 days'"}
TODAY = {"sqlite": "date('now', '+2 days')", "postgresql": "CURRENT_DATE + 2"}


def _day(dialect: str, ts: str, offset: str, shift_hours: int = 0) -> str:
    """The local date of the UTC time `ts` at WHOOP's fixed `offset` (the UTC date without one)."""
    if dialect == "sqlite":
        shift = f", '+{shift_hours} hours'" if shift_hours else ""
        return (
            f"CASE WHEN {offset} GLOB '[+-][0-9][0-9]:[0-9][0-9]' THEN date({ts}, {offset}{shift}) "
            f"ELSE date({ts}{shift}) END"
        )
    shift = f" + interval '{shift_hours} hours'" if shift_hours else ""
    utc = f"({ts} AT TIME ZONE 'UTC')"
    return (
        f"CASE WHEN {offset} ~ '^[+-][0-9]{{2}}:[0-9]{{2}}$' "
        f"THEN CAST({utc} + CAST({offset} AS interval){shift} AS date) ELSE CAST({utc}{shift} AS date) END"
    )


def _pick(name: str, source: str, values: str, order: str) -> str:
    """A CTE: per (user_id, day), the source row that counts (the day's last by `order`)."""
    return (
        f"{name} AS (SELECT * FROM (SELECT user_id, day, {values}, ROW_NUMBER() OVER "
        f"(PARTITION BY user_id, day ORDER BY {order}) AS n FROM ({source}) s) ranked WHERE n = 1)"
    )


def _withings(table: str, value: str, now: str) -> str:
    """Counted rows of a Withings measure table with `value`, attrib 1 only without another."""
    counted = (
        f"{{t}}.deleted_at IS NULL AND {{t}}.flag IS NULL AND {{t}}.measured_at <= {now} AND {{t}}.{value} IS NOT NULL"
    )
    return (
        f"SELECT t.*, t.local_date AS day FROM {table} t WHERE {counted.format(t='t')} AND "
        f"(t.attrib IS NULL OR t.attrib <> 1 OR NOT EXISTS (SELECT 1 FROM {table} o WHERE o.user_id = t.user_id "
        f"AND {counted.format(t='o')} AND (o.attrib IS NULL OR o.attrib <> 1)))"
    )


def _whoop_sources(dialect: str, now: str) -> list[str]:
    """Recovery (with its cycle's day), strain and main sleep, each counted by the catalog's rules."""
    wake = _day(dialect, 's."end"', "s.timezone_offset")
    cycle_day = f"COALESCE({wake}, {_day(dialect, 'c.start', 'c.timezone_offset', 12)})"
    recovery = (
        f"SELECT r.*, c.start AS cycle_start, c.whoop_id AS tie, {cycle_day} AS day FROM recovery r "
        "JOIN cycles c ON c.user_id = r.user_id AND c.whoop_id = r.whoop_cycle_id AND c.deleted_at IS NULL "
        "LEFT JOIN sleep s ON s.user_id = r.user_id AND s.whoop_id = r.whoop_sleep_id AND s.deleted_at IS NULL "
        f"WHERE r.deleted_at IS NULL AND r.flag IS NULL AND r.score_state = 'SCORED' AND c.start <= {now} "
        "AND r.recovery_score IS NOT NULL"
    )
    strain = (
        f"SELECT c.*, {cycle_day} AS day FROM cycles c "
        "LEFT JOIN recovery r ON r.user_id = c.user_id AND r.whoop_cycle_id = c.whoop_id "
        "AND r.deleted_at IS NULL "
        "LEFT JOIN sleep s ON s.user_id = r.user_id AND s.whoop_id = r.whoop_sleep_id AND s.deleted_at IS NULL "
        f"WHERE c.deleted_at IS NULL AND c.flag IS NULL AND c.score_state = 'SCORED' AND c.start <= {now} "
        "AND c.strain IS NOT NULL"
    )
    sleep = (
        f"SELECT s.*, {wake} AS day FROM sleep s WHERE s.deleted_at IS NULL AND s.flag IS NULL "
        f"AND s.score_state = 'SCORED' AND (s.nap IS NULL OR s.nap = {'0' if dialect == 'sqlite' else 'false'}) "
        f"AND s.start <= {now} AND s.sleep_performance_percentage IS NOT NULL"
    )
    return [
        _pick(
            "rec",
            recovery,
            "recovery_score AS recovery, hrv_rmssd_milli AS hrv, resting_heart_rate AS resting_hr, "
            "spo2_percentage AS spo2, skin_temp_celsius AS skin_temp",
            "cycle_start DESC, tie DESC",
        ),
        _pick("str", strain, "strain", "start DESC, whoop_id DESC"),
        _pick(
            "slp",
            sleep,
            "sleep_performance_percentage AS sleep_performance, "
            "CAST((total_in_bed_time_milli - COALESCE(total_awake_time_milli, 0)) / 3600000.0 AS DOUBLE PRECISION) "
            "AS sleep_hours, "
            "respiratory_rate",
            '"end" DESC, whoop_id DESC',
        ),
    ]


def _withings_sources(dialect: str, now: str) -> list[str]:
    """Withings sleep, steps, weight, body fat, blood pressure and heart rate."""
    nights = (
        f"SELECT w.*, w.local_date AS day FROM withings_sleep_summary w WHERE w.deleted_at IS NULL "
        f'AND w.flag IS NULL AND w."end" <= {now} AND w.total_sleep_time_s IS NOT NULL'
    )
    steps = (
        f"SELECT a.*, a.date AS day FROM withings_activity a WHERE a.deleted_at IS NULL AND a.flag IS NULL "
        f"AND a.date <= {TODAY[dialect]} AND a.steps IS NOT NULL"
    )
    last = "measured_at DESC, grpid DESC"
    return [
        _pick(
            "wsl",
            nights,
            "CAST(total_sleep_time_s / 3600.0 AS DOUBLE PRECISION) AS withings_sleep_hours, sleep_score",
            '"end" DESC, withings_id DESC',
        ),
        _pick("act", steps, "steps, distance_m / 1000.0 AS distance_km", "day"),
        _pick("wgt", _withings("withings_weight", "weight_kg", now), "weight_kg AS weight", last),
        _pick("fat", _withings("withings_weight", "fat_ratio_pct", now), "fat_ratio_pct AS body_fat", last),
        _pick(
            "bp",
            _withings("withings_heart_rate", "systolic_mmhg", now),
            "systolic_mmhg AS bp_systolic, diastolic_mmhg AS bp_diastolic",
            last,
        ),
        _pick("hr", _withings("withings_heart_rate", "heart_rate_bpm", now), "heart_rate_bpm AS heart_rate", last),
    ]


COLUMNS = (
    "rec.recovery",
    "rec.hrv",
    "rec.resting_hr",
    "rec.spo2",
    "rec.skin_temp",
    "str.strain",
    "slp.sleep_performance",
    "slp.sleep_hours",
    "slp.respiratory_rate",
    "wsl.withings_sleep_hours",
    "wsl.sleep_score",
    "act.steps",
    "act.distance_km",
    "wgt.weight",
    "fat.body_fat",
    "bp.bp_systolic",
    "bp.bp_diastolic",
    "hr.heart_rate",
)


def view_sql(dialect: str) -> str:
    """CREATE VIEW daily: per local day, every metric's counted row side by side.

    WHOOP and Withings know the same person by different user ids, so a day's row carries both;
    a database holding two accounts of one provider gets a row per pair of accounts and day.
    """
    now = NOW[dialect]
    whoop, withings = _whoop_sources(dialect, now), _withings_sources(dialect, now)
    ctes = whoop + withings
    keys = {
        side: " UNION ".join(f"SELECT user_id, day FROM {cte.split(' ', 1)[0]}" for cte in group)
        for side, group in (("wk", whoop), ("nk", withings))
    }
    joins = " ".join(
        f"LEFT JOIN {n} ON {n}.user_id = {side}.user_id AND {n}.day = d.day"
        for side, group in (("wk", whoop), ("nk", withings))
        for n in (cte.split(" ", 1)[0] for cte in group)
    )
    return (
        f"CREATE VIEW daily AS WITH {', '.join(ctes)}, wk AS ({keys['wk']}), nk AS ({keys['nk']}), "
        "d AS (SELECT day FROM wk UNION SELECT day FROM nk) "
        f"SELECT d.day, wk.user_id AS whoop_user_id, nk.user_id AS withings_user_id, {', '.join(COLUMNS)} "
        f"FROM d LEFT JOIN wk ON wk.day = d.day LEFT JOIN nk ON nk.day = d.day {joins}"
    )


def _zone(name):
    try:
        return ZoneInfo(name) if name else timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def _fill_local_dates(conn, table: str, column: str) -> None:
    """Fill `local_date` of existing rows: the day of `column` in the row's `timezone`."""
    t = sa.table(
        table,
        sa.column("id"),
        sa.column(column, sa.DateTime(timezone=True)),
        sa.column("timezone"),
        sa.column("local_date", sa.Date()),
    )
    rows = conn.execute(sa.select(t.c.id, t.c[column], t.c.timezone).order_by(t.c.id)).all()
    update = t.update().where(t.c.id == sa.bindparam("row_id")).values(local_date=sa.bindparam("day"))
    for start in range(0, len(rows), BATCH):
        batch = []
        for row_id, when, zone in rows[start : start + BATCH]:
            when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)  # SQLite: naive UTC
            batch.append({"row_id": row_id, "day": when.astimezone(_zone(zone)).date()})
        conn.execute(update, batch)


def upgrade() -> None:
    conn = op.get_bind()
    for table, column in LOCAL_DATE_OF.items():
        op.add_column(table, sa.Column("local_date", sa.Date(), nullable=True))
        _fill_local_dates(conn, table, column)
    op.execute(view_sql(conn.dialect.name))


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS daily")
    for table in LOCAL_DATE_OF:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("local_date")
