"""The `inbound_event` table: webhooks and notifications the receiver (`serve`) accepted.

Revision ID: 0012_inbound_event
Revises: 0009_user_time_indexes
Create Date: 2026-12-07

Only added: no existing table or column changes. The receiver commits each event here before it
answers, so an event WHOOP or Withings was told we have is never lost; `dedupe_key` (WHOOP's
trace_id, or Withings' userid, appli, startdate and enddate) is UNIQUE so that a redelivery
inserts nothing. The receiver's database role needs INSERT on this table only (README).
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_inbound_event"
down_revision = "0011_publish_state"
branch_labels = None
depends_on = None

# The surrogate key type of every table (models.SurrogateKey), spelled out: a migration never
# imports the models, which move on while this file must not.
KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "inbound_event",
        sa.Column("id", KEY, primary_key=True, autoincrement=True),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=True),
        sa.Column("object_id", sa.String(64), nullable=True),
        sa.Column("trace_id", sa.String(128), nullable=True),
        sa.Column("appli", sa.Integer(), nullable=True),
        sa.Column("startdate", sa.BigInteger(), nullable=True),
        sa.Column("enddate", sa.BigInteger(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("processed_at", TIMESTAMP, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_event"),
        sa.UniqueConstraint("dedupe_key", name="uq_inbound_event_dedupe_key"),
    )
    op.create_index("ix_inbound_event_processed_at", "inbound_event", ["processed_at"])


def downgrade() -> None:
    op.drop_index("ix_inbound_event_processed_at", table_name="inbound_event")
    op.drop_table("inbound_event")
