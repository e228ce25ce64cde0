"""The `quarantine` table: records an API sent that could not be stored, kept verbatim and retried.

A record is identified by its API key when it has a readable one (`id=93845`), else by a hash
of its payload; the same record rejected again updates its row (reason, last seen, attempts).
Writes happen in the caller's transaction, beside the rows of the page the record came in.

A person reviews the items: an acknowledged one stays listed but no longer fails `status
--check`, until it changes (a new reason or a new payload makes it new again); a dismissed one
is kept but never retried, listed only on request and never counted.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import and_, case, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Row

import models
from configuration import clock
from storage.accounts import owner_of

MAX_KEY_TEXT = 64
MAX_REASON = 2000


@dataclass(frozen=True)
class Rejected:
    """One rejected record and why."""

    record: Any
    reason: str


def serialise(record: Any) -> str:
    """JSON text that survives anything an API parser can produce: NaN, 1e999, NUL, lone surrogates."""
    return json.dumps(record, ensure_ascii=True, allow_nan=True, default=repr)


def record_key(name: str | None, record: Any) -> str | None:
    """`id=93845` when the record carries a readable API key in its field `name`, else None.

    `name` is the declaration's quarantine key (WHOOP recovery: its cycle; Withings: the group)."""
    value = record.get(name) if isinstance(record, dict) and name else None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)  # the same key whether the API wrote 93845 or 93845.0
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    text = f"{name}={value}"
    if len(text) > MAX_KEY_TEXT or not text.isprintable():
        return None
    return text.lower()  # UUIDs compare case-insensitively


def fingerprint(key_field: str | None, record: Any) -> str:
    """The record's key, or a hash of its payload when it has none."""
    return record_key(key_field, record) or "sha256:" + hashlib.sha256(serialise(record).encode()).hexdigest()


def _clean(reason: str) -> str:
    return reason.replace("\x00", "\\0").encode("utf-8", "backslashreplace").decode("utf-8")[:MAX_REASON]


def quarantine_records(
    session: Connection,
    source: str,
    resource: str,
    rejected: Iterable[Rejected],
    *,
    key_field: str | None = None,
    user_id: int | None = None,
    timezone: str | None = None,
    now: datetime | None = None,
) -> int:
    """Store rejected records (or bump the ones already there); returns how many were written."""
    now = now or clock.utcnow()
    latest: dict[str, Rejected] = {}
    for item in rejected:  # the same record twice in a page: one row, the later copy
        latest[fingerprint(key_field, item.record)] = item
    if not latest:
        return 0
    table = models.quarantine
    known = {
        r.fingerprint: r
        for r in session.execute(
            select(table.c.fingerprint, table.c.id, table.c.payload, table.c.reason).where(
                table.c.source == source, table.c.resource == resource, table.c.fingerprint.in_(list(latest))
            )
        )
    }
    for fp, item in latest.items():
        values = {
            "payload": serialise(item.record),
            "reason": _clean(item.reason),
            "last_seen_at": now,
            "user_id": user_id,
            "timezone": timezone,
            # The provider user's account, in the same statement (NULL when no account holds it).
            "account_id": None if user_id is None else owner_of(source, user_id),
        }
        if fp in known:
            stored = known[fp]
            if (stored.payload, stored.reason) != (values["payload"], values["reason"]):
                values["acknowledged_at"] = None  # changed since a person saw it: new again
            session.execute(
                update(table).where(table.c.id == stored.id).values(**values, attempts=table.c.attempts + 1)
            )
        else:
            session.execute(
                insert(table).values(
                    **values,
                    source=source,
                    resource=resource,
                    fingerprint=fp,
                    record_key=record_key(key_field, item.record),
                    first_seen_at=now,
                    attempts=1,
                )
            )
    return len(latest)


def release(
    session: Connection, source: str, resource: str, records: Iterable[Any], *, key_field: str | None = None
) -> int:
    """Remove the quarantine rows of records that were just stored; one SELECT when there are none."""
    keys = {k for k in (record_key(key_field, r) for r in records) if k}
    if not keys:
        return 0
    table = models.quarantine
    ids = list(
        session.scalars(
            select(table.c.id).where(
                table.c.source == source, table.c.resource == resource, table.c.fingerprint.in_(list(keys))
            )
        )
    )
    if ids:
        session.execute(delete(table).where(table.c.id.in_(ids)))
    return len(ids)


