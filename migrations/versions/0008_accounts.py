"""Accounts: one install syncs several people; a shared count of each provider's app-wide limits.

Revision ID: 0008_accounts
Revises: 0007_daily_view
Create Date: 2026-12-03

Tables and columns are only added: every table and column that exists stays as it is, and the
data tables are untouched (their natural keys already hold the provider's user id).
- `account` (a named person; `default` is created here and holds everything that exists) and
  `account_provider` (which provider user ids are whose; UNIQUE(provider, user_id), so one
  provider user belongs to one account and two accounts never mix rows).
- `account_id` on `oauth_token` (NOT NULL, one token per account and provider), `sync_state` and
  `quarantine` (nullable: set from the provider user's link on every write, NULL only for a user
  no account holds, such as data kept after its account was removed).
- `rate_budget`: requests taken per provider and fixed window, counted in the database so that
  every process sharing it stays inside the app's limits together (docs/SCALE.md).

The same statements run on SQLite and PostgreSQL; SQLite adds the NOT NULL, the foreign keys and
the unique key through Alembic's batch table copy (these tables hold tens of rows per account).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_accounts"
down_revision = "0007_daily_view"
branch_labels = None
depends_on = None

# The surrogate key type of every table (models.SurrogateKey), spelled out: a migration never
# imports the models, which move on while this file must not.
KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
WHOOP_TABLES = ("cycles", "sleep", "recovery", "workout", "whoop_body_measurement")
WITHINGS_TABLES = (
    "withings_weight",
    "withings_heart_rate",
    "withings_measure",
    "withings_activity",
    "withings_sleep_summary",
)
DEFAULT = "(SELECT id FROM account WHERE name = 'default')"


def _link(select_pairs: str) -> None:
    """Link every (provider, user_id) the SELECT yields, not linked yet, to the default account."""
    op.execute(
        "INSERT INTO account_provider (account_id, provider, user_id, linked_at) "
        f"SELECT DISTINCT {DEFAULT}, pairs.provider, pairs.user_id, CURRENT_TIMESTAMP "
        f"FROM ({select_pairs}) AS pairs "
        "WHERE pairs.user_id IS NOT NULL AND pairs.user_id > 0 AND NOT EXISTS ("
        "SELECT 1 FROM account_provider AS linked "
        "WHERE linked.provider = pairs.provider AND linked.user_id = pairs.user_id)"
    )


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", KEY, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("due_at", TIMESTAMP, nullable=True),
        sa.Column("last_run_at", TIMESTAMP, nullable=True),
        sa.Column("last_status", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_account"),
        sa.UniqueConstraint("name", name="uq_account_name"),
    )
    op.create_table(
        "account_provider",
        sa.Column("id", KEY, primary_key=True, autoincrement=True),
        sa.Column("account_id", KEY, nullable=False),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("linked_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_account_provider"),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name="fk_account_provider_account_id_account"),
        sa.UniqueConstraint("provider", "user_id", name="uq_account_provider_provider_user_id"),
    )
    op.create_index("ix_account_provider_account_id", "account_provider", ["account_id"])
    op.create_table(
        "rate_budget",
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("window_kind", sa.String(8), nullable=False),
        sa.Column("window_start", TIMESTAMP, nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("budget", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("provider", "window_kind", "window_start", name="pk_rate_budget"),
    )
    op.execute("INSERT INTO account (name, created_at) VALUES ('default', CURRENT_TIMESTAMP)")

    for table in ("oauth_token", "sync_state", "quarantine"):
        op.add_column(table, sa.Column("account_id", KEY, nullable=True))
        op.execute(f"UPDATE {table} SET account_id = {DEFAULT}")

    # Who owns what: the tokens' users, the synced users, then users of rows whose token is gone.
    _link("SELECT provider, user_id FROM oauth_token")
    _link("SELECT source AS provider, user_id FROM sync_state")
    _link("SELECT source AS provider, user_id FROM quarantine")
    for table in WHOOP_TABLES:
        _link(f"SELECT 'whoop' AS provider, user_id FROM {table}")
    for table in WITHINGS_TABLES:
        _link(f"SELECT 'withings' AS provider, user_id FROM {table}")

    with op.batch_alter_table("oauth_token") as batch:
        batch.alter_column("account_id", existing_type=KEY, nullable=False)
        batch.create_foreign_key("fk_oauth_token_account_id_account", "account", ["account_id"], ["id"])
        batch.create_unique_constraint("uq_oauth_token_account_id_provider", ["account_id", "provider"])
    for table in ("sync_state", "quarantine"):
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(f"fk_{table}_account_id_account", "account", ["account_id"], ["id"])
            batch.create_index(f"ix_{table}_account_id", ["account_id"])


def downgrade() -> None:
    for table in ("sync_state", "quarantine"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_account_id")
            batch.drop_constraint(f"fk_{table}_account_id_account", type_="foreignkey")
            batch.drop_column("account_id")
    with op.batch_alter_table("oauth_token") as batch:
        batch.drop_constraint("uq_oauth_token_account_id_provider", type_="unique")
        batch.drop_constraint("fk_oauth_token_account_id_account", type_="foreignkey")
        batch.drop_column("account_id")
    op.drop_table("rate_budget")
    op.drop_index("ix_account_provider_account_id", table_name="account_provider")
    op.drop_table("account_provider")
    op.drop_table("account")
