"""An index on (user_id, time) for every table a run reconciles by time window.

Revision ID: 0009_user_time_indexes
Revises: 0008_accounts
Create Date: 2026-12-03

A routine run reads each resource's last 7 days of one user (`db_loader.reconcile_window`), and
the readers read a user's days the same way. With only the unique (user_id, API id) index and the
single-column time index to choose from, SQLite picks the first, which matches every row the user
ever had, so each of those reads grew with the years of history (docs/BENCHMARKS.md has the
figures). These indexes are only added: every table and column stays.
"""

from alembic import op

revision = "0009_user_time_indexes"
down_revision = "0008_accounts"
branch_labels = None
depends_on = None

# table: the column its declaration reconciles on (sync/resources.py, `reconcile_on`)
TIME_COLUMN = {
    "cycles": "start",
    "sleep": "start",
    "recovery": "created_at",
    "workout": "start",
    "withings_weight": "measured_at",
    "withings_heart_rate": "measured_at",
    "withings_measure": "measured_at",
}


def upgrade() -> None:
    for table, column in TIME_COLUMN.items():
        op.create_index(f"ix_{table}_user_id_{column}", table, ["user_id", column])


def downgrade() -> None:
    for table, column in TIME_COLUMN.items():
        op.drop_index(f"ix_{table}_user_id_{column}", table_name=table)
