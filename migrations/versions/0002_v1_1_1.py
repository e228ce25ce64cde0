"""Release 1.1.1: collapse duplicates, enforce natural keys, add sync_state and oauth_token.

Revision ID: 0002_v1_1_1
Revises: 0001_pre_fix
Create Date: 2026-11-24

The pre-fix ETL inserted blindly (one real database held 2,992 duplicate recovery rows).
Per natural key, the row with the newest API `updated_at` (Withings: `modified_at`) is kept,
ties broken by the newest row id; then the database itself enforces the keys.
"""

import logging

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_v1_1_1"
down_revision = "0001_pre_fix"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# table -> (natural keys, "newest first" ordering of duplicates)
NATURAL_KEYS = {
    "cycles": ([("user_id", "whoop_id")], "updated_at DESC, id DESC"),
    "sleep": ([("user_id", "whoop_id")], "updated_at DESC, id DESC"),
    "recovery": ([("user_id", "whoop_cycle_id"), ("user_id", "whoop_sleep_id")], "updated_at DESC, id DESC"),
    "workout": ([("user_id", "whoop_id")], "updated_at DESC, id DESC"),
    "withings_weight": ([("user_id", "grpid")], "modified_at IS NULL, modified_at DESC, id DESC"),
    "withings_heart_rate": ([("user_id", "grpid")], "modified_at IS NULL, modified_at DESC, id DESC"),
}
START_INDEXES = {
    "cycles": "start",
    "sleep": "start",
    "workout": "start",
    "withings_weight": "measured_at",
    "withings_heart_rate": "measured_at",
}


def _collapse(table: str, key: tuple[str, ...], order: str) -> int:
    cols = ", ".join(key)
    # Window functions: PostgreSQL, and SQLite >= 3.25.
    result = op.get_bind().execute(
        sa.text(
            f"DELETE FROM {table} WHERE id IN (SELECT id FROM ("
            f"SELECT id, ROW_NUMBER() OVER (PARTITION BY {cols} ORDER BY {order}) AS rn "
            f"FROM {table}) ranked WHERE rn > 1)"
        )
    )
    return result.rowcount or 0


def _ts(name, nullable=True):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _surrogate():
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True)


def upgrade() -> None:
    for table, (keys, order) in NATURAL_KEYS.items():
        removed = sum(_collapse(table, key, order) for key in keys)
        if removed:
            log.info("collapsed %d duplicate rows in %s (newest kept)", removed, table)
        with op.batch_alter_table(table) as batch:
            for key in keys:
                batch.create_unique_constraint(op.f(f"uq_{table}_{'_'.join(key)}"), list(key))
            if table in START_INDEXES:
                col = START_INDEXES[table]
                batch.create_index(op.f(f"ix_{table}_{col}"), [col])
            if table == "sleep":
                batch.create_index(op.f("ix_sleep_whoop_cycle_id"), ["whoop_cycle_id"])
    op.create_table(
        "sync_state",
        _surrogate(),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("resource", sa.String(32), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        _ts("window_start"),
        _ts("window_end"),
        sa.Column("cursor", sa.String(64)),
        _ts("last_attempt_at"),
        _ts("last_success_at"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("counts", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
        sa.UniqueConstraint("source", "resource", "user_id", name=op.f("uq_sync_state_source_resource")),
    )
    op.create_table(
        "oauth_token",
        _surrogate(),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("refresh_token", sa.Text()),
        _ts("expires_at"),
        sa.Column("scope", sa.Text()),
        _ts("updated_at", nullable=False),
        sa.UniqueConstraint("provider", "user_id", name=op.f("uq_oauth_token_provider_user_id")),
    )


def downgrade() -> None:
    op.drop_table("oauth_token")
    op.drop_table("sync_state")
    for table, (keys, _order) in NATURAL_KEYS.items():
        with op.batch_alter_table(table) as batch:
            if table == "sleep":
                batch.drop_index(op.f("ix_sleep_whoop_cycle_id"))
            if table in START_INDEXES:
                batch.drop_index(op.f(f"ix_{table}_{START_INDEXES[table]}"))
            for key in keys:
                batch.drop_constraint(op.f(f"uq_{table}_{'_'.join(key)}"), type_="unique")
