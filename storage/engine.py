"""Engine creation and the start-up schema check (Alembic only when needed)."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

# The newest Alembic revision; `tests/storage/test_migrations.py` keeps it equal to the script head.
SCHEMA_HEAD = "0018_daily_detail"
SQLITE_BUSY_TIMEOUT_MS = 30_000
DEFAULT_CONNECT_TIMEOUT = 10  # seconds; settings.DB_CONNECT_TIMEOUT_SECONDS
DEFAULT_STATEMENT_TIMEOUT = 300  # seconds; settings.DB_STATEMENT_TIMEOUT_SECONDS
READING = "whoop_etl_reading"  # the execution option `reading` sets: this transaction only reads


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or opened; the message says which one (no password)."""


def safe_url(url: str) -> str:
    """The database URL with any password masked, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def _prepare_sqlite_file(path: str) -> None:
    # The database holds OAuth tokens: its folder is 0700 and the file 0600 from the first byte.
    if path in ("", ":memory:"):
        return
    db_path = Path(path)
    if not db_path.parent.exists():
        from configuration import settings  # the default data/ folder is the only one created for the user

        if db_path.parent != settings.default_sqlite_path().parent:
            raise DatabaseUnavailable(
                f"the folder {db_path.parent} of the SQLite database does not exist "
                "(DATABASE_URL); create it or fix the path"
            )
        db_path.parent.mkdir(parents=True, mode=0o700)
    fd = os.open(db_path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(db_path, 0o600)


def _install_sqlite_hooks(engine: Engine, read_only: bool) -> None:
    # pysqlite's implicit transactions break SAVEPOINT and defer locking; the SQLAlchemy
    # recipe is to take over BEGIN. Writers use BEGIN IMMEDIATE so a select-then-write
    # transaction never fails half-way with SQLITE_BUSY when another writer got in first.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys = ON")
        if not read_only:
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        deferred = read_only or conn.get_execution_options().get(READING, False)
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A transaction that only reads. On SQLite it begins deferred: in WAL mode a reader neither
    waits for the writer nor holds it back, where the BEGIN IMMEDIATE of a writing engine's other
    transactions takes the write lock, and a thread that finds it taken sleeps in SQLite's busy
    handler, in growing steps, instead of waking when it is free. So a run's threads
    read (a token, the quarantine, a stored rate) while its writer holds the lock. PostgreSQL: a
    plain transaction."""
    with engine.connect() as conn:
        conn.execution_options(**{READING: True})
        with conn.begin():
            yield conn


def _sqlite_engine(url: str, read_only: bool, **kwargs) -> Engine:
    parsed = make_url(url)
    if not read_only:
        try:
            _prepare_sqlite_file(parsed.database or "")
        except OSError as exc:
            raise DatabaseUnavailable(
                f"cannot create the SQLite database {parsed.database} (DATABASE_URL): {exc.strerror or exc}"
            ) from None
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    if read_only and parsed.database not in (None, "", ":memory:"):
        # A read-only URI connection: the dashboard can never write, whatever it runs.
        url = f"sqlite:///file:{parsed.database}?mode=ro&uri=true"
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    _install_sqlite_hooks(engine, read_only)
    return engine


# The server's side of dead-peer detection (user-settable parameters): a session whose host
# vanished without closing its socket (power loss) ends within about a minute instead of the
# operating system's two hours, and with it the advisory locks it held (docs/SCALE.md).
SERVER_KEEPALIVES = " -c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3"


def postgres_connect_args(
    connect_timeout: int, statement_timeout: int, read_only: bool, server_keepalives: bool = False
) -> dict:
    """libpq options: a connect deadline, a per-statement deadline, dead-peer detection (the
    server's side too with `server_keepalives`, for sessions that hold account locks)."""
    # Startup options, not SET after connecting: a SET runs inside the pool's first transaction
    # and its rollback undoes it. (A PgBouncer in transaction mode rejects `options`: point
    # DATABASE_URL at PostgreSQL itself or at a session-mode pool.)
    options = f"-c statement_timeout={statement_timeout * 1000}"
    if read_only:
        options += " -c default_transaction_read_only=on"
    if server_keepalives:
        options += SERVER_KEEPALIVES
    return {
        "connect_timeout": connect_timeout,
        "options": options,
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
    }


def json_text(value) -> str:
    """A JSON column's text: the text a mapper's storability check already made of a record
    (mapping.fields.CheckedRecord, the same JSON, non-ASCII unescaped), else json.dumps."""
    text = getattr(value, "json_text", None)
    return json.dumps(value) if text is None else text


def make_engine(
    url: str,
    *,
    read_only: bool = False,
    connect_timeout: int = DEFAULT_CONNECT_TIMEOUT,
    statement_timeout: int = DEFAULT_STATEMENT_TIMEOUT,
    server_keepalives: bool = False,
    **kwargs,
) -> Engine:
    """An engine for `url`: SQLite with WAL, foreign keys and a busy timeout; PostgreSQL pooled, with deadlines.

    SQL parameters never appear in error messages: they carry OAuth tokens.
    """
    kwargs.setdefault("hide_parameters", True)
    kwargs.setdefault("json_serializer", json_text)  # each record's `raw` is encoded once, by its mapper
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url, read_only, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    connect_args = postgres_connect_args(connect_timeout, statement_timeout, read_only, server_keepalives)
    return create_engine(url, connect_args={**connect_args, **kwargs.pop("connect_args", {})}, **kwargs)


def describe_failure(url: str, exc: Exception) -> str:
    """'cannot reach DATABASE_URL (host 10.0.0.5:5432, postgresql+psycopg2://u:***@...): <first line>'."""
    parsed = make_url(url)
    where = (
        f"host {parsed.host or 'local socket'}{f':{parsed.port}' if parsed.port else ''}, "
        if parsed.get_backend_name() != "sqlite"
        else ""
    )
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"cannot use DATABASE_URL ({where}{safe_url(url)}): {lines[0] if lines else type(exc).__name__}"


def current_revision(engine: Engine) -> str | None:
    """The database's Alembic revision, or None for an empty or pre-Alembic database."""
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, ProgrammingError) as exc:
        if _is_missing_table(exc):
            return None
        raise DatabaseUnavailable(describe_failure(engine.url.render_as_string(hide_password=False), exc)) from exc


def _is_missing_table(exc: Exception) -> bool:
    message = str(getattr(exc, "orig", exc)).lower()
    return "no such table" in message or "does not exist" in message


def ensure_schema(engine: Engine) -> bool:
    """Upgrade the database to SCHEMA_HEAD; one cheap query when it is already there.

    Returns True when a migration ran. Alembic is imported only when it has work to do,
    so the daily cron run pays for a single SELECT.
    """
    if current_revision(engine) == SCHEMA_HEAD:
        return False
    from storage import migrate  # lazy: Alembic and the migration scripts load only on this path

    migrate.upgrade(engine)
    return True
