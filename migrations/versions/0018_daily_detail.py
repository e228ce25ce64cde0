"""A `daily_detail` view beside `daily`: its columns, then the night's series, intraday steps, workouts and ECGs.

Revision ID: 0018_daily_detail
Revises: 0017_bed_events
Create Date: 2026-12-07

`daily` stays as it is (people's SQL and panels read it); this view is new and has every column
of `daily` with the same values, then:
- night_lowest_hr, night_average_hr, night_hrv (RMSSD), night_breathing_rate: the lowest or average
  of the live, unflagged minutes of withings_sleep_series between a live, unflagged Withings night's
  start and end, filed under the night's local day (the last night of the day with a value);
- intraday_steps: the day's withings_intraday steps added up, on days without Withings activity steps;
- withings_workouts: the count of Withings workouts of Withings' own local date;
- ecg_count and ecg_classification: the day's ECG recordings and the classification of the last
  one that has one.
Intraday samples and ECGs carry no time zone, so they are filed under their UTC day. The rows
that count are the metric catalog's (readers/metrics.py); tests/readers/test_every_reader_gives_the_same_answer.py
holds the two in step. Its columns stay as they are: a change is a new view beside it. A later
SQLite batch migration of a table it reads drops and re-creates it (as `daily`).
"""

import importlib.util
from pathlib import Path

from alembic import op

revision = "0018_daily_detail"
down_revision = "0017_bed_events"
branch_labels = None
depends_on = None

VIEW = "daily_detail"
UTC_DAY = {"sqlite": "date({})", "postgresql": "CAST(({} AT TIME ZONE 'UTC') AS date)"}
NIGHT_FIGURES = {
    "nlo": ("night_lowest_hr", "MIN(m.hr)"),
    "nav": ("night_average_hr", "CAST(AVG(m.hr) AS DOUBLE PRECISION)"),
    "nhv": ("night_hrv", "CAST(AVG(m.rmssd) AS DOUBLE PRECISION)"),
    "nbr": ("night_breathing_rate", "CAST(AVG(m.rr) AS DOUBLE PRECISION)"),
}
COLUMNS = (
    *(f"{cte}.{name}" for cte, (name, _) in NIGHT_FIGURES.items()),
    "ist.intraday_steps",
    "wko.withings_workouts",
    "ecn.ecg_count",
    "ecl.ecg_classification",
)


def _daily_view():
    """Migration 0007, whose counted-row sources this view shares (they never change: `daily` is fixed)."""
    path = Path(__file__).with_name("0007_daily_view.py")
    spec = importlib.util.spec_from_file_location("daily_view_0007", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nights(pick, now: str) -> list[str]:
    """Per figure, the counted Withings nights with a value of it, the day's last night."""
    ctes = []
    for cte, (name, figure) in NIGHT_FIGURES.items():
        source = (
            f'SELECT w.user_id, w.local_date AS day, w."end", w.withings_id, {figure} AS {name} '
            "FROM withings_sleep_summary w JOIN withings_sleep_series m ON m.user_id = w.user_id "
            'AND m.measured_at >= w.start AND m.measured_at <= w."end" AND m.deleted_at IS NULL AND m.flag IS NULL '
            f'WHERE w.deleted_at IS NULL AND w.flag IS NULL AND w."end" <= {now} '
            f'GROUP BY w.id, w.user_id, w.local_date, w."end", w.withings_id HAVING {figure} IS NOT NULL'
        )
        ctes.append(pick(cte, source, name, '"end" DESC, withings_id DESC'))
    return ctes


def _detail_sources(pick, dialect: str, now: str) -> list[str]:
    utc = UTC_DAY[dialect]
    # Checked once a day (HAVING), not once a sample.
    no_activity = (
        "NOT EXISTS (SELECT 1 FROM withings_activity a WHERE a.user_id = s.user_id "
        "AND a.date = s.day AND a.deleted_at IS NULL AND a.flag IS NULL AND a.steps IS NOT NULL)"
    )
    intraday = (
        f"SELECT i.user_id, {utc.format('i.measured_at')} AS day, i.steps FROM withings_intraday i "
        f"WHERE i.deleted_at IS NULL AND i.flag IS NULL AND i.measured_at <= {now} AND i.steps IS NOT NULL"
    )
    ecgs = (
        f"SELECT e.*, {utc.format('e.recorded_at')} AS day FROM withings_ecg e "
        f"WHERE e.deleted_at IS NULL AND e.flag IS NULL AND e.recorded_at <= {now}"
    )
    classified = f"SELECT * FROM ({ecgs}) c WHERE afib_name IS NOT NULL"
    return [
        *_nights(pick, now),
        f"ist AS (SELECT user_id, day, SUM(steps) AS intraday_steps FROM ({intraday}) s GROUP BY user_id, day "
        f"HAVING {no_activity})",
        "wko AS (SELECT user_id, date AS day, COUNT(*) AS withings_workouts FROM withings_workout "
        f"WHERE deleted_at IS NULL AND flag IS NULL AND start <= {now} AND date IS NOT NULL GROUP BY user_id, date)",
        f"ecn AS (SELECT user_id, day, COUNT(*) AS ecg_count FROM ({ecgs}) e GROUP BY user_id, day)",
        pick("ecl", classified, "afib_name AS ecg_classification", 'recorded_at DESC, "timestamp" DESC'),
    ]


def view_sql(dialect: str) -> str:
    """CREATE VIEW daily_detail: `daily`'s sources and columns, then the ones above, paired by day as `daily`."""
    daily = _daily_view()
    now = daily.NOW[dialect]
    whoop = daily._whoop_sources(dialect, now)
    withings = daily._withings_sources(dialect, now) + _detail_sources(daily._pick, dialect, now)
    name = lambda cte: cte.split(" ", 1)[0]  # noqa: E731 - a CTE's name, its first word
    keys = {
        side: " UNION ".join(f"SELECT user_id, day FROM {name(cte)}" for cte in group)
        for side, group in (("wk", whoop), ("nk", withings))
    }
    joins = " ".join(
        f"LEFT JOIN {name(cte)} ON {name(cte)}.user_id = {side}.user_id AND {name(cte)}.day = d.day"
        for side, group in (("wk", whoop), ("nk", withings))
        for cte in group
    )
    columns = ", ".join((*daily.COLUMNS, *COLUMNS))
    return (
        f"CREATE VIEW {VIEW} AS WITH {', '.join(whoop + withings)}, wk AS ({keys['wk']}), nk AS ({keys['nk']}), "
        "d AS (SELECT day FROM wk UNION SELECT day FROM nk) "
        f"SELECT d.day, wk.user_id AS whoop_user_id, nk.user_id AS withings_user_id, {columns} "
        f"FROM d LEFT JOIN wk ON wk.day = d.day LEFT JOIN nk ON nk.day = d.day {joins}"
    )


def upgrade() -> None:
    op.execute(view_sql(op.get_bind().dialect.name))


def downgrade() -> None:
    op.execute(f"DROP VIEW IF EXISTS {VIEW}")
