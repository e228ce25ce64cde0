"""Withings workouts, ECG recordings with their signal, devices, and the WHOOP basic profile.

Revision ID: 0015_withings_devices
Revises: 0014_withings_series
Create Date: 2026-12-07

Four new tables beside the existing ones; nothing that exists is renamed or dropped.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015_withings_devices"
down_revision = "0014_withings_series"
branch_labels = None
depends_on = None


def _ts(name, nullable=True):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _row_columns():
    """Every data table's surrogate key, owner, raw API record, write time, deletion mark and flag."""
    return [
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("raw", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        _ts("synced_at", nullable=False),
        _ts("deleted_at"),
        sa.Column("flag", sa.Text()),
    ]


def _ints(*names):
    return [sa.Column(name, sa.Integer()) for name in names]


def _floats(*names):
    return [sa.Column(name, sa.Float()) for name in names]


def _unique(table, *columns):
    return sa.UniqueConstraint(*columns, name=op.f(f"uq_{table}_{columns[0]}_{columns[1]}"))


def _index(table, column):
    op.create_index(op.f(f"ix_{table}_{column}"), table, [column])


def _workout() -> None:
    op.create_table(
        "withings_workout",
        sa.Column("withings_id", sa.BigInteger(), nullable=False),
        *_ints("category"),
        sa.Column("category_name", sa.String(64)),
        _ts("start", nullable=False),
        _ts("end"),
        sa.Column("date", sa.Date()),
        sa.Column("timezone", sa.String(64)),
        *_ints("model", "attrib"),
        sa.Column("device_id", sa.String(64)),
        _ts("modified_at"),
        *_floats("calories_kcal"),
        *_ints("intensity", "manual_intensity"),
        *_floats("manual_distance_m", "manual_calories_kcal"),
        *_ints("hr_average", "hr_min", "hr_max", "hr_zone_0_s", "hr_zone_1_s", "hr_zone_2_s", "hr_zone_3_s"),
        *_ints("pause_duration_s", "algo_pause_duration_s"),
        *_floats("spo2_average", "core_body_temperature_avg", "core_body_temperature_min"),
        *_floats("core_body_temperature_max"),
        sa.Column("core_body_temperature_status", sa.String(32)),
        *_ints("steps"),
        *_floats("distance_m", "elevation_floors"),
        *_ints("pool_laps", "strokes"),
        *_floats("pool_length_m"),
        *_row_columns(),
        _unique("withings_workout", "user_id", "withings_id"),
    )
    _index("withings_workout", "start")
    _index("withings_workout", "modified_at")


def _ecg() -> None:
    op.create_table(
        "withings_ecg",
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        _ts("recorded_at", nullable=False),
        _ts("modified_at"),
        sa.Column("device_id", sa.String(64)),
        *_ints("model"),
        sa.Column("signal_id", sa.BigInteger()),
        *_ints("afib"),
        sa.Column("afib_name", sa.String(16)),
        *_ints("heart_rate", "systole", "diastole", "wear_position"),
        *_ints("sampling_frequency", "sample_count", "sample_bytes"),
        sa.Column("signal", sa.LargeBinary()),
        *_row_columns(),
        _unique("withings_ecg", "user_id", "timestamp"),
    )
    _index("withings_ecg", "recorded_at")


def _device() -> None:
    op.create_table(
        "withings_device",
        sa.Column("device_key", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64)),
        sa.Column("model", sa.String(100)),
        *_ints("model_id"),
        sa.Column("battery", sa.String(16)),
        sa.Column("firmware", sa.String(64)),
        _ts("first_session_at"),
        _ts("last_session_at"),
        sa.Column("timezone", sa.String(64)),
        _ts("fetched_at", nullable=False),
        *_row_columns(),
        _unique("withings_device", "user_id", "device_key"),
    )
    _index("withings_device", "last_session_at")


def _profile() -> None:
    op.create_table(
        "whoop_profile",
        sa.Column("value_key", sa.String(64), nullable=False),
        sa.Column("first_name", sa.String(200)),
        sa.Column("last_name", sa.String(200)),
        _ts("first_seen_at", nullable=False),
        _ts("last_seen_at", nullable=False),
        *_row_columns(),
        _unique("whoop_profile", "user_id", "value_key"),
    )
    _index("whoop_profile", "last_seen_at")


def upgrade() -> None:
    _workout()
    _ecg()
    _device()
    _profile()


def downgrade() -> None:
    for table in ("whoop_profile", "withings_device", "withings_ecg", "withings_workout"):
        op.drop_table(table)
