"""A transaction that only reads (`storage.engine.reading`) goes on while another holds the writer's
lock: on SQLite it begins deferred, where the writing engine's other transactions begin IMMEDIATE."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from sqlalchemy import insert, select

from models import account
from storage.engine import make_engine, reading

CREATED = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
HANG_GUARD_SECONDS = 20  # only ends a wait that would otherwise last SQLite's 30 s busy timeout


def test_a_read_goes_on_while_a_write_transaction_is_open_and_sees_only_what_was_committed(db_url):
    engine = make_engine(db_url)
    read_done, seen = threading.Event(), []

    def read() -> None:
        with reading(engine) as conn:
            seen.append(set(conn.scalars(select(account.c.name))))
        read_done.set()

    try:
        with engine.begin() as writer:  # holds the write lock (SQLite: BEGIN IMMEDIATE) until the block ends
            writer.execute(insert(account).values(name="not-committed-yet", created_at=CREATED))
            reader = threading.Thread(target=read)
            reader.start()
            assert read_done.wait(HANG_GUARD_SECONDS)  # it did not queue behind the open write
        reader.join()
        assert "not-committed-yet" not in seen[0]
        with reading(engine) as conn:
            assert "not-committed-yet" in set(conn.scalars(select(account.c.name)))
    finally:
        engine.dispose()