def holds(conn, source: str, resource: str) -> bool:
    """Whether any record of this resource is quarantined (dismissed ones included): one indexed probe."""
    table = models.quarantine
    stmt = select(table.c.id).where(table.c.source == source, table.c.resource == resource).limit(1)
    return conn.execute(stmt).first() is not None


def waiting(conn) -> set[tuple[str, str]]:
    """The (source, resource) pairs that have records to retry (not dismissed), in one query."""
    table = models.quarantine
    return {
        (source, resource)
        for source, resource in conn.execute(
            select(table.c.source, table.c.resource).where(table.c.dismissed_at.is_(None)).distinct()
        )
    }


def entries(
    session: Connection,
    source: str,
    resource: str,
    ids: Iterable[int] | None = None,
    user_id: int | None = None,
    where: tuple = (),
) -> list[Row]:
    """The quarantined records of one resource still to retry (not dismissed; only `ids` if given,
    only the provider user's if `user_id` is given, only those meeting `where`: e.g. one account's),
    oldest first.

    Rows of the `quarantine` table (they read like the ORM's Quarantine: `item.payload`)."""
    table = models.quarantine
    conditions = [table.c.source == source, table.c.resource == resource, table.c.dismissed_at.is_(None), *where]
    if user_id is not None:  # a run touches only its own user's items: accounts run side by side
        conditions.append(table.c.user_id == user_id)
    if ids is not None:
        conditions.append(table.c.id.in_(list(ids)))
    return list(session.execute(select(table).where(*conditions).order_by(table.c.first_seen_at, table.c.id)))


def state(item: Any) -> str:
    """ "new", "acknowledged" or "dismissed": what a person has done with a quarantine item."""
    if item.dismissed_at is not None:
        return "dismissed"
    return "acknowledged" if item.acknowledged_at is not None else "new"


def summary(session: Connection, where=()) -> list[dict]:
    """Per (source, resource), dismissed items left out: how many records are held (`count`), how
    many of them are `new` (not acknowledged since they last changed), since when, the oldest reason.
    `where`: further conditions on the items (a reader's account filter)."""
    q = models.quarantine.c
    listed = and_(q.dismissed_at.is_(None), *where)
    new = func.sum(case((q.acknowledged_at.is_(None), 1), else_=0))
    rows = session.execute(
        select(q.source, q.resource, func.count(), new, func.min(q.first_seen_at))
        .where(listed)
        .group_by(q.source, q.resource)
        .order_by(q.source, q.resource)
    ).all()
    out = []
    for source, resource, count, fresh, oldest in rows:
        reason = session.scalar(
            select(q.reason)
            .where(q.source == source, q.resource == resource, listed)
            .order_by(q.first_seen_at, q.id)
            .limit(1)
        )
        out.append(
            {
                "source": source,
                "resource": resource,
                "count": count,
                "new": int(fresh or 0),
                "acknowledged": count - int(fresh or 0),
                "oldest": oldest,
                "oldest_reason": reason,
            }
        )
    return out


def _review(
    session: Connection, column: str, ids: Iterable[int] | None, now: datetime | None, where: tuple = ()
) -> list[int]:
    """Set `column` to now on the listed items (None: every new one) that meet `where` (a reader's
    account filter); returns the ids changed."""
    table = models.quarantine
    where = [table.c.dismissed_at.is_(None), table.c[column].is_(None), *where]
    if ids is not None:
        where.append(table.c.id.in_(list(ids)))
    changed = list(session.scalars(select(table.c.id).where(*where).order_by(table.c.id)))
    if changed:
        session.execute(update(table).where(table.c.id.in_(changed)).values({column: now or clock.utcnow()}))
    return changed


def acknowledge(
    session: Connection, ids: Iterable[int] | None = None, now: datetime | None = None, where: tuple = ()
) -> list[int]:
    """Mark items as seen (None: every new one; `where`: of one account): they stay listed and
    stop failing `status --check`."""
    return _review(session, "acknowledged_at", ids, now, where)


def dismiss(session: Connection, ids: Iterable[int], now: datetime | None = None, where: tuple = ()) -> list[int]:
    """Mark items as never to be stored: kept, but not retried, not listed by default, not counted."""
    return _review(session, "dismissed_at", ids, now, where)
