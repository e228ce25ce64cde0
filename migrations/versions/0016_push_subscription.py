"""The `push_subscription` table: the Withings notification subscriptions each account was last seen to hold.

Revision ID: 0016_push_subscription
Revises: 0015_withings_devices
Create Date: 2026-12-07

Only added: no existing table or column changes. `webhooks subscribe`, `list` and `status`
replace an account's rows with what Withings' `notify list` answered, so `status --check` can
tell a missing subscription without calling the API. The callback URL is stored masked (its path
secret cut to four characters): this table is exported like any other.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_push_subscription"
down_revision = "0015_withings_devices"
branch_labels = None
depends_on = None

# The surrogate key type of every table (models.SurrogateKey), spelled out: a migration never
# imports the models, which move on while this file must not.
KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "push_subscription",
        sa.Column("id", KEY, primary_key=True, autoincrement=True),
        sa.Column(
            "account_id",
            KEY,
            sa.ForeignKey("account.id", name="fk_push_subscription_account_id_account"),
            nullable=False,
        ),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("appli", sa.Integer(), nullable=False),
        sa.Column("callback", sa.String(300), nullable=False),
        sa.Column("listed_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_push_subscription"),
        sa.UniqueConstraint(
            "account_id", "provider", "appli", "callback", name="uq_push_subscription_account_id_provider"
        ),
    )


def downgrade() -> None:
    op.drop_table("push_subscription")
