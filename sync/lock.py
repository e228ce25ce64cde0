"""One ETL run at a time per database: a PostgreSQL advisory lock or a lock file beside SQLite."""

from __future__ import annotations

import time
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout
from sqlalchemy.engine import Engine

from configuration.settings import PROJECT_DIR

ADVISORY_KEY = zlib.crc32(b"whoop-data-platform:etl-run")
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
    try:
        with FileLock(str(path), timeout=max(wait, 0), mode=0o600):
            yield
    except Timeout:
        raise RunLocked(_message(wait)) from None


@contextmanager
def _advisory_lock(engine: Engine, wait: float) -> Iterator[None]:
    # A session-level lock on a connection of its own: released when it closes, even if the
    # process dies, so a crashed run never leaves the database locked.
    with engine.connect() as conn:
        deadline = time.monotonic() + max(wait, 0)
        while not conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({ADVISORY_KEY})").scalar():
            conn.rollback()
            if time.monotonic() >= deadline:
                raise RunLocked(_message(wait))
            time.sleep(POLL_SECONDS)
        conn.commit()
        try:
            yield
        finally:
            conn.exec_driver_sql(f"SELECT pg_advisory_unlock({ADVISORY_KEY})")
            conn.commit()


def _message(wait: float) -> str:
    waited = f" after waiting {wait:g}s" if wait else ""
    return f"another ETL run is in progress on this database{waited}; try again later or pass --wait SECONDS"
