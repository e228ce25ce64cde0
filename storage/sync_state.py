"""Read and advance `sync_state` inside the caller's transaction (never ahead of the rows)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Row

import models
from configuration import clock
from storage.accounts import owner_of

log = logging.getLogger(__name__)
MAX_ERROR_LENGTH = 2000
# The same date bounds the mappers apply to records (mapping_fields): a cursor outside them
# would make every later run fail (a Withings `updatetime` of 10^20 overflows datetime).
EARLIEST_CURSOR = datetime(2010, 1, 1, tzinfo=timezone.utc)
CURSOR_SLACK = timedelta(days=2)
NO_DEVICE = "no_device"  # the status of a resource none of the account's devices can produce


def cursor_time(cursor: str | None, now: datetime) -> datetime | None:
    """A stored epoch-seconds cursor as a datetime, or None when it is absent or implausible."""
    try:
        seconds = int(cursor) if cursor is not None else None
    except ValueError:
        return None
    if seconds is None or not EARLIEST_CURSOR.timestamp() <= seconds <= (now + CURSOR_SLACK).timestamp():
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def get_sync_state(session: Connection, source: str, resource: str, user_id: int) -> Row | None:
    """The sync state of one (source, resource, user), or None before the first successful run.

    A row of `sync_state` (it reads like the ORM's SyncState: `state.cursor`)."""
    table = models.sync_state
    stmt = select(table).where(table.c.source == source, table.c.resource == resource, table.c.user_id == user_id)
    return session.execute(stmt).first()


def stored_states(conn: Connection, source: str, user_id: int) -> dict[str, Row]:
    """Every sync_state row of one provider's user, by resource, in one query: a run plans its
    windows with it before the first request."""
    table = models.sync_state
    rows = conn.execute(select(table).where(table.c.source == source, table.c.user_id == user_id))
    return {row.resource: row for row in rows}


def _write(session: Connection, source: str, resource: str, user_id: int, values: dict) -> None:
    """Update the (source, resource, user) row with `values`, or insert it: one statement once it exists."""
    table = models.sync_state
    # Filed under the provider user's account on every write, in the same statement: a link
    # made after the row (a re-connect under another name) moves it along.
    values = {**values, "account_id": owner_of(source, user_id)}
    where = (table.c.source == source, table.c.resource == resource, table.c.user_id == user_id)
    if session.execute(update(table).where(*where).values(**values)).rowcount == 0:
        session.execute(insert(table).values(source=source, resource=resource, user_id=user_id, **values))


def advance_sync_state(
    session: Connection,
    source: str,
    resource: str,
    user_id: int,
    *,
    window,
    cursor: int | None = None,
    counts: dict | None = None,
    now: datetime | None = None,
) -> None:
    """Record a successful window; call it in the transaction that wrote the window's rows.

    The window and cursor move only when `window.moves_cursor` (an explicit `--since` window that
    starts after the stored cursor must not hide the gap before it from the next plain run).
    """
    now = now or clock.utcnow()
    values: dict = {"last_attempt_at": now, "last_success_at": now, "status": "ok", "error": None, "counts": counts}
    if window.moves_cursor:
        # A resumed backfill settles at the end of the window it began; nothing is pending then.
        settles = getattr(window, "settles", None) or window.end
        values.update(window_start=window.start, window_end=settles, resume_before=None, resume_end=None)
        if cursor is not None:
            if cursor_time(cursor, now) is not None:
                values["cursor"] = str(cursor)
            else:
                # Keep a cursor that is behind rather than move to an impossible one: the next run
                # re-reads a little more. Without a previous one, the run's own start stands in.
                log.warning("%s %s: ignoring an implausible cursor %.40s", source, resource, cursor)
                state = get_sync_state(session, source, resource, user_id)
                if cursor_time(state.cursor if state is not None else None, now) is None:
                    values["cursor"] = str(int(window.end.timestamp()))
    _write(session, source, resource, user_id, values)


def record_sync_failure(
    session: Connection, source: str, resource: str, user_id: int, error: str, now: datetime | None = None
) -> None:
    """Note a failed attempt; the window and cursor stay where the last success left them."""
    values = {"last_attempt_at": now or clock.utcnow(), "status": "error", "error": error[:MAX_ERROR_LENGTH]}
    _write(session, source, resource, user_id, values)


def record_sync_deferral(
    session: Connection,
    source: str,
    resource: str,
    user_id: int,
    now: datetime | None = None,
    resume: tuple[datetime, datetime] | None = None,
) -> None:
    """Note an attempt deferred to the next day window (the daily request budget is spent): not
    an error; the window and cursor stay where the last success left them. `resume` (before,
    end): the pages of the window from `end` back to `before` are stored, so the next run reads
    only what lies before (a backfill resumes where it stopped)."""
    values = {"last_attempt_at": now or clock.utcnow(), "status": "deferred", "error": None}
    if resume is not None:
        values.update(resume_before=resume[0], resume_end=resume[1])
    _write(session, source, resource, user_id, values)


def record_no_device(session: Connection, source: str, resource: str, user_id: int, reason: str, now: datetime) -> None:
    """Note a resource left out because no device of the account produces it: not an error, and
    as fresh as the run that decided it (status does not call it stale)."""
    values = {"last_attempt_at": now, "last_success_at": now, "status": NO_DEVICE, "error": reason[:MAX_ERROR_LENGTH]}
    _write(session, source, resource, user_id, values)
