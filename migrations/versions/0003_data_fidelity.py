"""Release 1.2.0: every Withings measure, a quarantine for rejected records, soft deletes.

Revision ID: 0003_data_fidelity
Revises: 0002_v1_1_1
Create Date: 2026-12-01

- `withings_measure`: one row per group, meastype and position (every type getmeas returns).
- `quarantine`: records an API sent that could not be stored, verbatim, with the reason.
- `deleted_at` on every data table: a record the API no longer returns is marked, not deleted.
- `sleep.nap` becomes nullable: a missing `nap` is unknown, not False.
- The Withings cursor is reset, so the next run reads the whole Withings history once and
  stores the measures 1.1.1 dropped (SpO2, temperature, height, Body Scan composition). That
  is a few getmeas pages; WHOOP windows are untouched.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_data_fidelity"
down_revision = "0002_v1_1_1"
branch_labels = None
depends_on = None

DATA_TABLES = ("cycles", "sleep", "recovery", "workout", "withings_weight", "withings_heart_rate")


def _ts(name, nullable=True):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _surrogate():
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True)


def _create_withings_measure() -> None:
    op.create_table(
        "withings_measure",
        _surrogate(),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("raw", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        _ts("synced_at", nullable=False),
        _ts("deleted_at"),
        sa.Column("grpid", sa.BigInteger(), nullable=False),
        _ts("measured_at", nullable=False),
        sa.Column("timezone", sa.String(64)),
        _ts("created_at"),
        _ts("modified_at"),
        sa.Column("attrib", sa.Integer()),
        sa.Column("category", sa.Integer()),
        sa.Column("device_id", sa.String(64)),
        sa.Column("model", sa.String(100)),
        sa.Column("meastype", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("value_raw", sa.BigInteger(), nullable=False),
        sa.Column("unit", sa.Integer(), nullable=False),
        sa.UniqueConstraint("user_id", "grpid", "meastype", "position", name=op.f("uq_withings_measure_user_id_grpid")),
    )
    op.create_index(op.f("ix_withings_measure_measured_at"), "withings_measure", ["measured_at"])


def _create_quarantine() -> None:
    op.create_table(
        "quarantine",
        _surrogate(),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("resource", sa.String(32), nullable=False),
        sa.Column("record_key", sa.String(100)),
        sa.Column("fingerprint", sa.String(100), nullable=False),
        sa.Column("user_id", sa.BigInteger()),
        sa.Column("timezone", sa.String(64)),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _ts("first_seen_at", nullable=False),
        _ts("last_seen_at", nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.UniqueConstraint("source", "resource", "fingerprint", name=op.f("uq_quarantine_source_resource")),
    )


def upgrade() -> None:
    for table in DATA_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(_ts("deleted_at"))
            if table == "sleep":
                batch.alter_column("nap", existing_type=sa.Boolean(), nullable=True)
    _create_withings_measure()
    _create_quarantine()
    op.execute("UPDATE sync_state SET cursor = NULL WHERE source = 'withings'")


def downgrade() -> None:
    op.drop_table("quarantine")
    op.drop_index(op.f("ix_withings_measure_measured_at"), table_name="withings_measure")
    op.drop_table("withings_measure")
    op.execute("UPDATE sleep SET nap = false WHERE nap IS NULL")
    for table in DATA_TABLES:
        with op.batch_alter_table(table) as batch:
            if table == "sleep":
                batch.alter_column("nap", existing_type=sa.Boolean(), nullable=False)
            batch.drop_column("deleted_at")
