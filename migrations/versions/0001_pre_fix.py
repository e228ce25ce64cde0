"""Pre-fix layout (releases before 1.1.1): the data tables, with no natural keys.

Revision ID: 0001_pre_fix
Revises:
Create Date: 2026-11-24

Frozen on purpose: this is the schema the pre-fix ETL wrote blindly into, which is why
duplicates could pile up. It does not import models.py, so later model changes never alter it.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_pre_fix"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name, nullable=True):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _common():
    return [
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("raw", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        _ts("synced_at", nullable=False),
    ]


def _whoop_common():
    return _common() + [
        sa.Column("score_state", sa.String(32), nullable=False),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.Column("timezone_offset", sa.String(8)),
    ]


def _withings_common():
    return _common() + [
        sa.Column("grpid", sa.BigInteger(), nullable=False),
        _ts("measured_at", nullable=False),
        sa.Column("timezone", sa.String(64)),
        _ts("created_at"),
        _ts("modified_at"),
        sa.Column("attrib", sa.Integer()),
        sa.Column("category", sa.Integer()),
        sa.Column("device_id", sa.String(64)),
        sa.Column("model", sa.String(100)),
    ]


def _floats(*names):
    return [sa.Column(n, sa.Float()) for n in names]


def _bigints(*names):
    return [sa.Column(n, sa.BigInteger()) for n in names]


def upgrade() -> None:
    op.create_table(
        "cycles",
        *_whoop_common(),
        sa.Column("whoop_id", sa.BigInteger(), nullable=False),
        _ts("start", nullable=False),
        _ts("end"),
        *_floats("strain", "kilojoule"),
        sa.Column("average_heart_rate", sa.Integer()),
        sa.Column("max_heart_rate", sa.Integer()),
    )
    op.create_table(
        "sleep",
        *_whoop_common(),
        sa.Column("whoop_id", sa.String(36), nullable=False),
        sa.Column("whoop_cycle_id", sa.BigInteger()),
        sa.Column("v1_id", sa.BigInteger()),
        sa.Column("nap", sa.Boolean(), nullable=False),
        _ts("start", nullable=False),
        _ts("end", nullable=False),
        *_floats(
            "respiratory_rate",
            "sleep_performance_percentage",
            "sleep_consistency_percentage",
            "sleep_efficiency_percentage",
        ),
        *_bigints(
            "total_in_bed_time_milli",
            "total_awake_time_milli",
            "total_no_data_time_milli",
            "total_light_sleep_time_milli",
            "total_slow_wave_sleep_time_milli",
            "total_rem_sleep_time_milli",
        ),
        sa.Column("sleep_cycle_count", sa.Integer()),
        sa.Column("disturbance_count", sa.Integer()),
        *_bigints(
            "baseline_milli",
            "need_from_sleep_debt_milli",
            "need_from_recent_strain_milli",
            "need_from_recent_nap_milli",
        ),
    )
    op.create_table(
        "recovery",
        *_whoop_common(),
        sa.Column("whoop_cycle_id", sa.BigInteger(), nullable=False),
        sa.Column("whoop_sleep_id", sa.String(36), nullable=False),
        sa.Column("user_calibrating", sa.Boolean()),
        *_floats("recovery_score", "resting_heart_rate", "hrv_rmssd_milli", "spo2_percentage", "skin_temp_celsius"),
    )
    op.create_table(
        "workout",
        *_whoop_common(),
        sa.Column("whoop_id", sa.String(36), nullable=False),
        sa.Column("v1_id", sa.BigInteger()),
        sa.Column("sport_name", sa.String(100)),
        sa.Column("sport_id", sa.Integer()),
        _ts("start", nullable=False),
        _ts("end", nullable=False),
        sa.Column("strain", sa.Float()),
        sa.Column("average_heart_rate", sa.Integer()),
        sa.Column("max_heart_rate", sa.Integer()),
        *_floats("kilojoule", "percent_recorded", "distance_meter", "altitude_gain_meter", "altitude_change_meter"),
        *_bigints(
            "zone_zero_milli",
            "zone_one_milli",
            "zone_two_milli",
            "zone_three_milli",
            "zone_four_milli",
            "zone_five_milli",
        ),
    )
    op.create_table(
        "withings_weight",
        *_withings_common(),
        *_floats(
            "weight_kg",
            "fat_free_mass_kg",
            "fat_ratio_pct",
            "fat_mass_kg",
            "muscle_mass_kg",
            "hydration_kg",
            "bone_mass_kg",
        ),
    )
    op.create_table(
        "withings_heart_rate",
        *_withings_common(),
        *_floats("heart_rate_bpm", "systolic_mmhg", "diastolic_mmhg", "pulse_wave_velocity_m_s", "vascular_age"),
    )


def downgrade() -> None:
    for table in ("withings_heart_rate", "withings_weight", "workout", "recovery", "sleep", "cycles"):
        op.drop_table(table)
