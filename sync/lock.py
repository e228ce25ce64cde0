"""Who may sync what at once: PostgreSQL advisory locks, or one lock file beside SQLite.

- `run_lock`: the whole database, exclusively (today's single-run lock; the quarantine review
  takes it so no run writes the rows it changes).
- `account_lock`: one account. On PostgreSQL an exclusive lock per account plus the whole-database
  key in shared mode, so runs and workers of different accounts overlap, one account is never
  synced twice at once, and a `run_lock` holder still excludes them all. On SQLite one process
  syncs at a time (`process_lock`, the file lock) and its accounts overlap inside it.
"""

from __future__ import annotations

import logging
import time
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout
from sqlalchemy.engine import Engine

from configuration.settings import PROJECT_DIR

log = logging.getLogger(__name__)
ADVISORY_KEY = zlib.crc32(b"whoop-data-platform:etl-run")
# The two-int form pg_try_advisory_lock(ACCOUNT_NS, account id); int4, hence the fold.
ACCOUNT_NS = zlib.crc32(b"whoop-data-platform:account") - 2**31
POLL_SECONDS = 0.5


class RunLocked(RuntimeError):
    """Another run holds the lock (exit code 75, EX_TEMPFAIL)."""


def _sqlite_lock_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        return PROJECT_DIR / "data" / "memory-db.etl.lock"
    path = Path(database)
    return path.with_name(path.name + ".etl.lock")


@contextmanager
def run_lock(engine: Engine, wait: float = 0.0) -> Iterator[None]:
    """Hold the database's run lock for the block; RunLocked after `wait` seconds."""
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, wait):
            yield
        return
    path = _sqlite_lock_path(engine)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = FileLock(str(path), mode=0o600)
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if wait <= 0:
                raise
            _waiting("the run lock", wait)
            lock.acquire(timeout=wait)
    except Timeout:
        raise RunLocked(_message(wait)) from None
    try:
        yield
    finally:
        lock.release()


@contextmanager
def process_lock(engine: Engine, wait: float = 0.0) -> Iterator[None]:
    """SQLite: the database's lock file for a process that syncs accounts (they then take
    `account_lock`, which is free on SQLite). PostgreSQL: nothing; the account locks decide."""
    if engine.dialect.name == "postgresql":
        yield
        return
    with run_lock(engine, wait):
        yield


@contextmanager
def account_lock(engine: Engine, account_id: int, wait: float = 0.0, *, name: str = "") -> Iterator[None]:
    """Hold one account for a run; RunLocked after `wait` seconds when another holds it."""
    if engine.dialect.name != "postgresql":
        yield  # SQLite: the caller holds process_lock
        return
    keys = (f"pg_try_advisory_lock_shared({ADVISORY_KEY})", f"pg_try_advisory_lock({ACCOUNT_NS}, {int(account_id)})")
    unlock = (f"pg_advisory_unlock_shared({ADVISORY_KEY})", f"pg_advisory_unlock({ACCOUNT_NS}, {int(account_id)})")
    with _advisory_lock(engine, wait, keys, unlock, _message(wait, name), f"account {name or account_id}'s lock"):
        yield


@contextmanager
def _advisory_lock(
    engine: Engine,
    wait: float,
    take: tuple[str, ...] = (f"pg_try_advisory_lock({ADVISORY_KEY})",),
    release: tuple[str, ...] = (f"pg_advisory_unlock({ADVISORY_KEY})",),
    message: str | None = None,
    what: str = "the run lock",
) -> Iterator[None]:
    # Session-level locks on a connection of their own: released when it closes, even if the
    # process dies, so a crashed run never leaves the database or an account locked.
    with engine.connect() as conn:
        deadline = time.monotonic() + max(wait, 0)
        refused = False
        while True:
            held = conn.exec_driver_sql(f"SELECT {', '.join(take)}").one()
            if all(held):
                break
            for got, free in zip(held, release, strict=True):  # all or nothing: give back what was taken
                if got:
                    conn.exec_driver_sql(f"SELECT {free}")
            conn.rollback()
            if time.monotonic() >= deadline:
                raise RunLocked(message or _message(wait))
            if not refused:
                refused = True
                _waiting(what, wait)
            time.sleep(POLL_SECONDS)
        conn.commit()
        try:
            yield
        finally:
            conn.exec_driver_sql(f"SELECT {', '.join(release)}")
            conn.commit()


def _waiting(what: str, wait: float) -> None:
    # Debug only: a test (or a puzzled operator with --verbose) sees the wait begin.
    log.debug("%s is held by another run: waiting up to %gs for it", what, wait)


def _message(wait: float, account: str = "") -> str:
    waited = f" after waiting {wait:g}s" if wait else ""
    where = f"for account {account!r}" if account else "on this database"
    return f"another ETL run is in progress {where}{waited}; try again later or pass --wait SECONDS"
