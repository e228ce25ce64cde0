"""The `inbound_event` table's write side: one INSERT per accepted event, a redelivery storing nothing.

The receiver's database role may hold INSERT on `inbound_event` and nothing else (README,
"The receiver's database role", verified by tests/webhooks/test_receiver_role.py): the duplicate
check is the UNIQUE `dedupe_key` itself (`ON CONFLICT DO NOTHING` without a conflict target, since
naming one needs SELECT on it), and whether a row was stored is the statement's row count, not a
RETURNING (which needs SELECT too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

import models

TABLE = models.inbound_event


@dataclass(frozen=True)
class InboundEvent:
    """One verified webhook or notification, as the receiver stores it."""

    provider: str  # "whoop" | "withings"
    dedupe_key: str
    user_id: int
    payload: dict
    event_type: str | None = None
    object_id: str | None = None
    trace_id: str | None = None
    appli: int | None = None
    startdate: int | None = None
    enddate: int | None = None


def _insert(engine: Engine):
    # inline(): no RETURNING of the new id, which SQLAlchemy would add and which needs SELECT.
    return (pg_insert if engine.dialect.name == "postgresql" else sqlite_insert)(TABLE).inline()


def store_event(engine: Engine, event: InboundEvent, received_at: datetime) -> bool:
    """Commit `event`; True when it was new, False when its dedupe key was already stored."""
    row = {
        "provider": event.provider,
        "dedupe_key": event.dedupe_key,
        "user_id": event.user_id,
        "event_type": event.event_type,
        "object_id": event.object_id,
        "trace_id": event.trace_id,
        "appli": event.appli,
        "startdate": event.startdate,
        "enddate": event.enddate,
        "payload": json.dumps(event.payload, sort_keys=True),
        "received_at": received_at,
    }
    # No conflict target: naming one (dedupe_key) needs SELECT on it. The only other unique key
    # is the generated id, so a conflict can only be a stored dedupe key.
    statement = _insert(engine).values(row).on_conflict_do_nothing()
    with engine.begin() as conn:
        return conn.execute(statement).rowcount == 1


def known_users(engine: Engine) -> set[tuple[str, int]]:
    """Every (provider, user_id) an account holds: what the receiver accepts events for."""
    link = models.account_provider
    with engine.connect() as conn:
        return {(row.provider, row.user_id) for row in conn.execute(select(link.c.provider, link.c.user_id))}
