"""Requests taken from a provider's app-wide limits, counted in the `rate_budget` table.

Every process using the database, on any host, takes its slot with one atomic upsert
(docs/SCALE.md): the `WHERE` re-checks `used < budget` under the row lock, so concurrent takers never
get more than `budget` slots between them. Each call is a short transaction of its own, so the row
lock lasts one statement. Windows are fixed: a UTC minute, a UTC day.

On SQLite a process reserves its slots in blocks instead (`reserve`, then `give_back` of what it did
not use): one process syncs there at a time, and each slot's own transaction would queue behind the
writer filling the same file.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.engine import Connection, Engine

import models

TABLE = models.rate_budget
MINUTE, DAY = "minute", "day"
# A row of the provider's own word, beside its day window (same `window_start`): the server said
# its limit is spent. `used` keeps our own count of that day when it said so (the day's row is
# then marked spent, so every process stops) and `budget` the server's reset, in seconds after
# the window's start.
SERVER = "server"
WINDOWS = {MINUTE: timedelta(minutes=1), DAY: timedelta(days=1)}
KEEP = timedelta(days=2)  # older windows are deleted when a new day window opens


def window_start(kind: str, now: datetime) -> datetime:
    """The start of the fixed `kind` window holding `now` (UTC)."""
    now = now.astimezone(timezone.utc)
    if kind == MINUTE:
        return now.replace(second=0, microsecond=0)
    if kind == DAY:
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    raise ValueError(f"unknown window kind {kind!r}")


def next_window(kind: str, now: datetime) -> datetime:
    """The start of the `kind` window after the one holding `now`."""
    return window_start(kind, now) + WINDOWS[kind]


def _insert(dialect: str):
    # The dialects' own INSERT ... ON CONFLICT; each imported only where it runs (importing the
    # PostgreSQL dialect would lengthen a SQLite run's start-up).
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(TABLE)


def take(engine: Engine, provider: str, kind: str, budget: int, now: datetime) -> int | None:
    """Take one slot of the `kind` window holding `now`: the slots used with it, or None when it is full."""
    return take_slots(engine, provider, {kind: budget}, now)[kind]


def take_slots(
    engine: Engine, provider: str, budgets: dict[str, int], now: datetime, keep: dict[str, float] | None = None
) -> dict[str, int | None]:
    """Take one slot of each window in `budgets` ({kind: budget}) holding `now`, in one statement:
    {kind: the slots used with it, or None when that window is full}.

    INSERT ... ON CONFLICT (provider, window_kind, window_start) DO UPDATE SET used = used + 1,
    budget = least(budget, EXCLUDED.budget) WHERE used + 1 <= least(budget, EXCLUDED.budget) * share
    RETURNING window_kind, used: a row comes back only for a granted slot. The stored budget is
    the lowest any taker declares, so hosts with different settings share the smallest (and
    `status` shows it). `keep` ({kind: share}, default 1) lets a taker use only a share of a
    window: a backfill leaves the rest of the day to routine runs (sync/budget.py).
    """
    starts = {kind: window_start(kind, now) for kind in budgets}
    stmt = _add(
        engine.dialect.name,
        provider,
        {kind: (starts[kind], 1, budget) for kind, budget in budgets.items()},
        keep or {},
    )
    with engine.begin() as conn:
        _commit_without_waiting(conn)
        granted = dict(conn.execute(stmt).all())
        if granted.get(DAY) == 1:  # this call opened the day: forget windows nobody reads again
            _forget_old_windows(conn, starts[DAY])
    return {kind: granted.get(kind) for kind in budgets}


def reserve(
    engine: Engine,
    provider: str,
    budgets: dict[str, int],
    now: datetime,
    count: int,
    keep: dict[str, float] | None = None,
) -> dict[str, int]:
    """Up to `count` slots of each window in `budgets` holding `now`, in one transaction: {kind:
    the slots granted, 0 when that window is full}. What the taker does not use goes back with
    `give_back`; a taker that dies first leaves them counted, so a window is never overrun.

    SQLite only, where the read and the write are one step for every process: its writers hold
    the whole database from BEGIN IMMEDIATE (storage/engine.py). PostgreSQL's takers use
    `take_slots`, whose row lock lasts one statement.
    """
    if engine.dialect.name != "sqlite":
        raise ValueError("slots are reserved in blocks on SQLite only; PostgreSQL takes them one by one")
    starts = {kind: window_start(kind, now) for kind in budgets}
    with engine.begin() as conn:
        held = conn.execute(
            select(TABLE.c.window_kind, TABLE.c.used, TABLE.c.budget).where(
                TABLE.c.provider == provider,
                or_(
                    *(
                        and_(TABLE.c.window_kind == kind, TABLE.c.window_start == start)
                        for kind, start in starts.items()
                    )
                ),
            )
        ).all()
        used = {kind: n for kind, n, _stored in held}
        lowest = {kind: min(budgets[kind], stored) for kind, _n, stored in held if kind in budgets}
        share = keep or {}
        granted = {
            kind: max(0, min(count, int(lowest.get(kind, budget) * share.get(kind, 1.0)) - used.get(kind, 0)))
            for kind, budget in budgets.items()
        }
        adding = {kind: (starts[kind], n, budgets[kind]) for kind, n in granted.items() if n}
        if adding:
            conn.execute(_add(engine.dialect.name, provider, adding, share))
        if DAY in adding and DAY not in used:  # this call opened the day
            _forget_old_windows(conn, starts[DAY])
    return granted


def give_back(engine: Engine, provider: str, unused: dict[str, tuple[datetime, int]]) -> None:
    """Return the slots a `reserve` granted and nobody used: {kind: (window start, slots)}."""
    with engine.begin() as conn:
        for kind, (start, slots) in unused.items():
            conn.execute(
                update(TABLE)
                .where(TABLE.c.provider == provider, TABLE.c.window_kind == kind, TABLE.c.window_start == start)
                .values(used=case((TABLE.c.used > slots, TABLE.c.used - slots), else_=0))
            )


def _add(dialect: str, provider: str, rows: dict[str, tuple[datetime, int, int]], keep: dict[str, float] | None = None):
    """INSERT ... ON CONFLICT DO UPDATE adding `slots` to each window of `rows` ({kind: (start,
    slots, budget)}) unless that would pass the lowest budget declared (times the taker's share,
    `keep`); RETURNING the windows added to. The row keeps the lowest budget any taker declared."""
    insert = _insert(dialect).values(
        [
            {"provider": provider, "window_kind": kind, "window_start": start, "used": slots, "budget": budget}
            for kind, (start, slots, budget) in rows.items()
        ]
    )
    least = func.least if dialect == "postgresql" else func.min  # SQLite's min() of two values
    lowest = least(TABLE.c.budget, insert.excluded.budget)
    partial = [(TABLE.c.window_kind == kind, lowest * share) for kind, share in (keep or {}).items() if share < 1]
    limit = case(*partial, else_=lowest) if partial else lowest
    return insert.on_conflict_do_update(
        index_elements=[TABLE.c.provider, TABLE.c.window_kind, TABLE.c.window_start],
        set_={"used": TABLE.c.used + insert.excluded.used, "budget": lowest},
        where=TABLE.c.used + insert.excluded.used <= limit,
    ).returning(TABLE.c.window_kind, TABLE.c.used)


def _forget_old_windows(conn: Connection, today: datetime) -> None:
    conn.execute(delete(TABLE).where(TABLE.c.window_start < today - KEEP))


def _commit_without_waiting(conn: Connection) -> None:
    # A slot is taken before every request, so its commit must not wait for the WAL flush (about
    # half the statement's time on PostgreSQL). A server crash can forget the last few counts
    # (under a second of them, PostgreSQL's synchronous_commit); the daily headroom absorbs that.
    # SQLite already commits so in WAL mode with synchronous=NORMAL (storage/engine.py).
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")


def exhaust(engine: Engine, provider: str, kind: str, now: datetime, budget: int) -> None:
    """Mark the window holding `now` as spent (the server said so: a 429, or no requests left
    until a reset beyond this minute), so every process stops, not only the one that was told."""
    start = window_start(kind, now)
    insert = _insert(engine.dialect.name).values(
        provider=provider, window_kind=kind, window_start=start, used=budget, budget=budget
    )
    stmt = insert.on_conflict_do_update(
        index_elements=[TABLE.c.provider, TABLE.c.window_kind, TABLE.c.window_start],
        set_={"used": TABLE.c.budget},
    )
    with engine.begin() as conn:
        conn.execute(stmt)


def server_spent(engine: Engine, provider: str, now: datetime, reset: float, budget: int) -> None:
    """The server said its daily limit is spent until `reset` seconds from `now`: today's window
    is marked spent for every process, and our own count of the day is kept beside it (the first
    word of the day stands: a later process would read the marked-spent count)."""
    start = window_start(DAY, now)
    until = now + timedelta(seconds=reset)
    with engine.begin() as conn:
        if server_said(conn, provider, now) is None:
            used = usage(conn, provider, DAY, now)
            row = dict(provider=provider, window_kind=SERVER, window_start=start, used=used[0] if used else 0)
            row["budget"] = int((until - start).total_seconds())
            conn.execute(_insert(engine.dialect.name).values(**row).on_conflict_do_nothing())
    exhaust(engine, provider, DAY, now, budget)


def server_said(conn: Connection, provider: str, now: datetime) -> tuple[datetime, int] | None:
    """(the server's reset, our count of the day then) when the server said today that its daily
    limit is spent, else None."""
    start = window_start(DAY, now)
    row = _row(conn, provider, SERVER, start)
    return None if row is None else (start + timedelta(seconds=row.budget), row.used)


def usage(conn: Connection, provider: str, kind: str, now: datetime) -> tuple[int, int] | None:
    """(used, budget) of the window holding `now`, or None when nothing was taken in it. A day the
    server declared spent counts the requests we made, not the mark that stopped every process."""
    row = _row(conn, provider, kind, window_start(kind, now))
    if row is None:
        return None
    said = server_said(conn, provider, now) if kind == DAY else None
    return (row.used if said is None else said[1], row.budget)


def _row(conn: Connection, provider: str, kind: str, start: datetime):
    return conn.execute(
        select(TABLE.c.used, TABLE.c.budget).where(
            TABLE.c.provider == provider, TABLE.c.window_kind == kind, TABLE.c.window_start == start
        )
    ).first()


def latest_minute_budget(conn: Connection, provider: str) -> int | None:
    """The budget of the newest minute window anyone took a slot of: the rate the provider's
    server last named to a process (or, before any server did, the configured one)."""
    return conn.execute(
        select(TABLE.c.budget)
        .where(TABLE.c.provider == provider, TABLE.c.window_kind == MINUTE)
        .order_by(TABLE.c.window_start.desc())
        .limit(1)
    ).scalar()
