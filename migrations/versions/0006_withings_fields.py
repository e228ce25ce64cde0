"""Columns for the Withings sleep-summary fields the requests now ask for.

Revision ID: 0006_withings_fields
Revises: 0005_flags_quarantine_review
Create Date: 2026-12-03

Withings sends only the `data` fields a request names; getsummary now names every documented
one. The useful ones get a nullable column here (older nights keep NULL until Withings sends
them again); the rest stay in `raw`. Columns are only added.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_withings_fields"
down_revision = "0005_flags_quarantine_review"
branch_labels = None
depends_on = None

SLEEP_COLUMNS = (
    ("asleep_s", sa.Integer()),
    ("wakeup_latency_s", sa.Integer()),
    ("waso_s", sa.Integer()),
    ("rem_episodes", sa.Integer()),
    ("out_of_bed_count", sa.Integer()),
    ("breathing_disturbances_intensity", sa.Float()),
    ("apnea_hypopnea_index", sa.Float()),
)


def upgrade() -> None:
    # A nullable column needs no table rebuild, on SQLite either.
    for name, kind in SLEEP_COLUMNS:
        op.add_column("withings_sleep_summary", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("withings_sleep_summary") as batch:
        for name, _kind in SLEEP_COLUMNS:
            batch.drop_column(name)
