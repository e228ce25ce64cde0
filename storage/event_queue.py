"""The `inbound_event` table's processing side: claim due events, file each one's outcome, keep bed events.

A claim is an UPDATE that moves `next_attempt_at` a lease ahead and counts the attempt, for due
events only (not processed, and `next_attempt_at` NULL or past), returning what it claimed. On
PostgreSQL the rows are first picked `FOR UPDATE SKIP LOCKED` in the same transaction, so
processors on any number of hosts claim disjoint events without waiting on each other; on SQLite
the single writer makes the one statement atomic. A processor that dies mid-event leaves it claimed until the lease ends, then
any processor claims it again (its attempt already counted, so an event that kills its processor
is quarantined in the end rather than retried for ever).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

import models

TABLE = models.inbound_event
BED = models.withings_bed_event
MAX_ERROR = 500


@dataclass(frozen=True)
class Claimed:
    """One claimed event, as the processor reads it."""

    id: int
    provider: str
    user_id: int
    event_type: str | None
    object_id: str | None
    appli: int | None
    startdate: int | None
    enddate: int | None
    payload: dict
    received_at: datetime
    attempts: int  # this claim included


def _due(now: datetime):
    return and_(TABLE.c.processed_at.is_(None), or_(TABLE.c.next_attempt_at.is_(None), TABLE.c.next_attempt_at <= now))


def claim(engine: Engine, now: datetime, limit: int, lease: timedelta, provider: str | None = None) -> list[Claimed]:
    """Claim up to `limit` due events (of `provider`, or of any), oldest first; each is ours until `now + lease`."""
    due = _due(now) if provider is None else and_(_due(now), TABLE.c.provider == provider)
    pick = select(TABLE.c.id).where(due).order_by(TABLE.c.id).limit(limit)
    with engine.connect() as conn:  # a read first: an idle processor never takes SQLite's write lock
        if conn.execute(pick.limit(1)).first() is None:
            return []
    columns = [TABLE.c[name] for name in ("id", "provider", "user_id", "event_type", "object_id", "appli")]
    columns += [TABLE.c[name] for name in ("startdate", "enddate", "payload", "received_at", "attempts")]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # The ids first, locked, then the update: as the subquery of an UPDATE's IN, PostgreSQL
            # may run a LIMIT ... FOR UPDATE SKIP LOCKED select more than once and claim more
            # than `limit` events (a whole queue for one processor).
            ids = list(conn.execute(pick.with_for_update(skip_locked=True)).scalars())
            if not ids:
                return []
            target = TABLE.c.id.in_(ids)
        else:
            target = TABLE.c.id.in_(pick.scalar_subquery())
        statement = (
            update(TABLE)
            .where(target, due)
            .values(next_attempt_at=now + lease, attempts=TABLE.c.attempts + 1)
            .returning(*columns)
        )
        rows = conn.execute(statement).all()
    return sorted((_claimed(row) for row in rows), key=lambda event: event.id)


def _claimed(row) -> Claimed:
    try:
        payload = json.loads(row.payload)
    except ValueError:
        payload = {}  # the receiver writes this column; a hand-edited row is processed from its columns
    return Claimed(
        id=row.id,
        provider=row.provider,
        user_id=row.user_id,
        event_type=row.event_type,
        object_id=row.object_id,
        appli=row.appli,
        startdate=row.startdate,
        enddate=row.enddate,
        payload=payload if isinstance(payload, dict) else {},
        received_at=row.received_at,
        attempts=row.attempts,
    )


def finish(conn: Connection, event_id: int, outcome: str, now: datetime, note: str | None = None) -> None:
    """The event is done: what became of it (`note`: why, when it was ignored or quarantined)."""
    conn.execute(
        update(TABLE)
        .where(TABLE.c.id == event_id)
        .values(processed_at=now, outcome=outcome[:16], next_attempt_at=None, last_error=_clip(note))
    )


def retry_later(engine: Engine, event_id: int, error: str, at: datetime, *, uncount: bool = False) -> None:
    """The attempt failed: try again at `at` (`uncount`: the attempt does not count, e.g. a deferral)."""
    values: dict = {"next_attempt_at": at, "last_error": _clip(error)}
    if uncount:
        values["attempts"] = TABLE.c.attempts - 1
    with engine.begin() as conn:
        conn.execute(update(TABLE).where(TABLE.c.id == event_id, TABLE.c.processed_at.is_(None)).values(**values))


def release(engine: Engine, event_ids: list[int], now: datetime) -> None:
    """Claimed but not tried: due again now, the claim's attempt not counted."""
    if not event_ids:
        return
    with engine.begin() as conn:
        conn.execute(
            update(TABLE)
            .where(TABLE.c.id.in_(event_ids), TABLE.c.processed_at.is_(None))
            .values(next_attempt_at=now, attempts=TABLE.c.attempts - 1)
        )


def requeue(conn: Connection, event_ids: list[int]) -> int:
    """Due again now, attempts from zero (`quarantine retry` of a quarantined event); how many."""
    if not event_ids:
        return 0
    return conn.execute(
        update(TABLE)
        .where(TABLE.c.id.in_(event_ids))
        .values(processed_at=None, outcome=None, next_attempt_at=None, attempts=0)
    ).rowcount


def record_bed(
    conn: Connection, user_id: int, in_bed: bool, at: datetime, received_at: datetime, event_id: int | None
) -> bool:
    """Store one in/out-of-bed event; False when it was stored already (a redelivery)."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    row = {"user_id": user_id, "in_bed": in_bed, "event_at": at, "received_at": received_at}
    statement = insert(BED).values(**row, inbound_event_id=event_id).on_conflict_do_nothing()
    return conn.execute(statement).rowcount == 1


def _clip(text: str | None) -> str | None:
    return None if text is None else text[:MAX_ERROR]
