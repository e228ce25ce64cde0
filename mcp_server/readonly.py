"""Read-only database access for the MCP server: no writes, no token table, bounded queries."""

from __future__ import annotations

import functools
import json
import logging
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from mcp_server import sqlite_worker
from mcp_server.sql_guard import UnsafeSql, check_postgres_sql
from models import Account, AccountProvider
from readers.export import DAILY_VIEWS, declared_tables, iso
from storage.engine import make_engine

log = logging.getLogger(__name__)

TOKEN_TABLE = sqlite_worker.TOKEN_TABLE
MAX_ROWS = 1000
ONE_SELECT = "the query tool runs one SELECT only (or WITH ... SELECT, or VALUES), without a `;` and a second statement"
READING_WORDS = ("select", "with", "values")
QUERY_TIMEOUT_SECONDS = 5.0
MAX_REPLY_BYTES = 1_000_000  # a reply a model client reads at once; 64 MB ones stall the client
# A query the statement timeout did not stop (it caught the cancel) has this long before its
# backend is terminated.
TERMINATE_GRACE_SECONDS = 1.0
WORKER_POLL_SECONDS = 0.02  # how often the deadline of a SQLite query's worker is checked
clock = time.monotonic  # the deadline's clock; tests replace it with one they control

# PostgreSQL: the database's own privileges are the only sound barrier, so the SQL tool runs
# only for a login role that can read no token and write nothing, and cannot raise itself:
# no role attribute or membership that creates roles or databases, bypasses row security,
# replicates, or reads, writes or runs anything on the server as the postgres OS user; nor take
# an advisory lock (holding the ETL's run lock would stop every sync).
_PG_ROLE_CHECK = """
SELECT r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
       EXISTS (SELECT 1 FROM pg_class c WHERE c.relname = 'oauth_token'
               AND (has_table_privilege(c.oid, 'SELECT') OR has_any_column_privilege(c.oid, 'SELECT'))),
       EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
               AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')),
       EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = r.oid),
       EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname IN ('pg_execute_server_program',
               'pg_read_server_files', 'pg_write_server_files', 'pg_read_all_data')
               AND pg_has_role(r.oid, g.oid, 'MEMBER')),
       EXISTS (SELECT 1 FROM pg_proc p WHERE p.pronamespace = 'pg_catalog'::regnamespace
               AND p.proname IN ('pg_advisory_lock', 'pg_advisory_lock_shared', 'pg_try_advisory_lock',
               'pg_try_advisory_lock_shared', 'pg_advisory_xact_lock', 'pg_advisory_xact_lock_shared',
               'pg_try_advisory_xact_lock', 'pg_try_advisory_xact_lock_shared')
               AND has_function_privilege(p.oid, 'EXECUTE'))
FROM pg_roles r WHERE r.rolname = current_user
"""
_PG_ROLE_FINDINGS = (
    "is a superuser",
    "has CREATEROLE",
    "has CREATEDB",
    "has REPLICATION",
    "has BYPASSRLS",
    "can read oauth_token",
    "can write tables",
    "is a member of other roles",
    "is a member of a server-file or read-all role",
    "can take advisory locks (the ETL's run lock: revoke them from PUBLIC, README 'PostgreSQL roles')",
)


class QueryRefused(RuntimeError):
    """A query the server will not run, or that the database refused; the message says why."""


# Who is who (account names, their provider user ids): no secret, and what an account's SQL filters on.
ACCOUNT_TABLES = (Account.__tablename__, AccountProvider.__tablename__)


@functools.lru_cache(maxsize=1)
def queryable_tables() -> tuple[str, ...]:
    """The tables and views the `query` tool reads, as the code declares them (never the token table)."""
    # `account_provider` says whose provider user ids are whose: the SQL behind an account's question.
    return (*(name for name in declared_tables() if name != TOKEN_TABLE), *DAILY_VIEWS, *ACCOUNT_TABLES)


def open_read_only(url: str) -> Engine:
    """An engine that cannot write (SQLite mode=ro, PostgreSQL read-only transactions).

    On SQLite every connection also gets sqlite_worker.authorizer. No pool: session settings a
    query makes die with its connection.
    """
    from sqlalchemy import event

    engine = make_engine(url, read_only=True, poolclass=NullPool)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _authorize(dbapi_conn, _record):
            dbapi_conn.set_authorizer(sqlite_worker.authorizer)

    return engine


def pg_sql_refusal(cursor) -> str | None:
    """Why the connected PostgreSQL role may not run free SQL, or None when it may."""
    cursor.execute(_PG_ROLE_CHECK)
    found = [text for text, flag in zip(_PG_ROLE_FINDINGS, cursor.fetchone(), strict=False) if flag]
    if found:
        return (
            f"the SQL tool on PostgreSQL needs MCP_DATABASE_URL set to a role that can read the "
            f"data tables only; this role {', '.join(found)}: see README, "
            "'Ask questions from an AI assistant'"
        )
    return None


