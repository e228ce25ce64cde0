"""Keep implausible values as sent, flagged; let people acknowledge or dismiss quarantined records.

Revision ID: 0005_flags_quarantine_review
Revises: 0004_activity_sleep_body
Create Date: 2026-12-03

Columns are only added: every table and column that exists stays as it is.
- `flag` on every data table: why the row's values look implausible (NULL when nothing does). The
  row is stored exactly as the API sent it; readers leave flagged rows out of charts and "latest".
- `acknowledged_at` / `dismissed_at` on `quarantine`: a person has seen the item (the monitor stops
  alerting on it) or decided it will never be stored (it leaves the retry list, its payload stays).
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_flags_quarantine_review"
down_revision = "0004_activity_sleep_body"
branch_labels = None
depends_on = None

DATA_TABLES = (
    "cycles",
    "sleep",
    "recovery",
    "workout",
    "withings_weight",
    "withings_heart_rate",
    "withings_measure",
    "whoop_body_measurement",
    "withings_activity",
    "withings_sleep_summary",
)
REVIEW_COLUMNS = ("acknowledged_at", "dismissed_at")


def upgrade() -> None:
    # A nullable column needs no table rebuild, on SQLite either.
    for table in DATA_TABLES:
        op.add_column(table, sa.Column("flag", sa.Text(), nullable=True))
    for name in REVIEW_COLUMNS:
        op.add_column("quarantine", sa.Column(name, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("quarantine") as batch:
        for name in REVIEW_COLUMNS:
            batch.drop_column(name)
    for table in DATA_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("flag")
