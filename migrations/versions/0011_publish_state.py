"""An install id, and when each account was last published to Home Assistant (MQTT).

Revision ID: 0011_publish_state
Revises: 0009_user_time_indexes
Create Date: 2026-12-07

Tables are only added: every table and column that exists stays as it is.
- `installation`: one row, a random id made here. Home Assistant's unique ids and our topics
  are derived from it, so two workers on one PostgreSQL database (or a restored backup on a new
  host) publish the same entities: the id belongs to the database, not to a host.
- `publish_state`: per publish target and account name, the last attempt, the last success and
  the last error (never a password), which `status` shows. Keyed by the account's name, as the
  published ids are: a removed account's row is deleted with its entities.
"""

import secrets
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0011_publish_state"
down_revision = "0009_user_time_indexes"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    installation = op.create_table(
        "installation",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_installation"),
    )
    op.bulk_insert(installation, [{"id": secrets.token_hex(6), "created_at": datetime.now(timezone.utc)}])
    op.create_table(
        "publish_state",
        sa.Column("target", sa.String(16), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("last_attempt_at", TIMESTAMP, nullable=True),
        sa.Column("last_success_at", TIMESTAMP, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("target", "account", name="pk_publish_state"),
    )


def downgrade() -> None:
    op.drop_table("publish_state")
    op.drop_table("installation")