def run_query(engine: Engine, sql: str, limit: int = 100, timeout: float = QUERY_TIMEOUT_SECONDS) -> dict:
    """Run one SELECT read-only: at most `limit` rows (<= MAX_ROWS) and MAX_REPLY_BYTES, within `timeout` s."""
    statement = sql.strip().rstrip(";").strip()
    if not statement:
        raise QueryRefused(f"empty query: {ONE_SELECT}")
    first = re.match(r"[A-Za-z]+", statement)
    if first and first.group(0).lower() not in READING_WORDS:
        raise QueryRefused(f"{first.group(0).upper()} is not allowed: {ONE_SELECT}")
    limit = max(1, min(int(limit), MAX_ROWS))
    # The subquery makes anything but a SELECT / VALUES / WITH query a syntax error.
    wrapped = f"SELECT * FROM (\n{statement}\n) AS q LIMIT {limit + 1}"
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        runner = _sqlite_query if engine.dialect.name == "sqlite" else _pg_query
        try:
            rows, columns, truncated = runner(raw, wrapped, limit, timeout, engine)
        except engine.dialect.dbapi.Error as exc:
            conn.invalidate()  # the connection may be ended or mid-statement: never reused
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise QueryRefused(_refusal(message)) from None
        except QueryRefused:
            conn.invalidate()
            raise
    return {"columns": columns, "rows": rows, "truncated": truncated, "row_limit": limit, "byte_limit": MAX_REPLY_BYTES}


def _sqlite_query(_raw, wrapped: str, limit: int, timeout: float, engine: Engine):
    # SQLite checks its interrupt flag only between rows, and one row can run for minutes: the
    # query runs in a worker process, killed at the deadline (see mcp_server/sqlite_worker.py).
    request = json.dumps(
        {
            "path": _sqlite_file(engine),
            "sql": wrapped,
            "limit": limit,
            "max_bytes": MAX_REPLY_BYTES,
            "tables": queryable_tables(),
        }
    )
    worker = subprocess.Popen(
        [sys.executable, "-I", sqlite_worker.__file__],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline, pending = clock() + timeout, request
    try:
        while True:
            try:
                out, err = worker.communicate(pending, timeout=WORKER_POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pending = None  # sent once; retrying loses no output
                if clock() > deadline:
                    raise QueryRefused(f"the query ran past its {timeout:g} s deadline and was interrupted") from None
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
    return _worker_answer(worker.returncode, out, err)


def _worker_answer(returncode: int, out: str, err: str):
    try:
        answer = json.loads(out) if returncode == 0 else None
    except ValueError:
        answer = None
    if answer is None:
        reason = (err.strip().splitlines() or [f"exit code {returncode}"])[-1]
        raise QueryRefused(f"the query's worker process failed: {reason}")
    if "refused" in answer:
        raise QueryRefused(_refusal(answer["refused"]))
    return answer["rows"], answer["columns"], answer["truncated"]


def _refusal(message: str) -> str:
    # The query runs inside a subquery, so a second statement or anything but a read reaches the
    # database as a syntax error: say what the tool takes, not only where the parser stopped.
    hint = f" ({ONE_SELECT})" if "syntax error" in message.lower() else ""
    return f"the database refused the query: {message}{hint}"


def _sqlite_file(engine: Engine) -> str:
    database = engine.url.database or ""
    database = database[len("file:") :] if database.startswith("file:") else database
    if database in ("", ":memory:"):
        raise QueryRefused("the query tool reads a SQLite database file, not an in-memory database")
    return str(Path(database).resolve())


def _fetch_capped(cur, limit: int):
    found = sqlite_worker.fetch_capped(cur, limit, MAX_REPLY_BYTES, iso)
    return found["rows"], found["columns"], found["truncated"]


def _pg_query(raw, wrapped: str, limit: int, timeout: float, engine: Engine):
    try:
        check_postgres_sql(wrapped)
    except UnsafeSql as exc:
        raise QueryRefused(str(exc)) from None
    cur = raw.cursor()
    refusal = pg_sql_refusal(cur)
    if refusal:
        raise QueryRefused(refusal)
    cur.execute("SELECT pg_backend_pid()")
    ended = _BackendTerminator(engine, raw, cur.fetchone()[0], timeout + TERMINATE_GRACE_SECONDS)
    cur.execute(f"SET LOCAL statement_timeout = {int(timeout * 1000)}")
    try:
        cur.execute(wrapped)
        found = _fetch_capped(cur, limit)
        cur.execute("SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'")
        if cur.fetchone()[0]:
            raise QueryRefused("the query took an advisory lock: refused, and its connection closed")
        return found
    except engine.dialect.dbapi.Error:
        if ended.fired:
            raise QueryRefused(f"the query ran past its {timeout:g} s deadline; its connection was ended") from None
        raise
    finally:
        ended.cancel()


class _BackendTerminator:
    """Ends a PostgreSQL backend after `delay` s, from a connection of its own (a cancel can be caught)."""

    def __init__(self, engine: Engine, raw, pid: int, delay: float):
        self.fired = False
        self._engine, self._raw, self._pid = engine, raw, pid
        self._timer = threading.Timer(delay, self._terminate)
        self._timer.daemon = True
        self._timer.start()

    def _terminate(self) -> None:
        self.fired = True
        try:
            with self._engine.connect() as conn:
                conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(self._pid)})")
        except SQLAlchemyError as exc:  # e.g. the role's connection limit: a cancel is what is left
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[:1]
            log.warning(
                "could not end the query's backend past its deadline (%s); cancelling it instead",
                reason[0] if reason else type(exc).__name__,
            )
            self._raw.cancel()

    def cancel(self) -> None:
        self._timer.cancel()
