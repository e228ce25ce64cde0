"""Processing pushed events: a retry time and an outcome on `inbound_event`, and `withings_bed_event`.

Revision ID: 0017_bed_events
Revises: 0016_push_subscription
Create Date: 2026-12-07

Only added: no existing table or column changes. `next_attempt_at` is when a processor may
claim the event next (NULL: now; a claim sets it a lease ahead, a failure a backoff ahead), and
`outcome` says what processing made of it (stored, deleted, gone, ignored, quarantined, ...).
Withings' in-bed and out-of-bed notifications exist only as push: each is a row of
`withings_bed_event`, unique per user, time and direction so that a redelivery adds nothing.
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_bed_events"
down_revision = "0016_push_subscription"
branch_labels = None
depends_on = None

# The surrogate key type of every table (models.SurrogateKey), spelled out: a migration never
# imports the models, which move on while this file must not.
KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("inbound_event") as batch:
        batch.add_column(sa.Column("next_attempt_at", TIMESTAMP, nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(16), nullable=True))
    op.create_table(
        "withings_bed_event",
        sa.Column("id", KEY, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("in_bed", sa.Boolean(), nullable=False),
        sa.Column("event_at", TIMESTAMP, nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("inbound_event_id", KEY, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_withings_bed_event"),
        sa.UniqueConstraint("user_id", "event_at", "in_bed", name="uq_withings_bed_event_user_id_event_at"),
    )


def downgrade() -> None:
    op.drop_table("withings_bed_event")
    with op.batch_alter_table("inbound_event") as batch:
        batch.drop_column("outcome")
        batch.drop_column("next_attempt_at")
