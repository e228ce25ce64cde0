"""Accounts and whose provider users they hold: the `account` and `account_provider` tables.

One provider user belongs to one account (UNIQUE(provider, user_id) on account_provider): a
token of a user linked to another account is refused, so two accounts never mix rows. Every
function runs inside the caller's transaction (a Core Connection), but `erase_freed`, which runs after one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

import models
from configuration import clock
from configuration.accounts import DEFAULT_ACCOUNT, check_account_name
from configuration.invocation import command

log = logging.getLogger(__name__)
ACCOUNT = models.account
LINK = models.account_provider


class UnknownAccount(LookupError):
    """No account has that name (a usage error: the message lists the accounts)."""


class AccountConflict(ValueError):
    """A provider user already belongs to another account."""


@dataclass
class AccountRow:
    """One account with its provider user ids, as `accounts` lists it."""

    id: int
    name: str
    created_at: datetime
    due_at: datetime | None = None
    last_run_at: datetime | None = None
    last_status: str | None = None
    users: dict[str, list[int]] = field(default_factory=dict)  # provider -> user ids, oldest link first


def find(conn: Connection, name: str) -> int | None:
    """The id of the account called `name`, or None."""
    return conn.execute(select(ACCOUNT.c.id).where(ACCOUNT.c.name == name)).scalar()


def ensure(conn: Connection, name: str = DEFAULT_ACCOUNT) -> int:
    """The id of the account called `name`, created if it does not exist (safe against a
    concurrent create: the unique name decides, inside a savepoint)."""
    found = find(conn, name)
    if found is not None:
        return found
    check_account_name(name)
    try:
        with conn.begin_nested():
            conn.execute(insert(ACCOUNT).values(name=name, created_at=clock.utcnow()))
    except IntegrityError:  # another process created it between the SELECT and the INSERT
        pass
    return find(conn, name)


def require(conn: Connection, name: str) -> int:
    """The id of an existing account; UnknownAccount (listing the accounts) otherwise."""
    found = find(conn, name)
    if found is None:
        known = ", ".join(names(conn)) or "none"
        raise UnknownAccount(f"no account is called {name!r} (accounts: {known})")
    return found


def names(conn: Connection) -> list[str]:
    """Every account name, in creation order."""
    return list(conn.execute(select(ACCOUNT.c.name).order_by(ACCOUNT.c.id)).scalars())


def owner(conn: Connection, provider: str, user_id: int) -> tuple[int, str] | None:
    """(account id, name) that holds the provider user, or None."""
    row = conn.execute(
        select(ACCOUNT.c.id, ACCOUNT.c.name)
        .join(LINK, LINK.c.account_id == ACCOUNT.c.id)
        .where(LINK.c.provider == provider, LINK.c.user_id == user_id)
    ).first()
    return None if row is None else (row.id, row.name)


def id_of(name: str):
    """The id of the account called `name` as a SQL expression (NULL when there is none)."""
    return select(ACCOUNT.c.id).where(ACCOUNT.c.name == name).scalar_subquery()


def owner_of(provider, user_id):
    """The account id of a provider user as a SQL expression (NULL when no account holds it), for
    writes that file a row under its account without a round trip of their own."""
    return (
        select(LINK.c.account_id)
        .where(LINK.c.provider == provider, LINK.c.user_id == user_id)
        .limit(1)
        .scalar_subquery()
    )


def link(conn: Connection, account_id: int, provider: str, user_id: int) -> None:
    """Record that the provider user belongs to the account; AccountConflict when another holds it."""
    held = owner(conn, provider, user_id)
    if held is not None:
        if held[0] == account_id:
            return
        raise AccountConflict(
            f"{provider} user {user_id} belongs to account {held[1]!r}; "
            f"remove it there first (`{command('accounts', 'remove', held[1])}`) or connect under that account"
        )
    try:
        with conn.begin_nested():
            conn.execute(
                insert(LINK).values(account_id=account_id, provider=provider, user_id=user_id, linked_at=clock.utcnow())
            )
    except IntegrityError:  # linked meanwhile by another process: decide again on what it wrote
        held = owner(conn, provider, user_id)
        if held is None or held[0] != account_id:
            raise AccountConflict(
                f"{provider} user {user_id} belongs to account {held[1] if held else '?'!r}"
            ) from None


def user_ids(conn: Connection, account_id: int, provider: str) -> list[int]:
    """The provider user ids that belong to the account (current and older), oldest link first."""
    return list(
        conn.execute(
            select(LINK.c.user_id)
            .where(LINK.c.account_id == account_id, LINK.c.provider == provider)
            .order_by(LINK.c.id)
        ).scalars()
    )


def list_accounts(conn: Connection, only: list[str] | tuple[str, ...] = ()) -> list[AccountRow]:
    """Every account (or those named in `only`) with its provider user ids, in creation order."""
    stmt = select(ACCOUNT).order_by(ACCOUNT.c.id)
    if only:
        stmt = stmt.where(ACCOUNT.c.name.in_(list(only)))
    accounts = {
        row.id: AccountRow(row.id, row.name, row.created_at, row.due_at, row.last_run_at, row.last_status)
        for row in conn.execute(stmt)
    }
    for row in conn.execute(select(LINK).order_by(LINK.c.id)):
        if row.account_id in accounts:
            accounts[row.account_id].users.setdefault(row.provider, []).append(row.user_id)
    return list(accounts.values())


def holding_tokens(conn: Connection) -> set[int]:
    """The ids of the accounts that hold at least one token."""
    table = models.oauth_token
    return set(conn.execute(select(table.c.account_id).distinct()).scalars())


def freshness(conn: Connection, account_id: int) -> dict[str, datetime | None]:
    """Per source the account has synced: the oldest `last_success_at` of its resources (None when
    one has never succeeded), so a single stale resource shows."""
    table = models.sync_state
    out: dict[str, datetime | None] = {}
    rows = conn.execute(
        select(table.c.source, table.c.last_success_at).where(table.c.account_id == account_id).order_by(table.c.source)
    )
    for source, success in rows:
        if source not in out:
            out[source] = success
        elif out[source] is not None:
            out[source] = None if success is None else min(out[source], success)
    return out


def purge(conn: Connection, account_id: int, tables: dict[str, list]) -> dict[str, int]:
    """Delete the account's data: per provider, the rows of `tables[provider]` (Core tables; the
    caller names them from the resource declarations) whose user_id belongs to the account, and
    the account's sync_state and quarantine rows (a later connect of the same user then fetches
    the whole history again, not from a cursor past what was deleted). Rows deleted per table."""
    if conn.dialect.name == "sqlite":
        # The deleted rows' bytes are overwritten with zeros, whatever the build's default; what
        # earlier rewrites of the same rows left in free pages goes with `erase_freed` afterwards.
        conn.exec_driver_sql("PRAGMA secure_delete = ON")
    deleted: dict[str, int] = {}
    for provider, provider_tables in tables.items():
        ids = user_ids(conn, account_id, provider)
        for table in provider_tables:
            count = conn.execute(delete(table).where(table.c.user_id.in_(ids))).rowcount if ids else 0
            deleted[table.name] = deleted.get(table.name, 0) + count
    for table in (models.sync_state, models.quarantine):
        deleted[table.name] = conn.execute(delete(table).where(table.c.account_id == account_id)).rowcount
    return deleted


def erase_freed(engine) -> bool:
    """After a purge has committed, on SQLite: rebuild the file (VACUUM) and fold the WAL into it,
    truncating it, so neither holds a purged value in a free page or an old frame. False when a
    reader kept the WAL from being emptied (the purge stands; a later purge or VACUUM finishes it).
    PostgreSQL: nothing to do here (its VACUUM reclaims dead rows; the files are the server's)."""
    if engine.dialect.name != "sqlite":
        return True
    import sqlite3

    raw = engine.raw_connection()  # outside SQLAlchemy's transactions: VACUUM cannot run in one
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.execute("VACUUM")
        busy, _frames, _copied = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return busy == 0
    except sqlite3.OperationalError as exc:  # another process holds the file: the caller says what to run
        log.warning("could not rebuild the database after the purge: %s", exc)
        return False
    finally:
        raw.close()


def remove(conn: Connection, account_id: int) -> None:
    """Delete the account, its tokens, its stored push subscriptions and its links. Its sync_state and quarantine rows are kept
    and no longer filed under it (account_id NULL); its data rows are the caller's decision
    (kept by default; a purge deletes them first, while the links still say whose they are)."""
    for table in (models.sync_state, models.quarantine):
        conn.execute(update(table).where(table.c.account_id == account_id).values(account_id=None))
    conn.execute(delete(models.oauth_token).where(models.oauth_token.c.account_id == account_id))
    conn.execute(delete(models.push_subscription).where(models.push_subscription.c.account_id == account_id))
    conn.execute(delete(LINK).where(LINK.c.account_id == account_id))
    conn.execute(delete(ACCOUNT).where(ACCOUNT.c.id == account_id))


def set_outcome(conn: Connection, account_id: int, *, status: str, ran_at: datetime, due_at: datetime | None) -> None:
    """After a run: when it ran, how it ended, and when it is due again (workers read `due_at`)."""
    conn.execute(
        update(ACCOUNT)
        .where(ACCOUNT.c.id == account_id)
        .values(last_run_at=ran_at, last_status=status[:16], due_at=due_at)
    )


def defer(conn: Connection, account_id: int, until: datetime) -> None:
    """The daily request budget is spent: the account is due again at `until` (the next day
    window) unless it is already due later."""
    conn.execute(
        update(ACCOUNT)
        .where(ACCOUNT.c.id == account_id, or_(ACCOUNT.c.due_at.is_(None), ACCOUNT.c.due_at < until))
        .values(due_at=until)
    )
