"""Where a backfill the daily budget stopped can resume: two columns on `sync_state`.

Revision ID: 0013_backfill_resume
Revises: 0012_inbound_event
Create Date: 2026-12-07

A WHOOP backfill reads its window newest first. When the day's budget stops it, the pages it
stored run from the window's end back to `resume_before`; the next plain run asks only for the
records before that (`end` = `resume_before`), and its success moves the stored window to
`resume_end`, the end of the window the backfill began. Both are NULL when nothing is pending.
Columns are only added: every table and column stays.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_backfill_resume"
down_revision = "0012_inbound_event"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_state") as batch:
        batch.add_column(sa.Column("resume_before", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("resume_end", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_state") as batch:
        batch.drop_column("resume_end")
        batch.drop_column("resume_before")
