"""Release 1.2.0: WHOOP body measurement history, Withings daily activity and sleep summaries.

Revision ID: 0004_activity_sleep_body
Revises: 0003_data_fidelity
Create Date: 2026-11-26

Three new tables beside the existing ones; nothing that exists is renamed or dropped.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_activity_sleep_body"
down_revision = "0003_data_fidelity"
branch_labels = None
depends_on = None


def _ts(name, nullable=True):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _row_columns():
    """Every data table's surrogate key, owner, raw API record, write time and deletion mark."""
    return [
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("raw", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        _ts("synced_at", nullable=False),
        _ts("deleted_at"),  # set when the API stops returning the record (0003_data_fidelity)
    ]


def _ints(*names):
    return [sa.Column(name, sa.Integer()) for name in names]


def _floats(*names):
    return [sa.Column(name, sa.Float()) for name in names]


def upgrade() -> None:
    op.create_table(
        "whoop_body_measurement",
        *_row_columns(),
        sa.Column("value_key", sa.String(64), nullable=False),
        *_floats("height_meter", "weight_kilogram"),
        *_ints("max_heart_rate"),
        _ts("first_seen_at", nullable=False),
        _ts("last_seen_at", nullable=False),
        sa.UniqueConstraint("user_id", "value_key", name=op.f("uq_whoop_body_measurement_user_id_value_key")),
    )
    op.create_index(op.f("ix_whoop_body_measurement_last_seen_at"), "whoop_body_measurement", ["last_seen_at"])
    op.create_table(
        "withings_activity",
        *_row_columns(),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("timezone", sa.String(64)),
        _ts("modified_at"),
        sa.Column("device_id", sa.String(64)),
        sa.Column("model", sa.String(100)),
        *_ints("model_id", "brand"),
        sa.Column("is_tracker", sa.Boolean()),
        *_ints("steps"),
        *_floats("distance_m", "elevation_floors"),
        *_ints("soft_s", "moderate_s", "intense_s", "active_s"),
        *_floats("calories_kcal", "total_calories_kcal"),
        *_ints("hr_average", "hr_min", "hr_max", "hr_zone_0_s", "hr_zone_1_s", "hr_zone_2_s", "hr_zone_3_s"),
        sa.UniqueConstraint("user_id", "date", name=op.f("uq_withings_activity_user_id_date")),
    )
    op.create_index(op.f("ix_withings_activity_modified_at"), "withings_activity", ["modified_at"])
    op.create_table(
        "withings_sleep_summary",
        *_row_columns(),
        sa.Column("withings_id", sa.BigInteger(), nullable=False),
        _ts("start", nullable=False),
        _ts("end", nullable=False),
        sa.Column("date", sa.Date()),
        sa.Column("timezone", sa.String(64)),
        _ts("created_at"),
        _ts("modified_at"),
        *_ints("model", "model_id"),
        sa.Column("device_id", sa.String(64)),
        *_ints(
            "total_timeinbed_s",
            "total_sleep_time_s",
            "light_sleep_s",
            "deep_sleep_s",
            "rem_sleep_s",
            "awake_s",
            "wakeup_count",
        ),
        *_floats("sleep_efficiency"),
        *_ints(
            "sleep_latency_s",
            "sleep_score",
            "hr_average",
            "hr_min",
            "hr_max",
            "rr_average",
            "rr_min",
            "rr_max",
            "snoring_s",
            "snoring_episodes",
        ),
        sa.UniqueConstraint("user_id", "withings_id", name=op.f("uq_withings_sleep_summary_user_id_withings_id")),
    )
    op.create_index(op.f("ix_withings_sleep_summary_start"), "withings_sleep_summary", ["start"])
    op.create_index(op.f("ix_withings_sleep_summary_end"), "withings_sleep_summary", ["end"])


def downgrade() -> None:
    op.drop_table("withings_sleep_summary")
    op.drop_table("withings_activity")
    op.drop_table("whoop_body_measurement")
