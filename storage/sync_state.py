"""Read and advance `sync_state` inside the caller's transaction (never ahead of the rows)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.orm import Session

from configuration.clock import utcnow
from models import SyncState
from storage.accounts import owner_of

log = logging.getLogger(__name__)
MAX_ERROR_LENGTH = 2000
# The same date bounds the mappers apply to records (mapping_fields): a cursor outside them
# would make every later run fail (a Withings `updatetime` of 10^20 overflows datetime).
EARLIEST_CURSOR = datetime(2010, 1, 1, tzinfo=timezone.utc)
CURSOR_SLACK = timedelta(days=2)


def cursor_time(cursor: str | None, now: datetime) -> datetime | None:
    """A stored epoch-seconds cursor as a datetime, or None when it is absent or implausible."""
    try:
        seconds = int(cursor) if cursor is not None else None
    except ValueError:
        return None
    if seconds is None or not EARLIEST_CURSOR.timestamp() <= seconds <= (now + CURSOR_SLACK).timestamp():
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def get_sync_state(session: Session, source: str, resource: str, user_id: int) -> SyncState | None:
    """The sync state of one (source, resource, user), or None before the first successful run."""
    stmt = select(SyncState).where(
        SyncState.source == source, SyncState.resource == resource, SyncState.user_id == user_id
    )
    return session.execute(stmt).scalar_one_or_none()


def stored_states(conn: Connection, source: str, user_id: int) -> dict[str, Row]:
    """Every sync_state row of one provider's user, by resource, in one query.

    On Core: a run plans its windows with it before the first request, and the ORM's first use
    (configuring every mapper) would cost that wait about 20 ms. The rows read like SyncState.
    """
    table = SyncState.__table__
    rows = conn.execute(select(table).where(table.c.source == source, table.c.user_id == user_id))
    return {row.resource: row for row in rows}


def _get_or_new(session: Session, source: str, resource: str, user_id: int) -> SyncState:
    state = get_sync_state(session, source, resource, user_id)
    if state is None:
        state = SyncState(source=source, resource=resource, user_id=user_id, status="never")
        session.add(state)
    # Filed under the provider user's account on every write, in the same statement: a link
    # made after the row (a re-connect under another name) moves it along.
    state.account_id = owner_of(source, user_id)
    return state


def advance_sync_state(
    session: Session,
    source: str,
    resource: str,
    user_id: int,
    *,
    window,
    cursor: int | None = None,
    counts: dict | None = None,
    now: datetime | None = None,
) -> SyncState:
    """Record a successful window; call it in the transaction that wrote the window's rows.

    The window and cursor move only when `window.moves_cursor` (an explicit `--since` window that
    starts after the stored cursor must not hide the gap before it from the next plain run).
    """
    now = now or utcnow()
    state = _get_or_new(session, source, resource, user_id)
    if window.moves_cursor:
        state.window_start = window.start
        state.window_end = window.end
        if cursor is not None:
            if cursor_time(cursor, now) is not None:
                state.cursor = str(cursor)
            else:
                # Keep a cursor that is behind rather than move to an impossible one: the next run
                # re-reads a little more. Without a previous one, the run's own start stands in.
                log.warning("%s %s: ignoring an implausible cursor %.40s", source, resource, cursor)
                if cursor_time(state.cursor, now) is None:
                    state.cursor = str(int(window.end.timestamp()))
    state.last_attempt_at = now
    state.last_success_at = now
    state.status = "ok"
    state.error = None
    state.counts = counts
    session.flush()
    return state


def record_sync_failure(
    session: Session, source: str, resource: str, user_id: int, error: str, now: datetime | None = None
) -> SyncState:
    """Note a failed attempt; the window and cursor stay where the last success left them."""
    state = _get_or_new(session, source, resource, user_id)
    state.last_attempt_at = now or utcnow()
    state.status = "error"
    state.error = error[:MAX_ERROR_LENGTH]
    session.flush()
    return state
