"""Withings high-frequency series: sleep states, sleep series and intraday activity.

Revision ID: 0014_withings_series
Revises: 0013_backfill_resume
Create Date: 2026-12-07

Three new tables beside the existing ones; nothing that exists is renamed or dropped. Series
rows keep no `raw` copy (every documented field has a column; anything else goes to `extra`).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014_withings_series"
down_revision = "0013_backfill_resume"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _ts(name, nullable=True):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _own_columns(raw: bool):
    """Surrogate key, owner, the segment's raw record or the series' unknown fields, write time, mark, flag."""
    return [
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("raw", JSON, nullable=False) if raw else sa.Column("extra", JSON),
        _ts("synced_at", nullable=False),
        _ts("deleted_at"),
        sa.Column("flag", sa.Text()),
    ]


def _ints(*names):
    return [sa.Column(name, sa.Integer()) for name in names]


def _floats(*names):
    return [sa.Column(name, sa.Float()) for name in names]


def upgrade() -> None:
    op.create_table(
        "withings_sleep_segment",
        _ts("start", nullable=False),
        _ts("end", nullable=False),
        sa.Column("state", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(100)),
        sa.Column("model_id", sa.Integer(), nullable=False),
        *_own_columns(raw=True),
        sa.UniqueConstraint(
            "user_id", "start", "end", "state", "model_id", name=op.f("uq_withings_sleep_segment_user_id_start")
        ),
    )
    op.create_index(op.f("ix_withings_sleep_segment_end"), "withings_sleep_segment", ["end"])
    op.create_table(
        "withings_sleep_series",
        _ts("measured_at", nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        *_ints("hr", "snoring", "hrv_quality", "mvt_score", "breathing_sounds"),
        *_floats("rr", "sdnn_1", "rmssd", "chest_movement_rate", "withings_index"),
        *_own_columns(raw=False),
        sa.UniqueConstraint(
            "user_id", "measured_at", "model_id", name=op.f("uq_withings_sleep_series_user_id_measured_at")
        ),
    )
    op.create_table(
        "withings_intraday",
        _ts("measured_at", nullable=False),
        sa.Column("device_id", sa.String(64)),
        sa.Column("model", sa.String(100)),
        *_ints("model_id", "steps", "stroke", "pool_lap", "duration", "heart_rate", "hrv_quality"),
        *_floats(
            "elevation",
            "calories",
            "distance",
            "spo2_auto",
            "rmssd",
            "sdnn1",
            "core_body_temperature",
            "rr",
            "chest_movement_rate",
        ),
        *_own_columns(raw=False),
        sa.UniqueConstraint("user_id", "measured_at", name=op.f("uq_withings_intraday_user_id_measured_at")),
    )
    op.create_index(op.f("ix_withings_intraday_measured_at"), "withings_intraday", ["measured_at"])


def downgrade() -> None:
    op.drop_table("withings_intraday")
    op.drop_table("withings_sleep_series")
    op.drop_table("withings_sleep_segment")
