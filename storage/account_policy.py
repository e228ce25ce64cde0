"""The one account policy: which accounts exist, which are empty, and which each command runs,
watches, works on and reads.

Every command asks here (the run, `watch`, `worker`, `status` and its check, the dashboard, the
MCP tools, `export`), so they never disagree about who is there. The rule they share:

- The migration creates `default` in every database. Next to other accounts, a `default` that is
  empty (no token stored, no provider user linked, no WHOOP_/WITHINGS_REFRESH_TOKEN seed in the
  environment) is nobody: it is not run, watched, worked on or read, so an install that only
  ever connected `--account alice` neither fails on it nor reports it "not connected" for ever.
  Alone, it stays: a fresh install is told what to connect.
- A named account is used as named; an unknown name is UnknownAccount, listing the accounts.
- A reader scoped to an account reads that account's rows only (its provider users' rows),
  whatever other rows the database holds: those of a removed account, kept by default, belong
  to no account. Only a database without any account (no account table yet, or every account
  removed) is read whole, as before accounts existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import inspect, or_, select
from sqlalchemy.engine import Connection

from configuration.accounts import DEFAULT_ACCOUNT
from storage import accounts

ACCOUNT = accounts.ACCOUNT


@dataclass(frozen=True)
class Scope:
    """One account a command works on: its name and id. Both are None only for a database that
    holds no account, which a reader reads whole."""

    name: str | None
    id: int | None
    # The database's only account, read with none named: judged as a single-person install
    # (every configured provider is its own), not as one of several.
    alone: bool = False

    def label(self) -> str:
        return self.name or DEFAULT_ACCOUNT


def seeded(settings) -> bool:
    """Whether the environment holds a seed refresh token (WHOOP_/WITHINGS_REFRESH_TOKEN), which
    the `default` account takes on its first run."""
    return any(getattr(provider, "seed_refresh_token", None) for provider in (settings.whoop, settings.withings))


def is_empty(row: accounts.AccountRow, tokens: set[int] | None, seed: bool = False) -> bool:
    """Whether an account holds nothing to sync or read: no provider user linked, no token stored
    (`tokens`: the ids of the accounts holding one; None when the caller may not read tokens) and,
    for `default`, no seed token."""
    held = tokens is not None and row.id in tokens
    return not row.users and not held and not (seed and row.name == DEFAULT_ACCOUNT)


def _listed(
    rows: list[accounts.AccountRow], tokens: Callable[[], set[int]] | None, seed: bool
) -> list[accounts.AccountRow]:
    """`rows` without an empty `default` when another account exists. `tokens()` gives the ids of
    the accounts holding a token (asked only then: one account is kept whatever it holds); None
    when the caller may not read tokens."""
    if len(rows) <= 1:
        return rows
    held = None if tokens is None else tokens()
    return [row for row in rows if not (row.name == DEFAULT_ACCOUNT and is_empty(row, held, seed))]


def _named(conn: Connection, names) -> list[Scope]:
    """Each name once, in order; UnknownAccount (listing the accounts) for one that does not exist."""
    return [Scope(name, accounts.require(conn, name)) for name in dict.fromkeys(names)]


def to_run(conn: Connection, names=(), *, settings) -> list[Scope]:
    """The accounts a run syncs: those named, else every account but an empty `default` beside
    others; `default` when the database holds none (the run creates it)."""
    if names:
        return _named(conn, names)
    rows = _listed(accounts.list_accounts(conn), lambda: accounts.holding_tokens(conn), seeded(settings))
    return [Scope(row.name, row.id) for row in rows] or [Scope(DEFAULT_ACCOUNT, None)]


def to_watch(conn: Connection, names=(), *, settings) -> list[Scope]:
    """The accounts `watch` keeps in sync (and budgets for): the same as a run's."""
    return to_run(conn, names, settings=settings)


def _skipped_id(conn: Connection, settings) -> int | None:
    """The id of the `default` account when the policy leaves it out, else None."""
    rows = accounts.list_accounts(conn)
    kept = {row.id for row in _listed(rows, lambda: accounts.holding_tokens(conn), seeded(settings))}
    return next((row.id for row in rows if row.id not in kept), None)


def to_work_on(conn: Connection, now: datetime, limit: int, *, settings) -> list[tuple[int, str]]:
    """(id, name) of the accounts a worker may claim at `now`: due (`due_at` NULL or past),
    never-synced first, then the longest overdue; never an empty `default` beside others."""
    stmt = (
        select(ACCOUNT.c.id, ACCOUNT.c.name)
        .where(or_(ACCOUNT.c.due_at.is_(None), ACCOUNT.c.due_at <= now))
        .order_by(ACCOUNT.c.due_at.asc().nulls_first(), ACCOUNT.c.id)
        .limit(limit)
    )
    skipped = _skipped_id(conn, settings)
    if skipped is not None:
        stmt = stmt.where(ACCOUNT.c.id != skipped)
    return [(row.id, row.name) for row in conn.execute(stmt)]


def next_due_at(conn: Connection, *, settings) -> datetime | None:
    """The earliest `due_at` of the accounts a worker may claim (None when none is scheduled)."""
    stmt = select(ACCOUNT.c.due_at).where(ACCOUNT.c.due_at.is_not(None)).order_by(ACCOUNT.c.due_at).limit(1)
    skipped = _skipped_id(conn, settings)
    if skipped is not None:
        stmt = stmt.where(ACCOUNT.c.id != skipped)
    return conn.execute(stmt).scalar()


def to_read(conn: Connection, names=()) -> list[Scope]:
    """The accounts a reader reports: those named, else every account but an empty `default`
    beside others; one Scope(None, None) for a database holding no account (read whole).

    Readers judge emptiness by the provider users linked alone: a reader's role may not read the
    token table (the MCP server's), and every reader must list the same accounts."""
    if names:
        return _named(conn, names)
    rows = _listed(accounts.list_accounts(conn), None, False) if inspect(conn).has_table(ACCOUNT.name) else []
    if not rows:
        return [Scope(None, None)]
    return [Scope(row.name, row.id, alone=len(rows) == 1) for row in rows]
