"""The `quarantine` table: records an API sent that could not be stored, kept verbatim and retried.

A record is identified by its API key when it has a readable one (`id=93845`), else by a hash
of its payload; the same record rejected again updates its row (reason, last seen, attempts).
Writes happen in the caller's transaction, beside the rows of the page the record came in.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from configuration.clock import utcnow
from models import Quarantine

# The API field that names a record, per resource (WHOOP recovery: its cycle; Withings: the group).
RECORD_KEYS = {"cycles": "id", "sleep": "id", "workout": "id", "recovery": "cycle_id", "measures": "grpid"}
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


def record_key(resource: str, record: Any) -> str | None:
    """`id=93845` when the record carries a readable API key, else None."""
    name = RECORD_KEYS.get(resource)
    value = record.get(name) if isinstance(record, dict) and name else None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)  # the same key whether the API wrote 93845 or 93845.0
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    text = f"{name}={value}"
    if len(text) > MAX_KEY_TEXT or not text.isprintable():
        return None
    return text.lower()  # UUIDs compare case-insensitively


def fingerprint(resource: str, record: Any) -> str:
    """The record's key, or a hash of its payload when it has none."""
    return record_key(resource, record) or "sha256:" + hashlib.sha256(serialise(record).encode()).hexdigest()


def _clean(reason: str) -> str:
    return reason.replace("\x00", "\\0").encode("utf-8", "backslashreplace").decode("utf-8")[:MAX_REASON]


def quarantine_records(session: Session, source: str, resource: str, rejected: Iterable[Rejected], *,
                       user_id: int | None = None, timezone: str | None = None,
                       now: datetime | None = None) -> int:
    """Store rejected records (or bump the ones already there); returns how many were written."""
    now = now or utcnow()
    latest: dict[str, Rejected] = {}
    for item in rejected:  # the same record twice in a page: one row, the later copy
        latest[fingerprint(resource, item.record)] = item
    if not latest:
        return 0
    table = Quarantine.__table__
    known = dict(session.execute(
        select(table.c.fingerprint, table.c.id).where(
            table.c.source == source, table.c.resource == resource, table.c.fingerprint.in_(list(latest)))).all())
    for fp, item in latest.items():
        values = {"payload": serialise(item.record), "reason": _clean(item.reason), "last_seen_at": now,
                  "user_id": user_id, "timezone": timezone}
        if fp in known:
            session.execute(update(table).where(table.c.id == known[fp])
                            .values(**values, attempts=table.c.attempts + 1))
        else:
            session.execute(insert(table).values(
                **values, source=source, resource=resource, fingerprint=fp,
                record_key=record_key(resource, item.record), first_seen_at=now, attempts=1))
    return len(latest)


def release(session: Session, source: str, resource: str, records: Iterable[Any]) -> int:
    """Remove the quarantine rows of records that were just stored; one SELECT when there are none."""
    keys = {k for k in (record_key(resource, r) for r in records) if k}
    if not keys:
        return 0
    table = Quarantine.__table__
    ids = list(session.scalars(select(table.c.id).where(
        table.c.source == source, table.c.resource == resource, table.c.fingerprint.in_(list(keys)))))
    if ids:
        session.execute(delete(table).where(table.c.id.in_(ids)))
    return len(ids)


def waiting(conn) -> set[tuple[str, str]]:
    """The (source, resource) pairs that have records in quarantine, in one query."""
    table = Quarantine.__table__
    return {(source, resource) for source, resource in
            conn.execute(select(table.c.source, table.c.resource).distinct())}


def entries(session: Session, source: str, resource: str) -> list[Quarantine]:
    """The quarantined records of one resource, oldest first."""
    return list(session.scalars(select(Quarantine).where(
        Quarantine.source == source, Quarantine.resource == resource).order_by(Quarantine.first_seen_at, Quarantine.id)))


def summary(session: Session) -> list[dict]:
    """Per (source, resource): how many records are quarantined, since when, and the oldest reason."""
    rows = session.execute(select(Quarantine.source, Quarantine.resource, func.count(), func.min(Quarantine.first_seen_at))
                           .group_by(Quarantine.source, Quarantine.resource)
                           .order_by(Quarantine.source, Quarantine.resource)).all()
    out = []
    for source, resource, count, oldest in rows:
        reason = session.scalar(select(Quarantine.reason).where(
            Quarantine.source == source, Quarantine.resource == resource)
            .order_by(Quarantine.first_seen_at, Quarantine.id).limit(1))
        out.append({"source": source, "resource": resource, "count": count, "oldest": oldest,
                    "oldest_reason": reason})
    return out
