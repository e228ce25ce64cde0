"""Whose rows are whose: the conditions that keep one account's rows of a table, for every reader.

A data table's rows are an account's when their provider user is linked to it (account_provider,
current and older user ids alike); the bookkeeping tables (tokens, sync_state, quarantine) by
the account_id every write files them under. Which accounts a reader reads is the account
policy's question (storage/account_policy.py); this module only turns one into a WHERE.
"""

from __future__ import annotations

from sqlalchemy import inspect, select
from sqlalchemy.sql import ColumnElement, FromClause

from models import AccountProvider
from sync import resources

# Which provider's user ids a data table holds, from the declarations (sync/resources.py).
PROVIDER_OF_TABLE = {table.name: r.source for r in resources.RESOURCES for table in r.tables}


def user_of(column, provider: str, account: int) -> ColumnElement:
    """`column IN (SELECT user_id FROM account_provider WHERE account_id = :a AND provider = :p)`:
    the account's user ids of one provider, current and older ones alike."""
    link = AccountProvider.__table__
    return column.in_(select(link.c.user_id).where(link.c.account_id == account, link.c.provider == provider))


def owned(table, account: int | None) -> tuple[ColumnElement, ...]:
    """The conditions that keep only `account`'s rows of `table` (a model, an alias of one, or a
    reflected table); none when `account` is None (a database holding no account: every row)."""
    if account is None:
        return ()
    if isinstance(table, FromClause):
        name, column = getattr(table, "name", None), table.c.get
    else:  # a mapped class or an alias of one: its own columns, so an alias is filtered as itself
        name, column = inspect(table).mapper.local_table.name, lambda key: getattr(table, key, None)
    if column("account_id") is not None:
        return (column("account_id") == account,)
    provider = PROVIDER_OF_TABLE.get(name)
    if provider is None or column("user_id") is None:
        raise ValueError(f"table {name!r} belongs to no account: it holds no provider user id")
    return (user_of(column("user_id"), provider, account),)
