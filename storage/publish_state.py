"""The install id and the publish bookkeeping: the `installation` and `publish_state` tables.

The install id names this database (not a host): every process publishing from it gives Home
Assistant the same unique ids. Every function runs inside the caller's transaction.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

import models
from configuration.clock import utcnow

INSTALLATION = models.installation
STATE = models.publish_state
MQTT = "mqtt"


def ensure_install_id(conn: Connection) -> str:
    """This database's install id, made once (the migration makes it; a database emptied by hand
    gets a new one, safe against a concurrent maker: the oldest row wins)."""
    found = _first_id(conn)
    if found is None:
        try:
            with conn.begin_nested():
                conn.execute(insert(INSTALLATION).values(id=secrets.token_hex(6), created_at=utcnow()))
        except IntegrityError:  # the same random id twice: the row that exists is the answer
            pass
        found = _first_id(conn)
    return found


def _first_id(conn: Connection) -> str | None:
    query = select(INSTALLATION.c.id).order_by(INSTALLATION.c.created_at, INSTALLATION.c.id).limit(1)
    return conn.execute(query).scalar()


def record(conn: Connection, account: str, *, error: str | None, at: datetime, target: str = MQTT) -> None:
    """File one publish attempt of `account`: a success (`error` None) or why it failed."""
    values = {"last_attempt_at": at, "error": error}
    if error is None:
        values["last_success_at"] = at
    where = (STATE.c.target == target, STATE.c.account == account)
    if conn.execute(update(STATE).where(*where).values(**values)).rowcount:
        return
    try:
        with conn.begin_nested():
            conn.execute(insert(STATE).values(target=target, account=account, **values))
    except IntegrityError:  # another process filed its first attempt meanwhile: update that row
        conn.execute(update(STATE).where(*where).values(**values))


def forget(conn: Connection, account: str, target: str = MQTT) -> None:
    """Drop `account`'s bookkeeping (its entities were withdrawn)."""
    conn.execute(delete(STATE).where(STATE.c.target == target, STATE.c.account == account))


def last(conn: Connection, account: str, target: str = MQTT) -> dict | None:
    """`account`'s last attempt, last success and last error, or None when it was never published."""
    row = conn.execute(
        select(STATE.c.last_attempt_at, STATE.c.last_success_at, STATE.c.error).where(
            STATE.c.target == target, STATE.c.account == account
        )
    ).first()
    return None if row is None else dict(row._mapping)


def names(conn: Connection, target: str = MQTT) -> list[str]:
    """Every account name ever published (and not withdrawn), removed accounts included."""
    return list(
        conn.execute(select(STATE.c.account).where(STATE.c.target == target).order_by(STATE.c.account)).scalars()
    )
