"""The quarantine as a person reviews it: every item with its state, and one item's payload."""

from __future__ import annotations

import json
from datetime import datetime, timezone, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from configuration.logs import redact, redact_json
from models import Quarantine
from readers.read_model import owned
from storage import quarantine

FIELDS = ("id", "source", "resource", "key", "reason", "first_seen_at", "last_seen_at", "attempts", "state")


def _item(row: Quarantine) -> dict:
    # A record without a readable API key is named by the hash of its payload.
    return {
        "id": row.id,
        "source": row.source,
        "resource": row.resource,
        "key": row.record_key or row.fingerprint,
        "reason": redact(row.reason),
        "first_seen_at": row.first_seen_at,
        "last_seen_at": row.last_seen_at,
        "attempts": row.attempts,
        "state": quarantine.state(row),
        "acknowledged_at": row.acknowledged_at,
        "dismissed_at": row.dismissed_at,
    }


def list_items(session: Session, *, include_dismissed: bool = False, account: int | None = None) -> list[dict]:
    """Every item (of `account`, when given), oldest first; dismissed ones only when asked for."""
    stmt = select(Quarantine).where(*owned(Quarantine, account)).order_by(Quarantine.first_seen_at, Quarantine.id)
    if not include_dismissed:
        stmt = stmt.where(Quarantine.dismissed_at.is_(None))
    return [_item(row) for row in session.scalars(stmt)]


def get_item(session: Session, item_id: int, account: int | None = None) -> dict | None:
    """One item (of `account`, when given) with its payload decoded (NaN and Infinity kept) and
    any credential in it masked, or None when there is no such id.

    An API can echo a token or secret inside a record (or a test double can), and the payload is
    stored as sent: shown, it is masked as every other output is."""
    row = session.scalars(select(Quarantine).where(Quarantine.id == item_id, *owned(Quarantine, account))).first()
    if row is None:
        return None
    payload = redact_json(json.loads(row.payload))
    return {**_item(row), "user_id": row.user_id, "timezone": row.timezone, "payload": payload}


def _when(value: datetime | None, tz: tzinfo = timezone.utc) -> str:
    if value is None:
        return "-"
    # SQLite hands back naive UTC; astimezone() would read a naive time as this computer's.
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def format_items(items: list[dict], tz: tzinfo = timezone.utc, zone: str = "UTC") -> str:
    """The items as a table a terminal shows, its times in `tz` (`zone` names it in the header)."""
    if not items:
        return "The quarantine is empty: every record the APIs sent was stored."
    lines = [
        f"{'id':>5} {'state':12} {'resource':24} {'key':24} {'first seen':16} {'last seen':16} "
        f"{'tries':>5} reason (times in {zone})"
    ]
    for q in items:
        lines.append(
            f"{q['id']:>5} {q['state']:12} {q['source'] + ' ' + q['resource']:24} {q['key'][:24]:24} "
            f"{_when(q['first_seen_at'], tz):16} {_when(q['last_seen_at'], tz):16} {q['attempts']:>5} "
            f"{q['reason'][:160]}"
        )
    return "\n".join(lines)
