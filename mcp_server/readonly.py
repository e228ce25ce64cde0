"""Read-only database access for the MCP server: no writes, no token table, bounded queries."""
from __future__ import annotations

import sqlite3
import threading
import time

from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from storage.engine import make_engine
from readers.export import iso

TOKEN_TABLE = "oauth_token"
MAX_ROWS = 1000
QUERY_TIMEOUT_SECONDS = 5.0

# SQLite: what a read-only connection may do, decided per operation by SQLite's authorizer,
# so no spelling of a query (views, CTEs, subqueries) can read the token table or write.
_SQLITE_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
                   sqlite3.SQLITE_RECURSIVE, sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_PRAGMA}
# Pragmas that only describe the schema or set connection timeouts (SQLAlchemy's reflection uses them).
_SQLITE_PRAGMAS = {"table_info", "table_xinfo", "index_list", "index_info", "index_xinfo",
                   "foreign_key_list", "busy_timeout", "foreign_keys"}
_SQLITE_DENIED_FUNCTIONS = {"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit"}

# PostgreSQL: the database's own privileges are the only sound barrier (a query string can
# hold several statements, `RESET ROLE` or `COMMIT; BEGIN READ WRITE`), so the SQL tool runs
# only for a login role that can read no token and write nothing, and belongs to no other role.
_PG_ROLE_CHECK = """
SELECT r.rolsuper,
       EXISTS (SELECT 1 FROM pg_class c WHERE c.relname = 'oauth_token'
               AND (has_table_privilege(c.oid, 'SELECT') OR has_any_column_privilege(c.oid, 'SELECT'))),
       EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
               AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')),
       EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = r.oid)
FROM pg_roles r WHERE r.rolname = current_user
"""


class QueryRefused(RuntimeError):
    """A query the server will not run, or that the database refused; the message says why."""


def _sqlite_authorizer(action, arg1, arg2, _dbname, _source):
    if action not in _SQLITE_ALLOWED:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_READ and (arg1 or "").lower() == TOKEN_TABLE:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _SQLITE_DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() not in _SQLITE_PRAGMAS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def open_read_only(url: str) -> Engine:
    """An engine that cannot write (SQLite mode=ro, PostgreSQL read-only transactions).

    On SQLite every connection also gets the authorizer above. No pool: session settings a
    query makes die with its connection.
    """
    from sqlalchemy import event

    engine = make_engine(url, read_only=True, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _authorize(dbapi_conn, _record):
            dbapi_conn.set_authorizer(_sqlite_authorizer)
    return engine


def pg_sql_refusal(cursor) -> str | None:
    """Why the connected PostgreSQL role may not run free SQL, or None when it may."""
    cursor.execute(_PG_ROLE_CHECK)
    superuser, reads_tokens, writes, member = cursor.fetchone()
    if superuser or reads_tokens or writes or member:
        return ("the SQL tool on PostgreSQL needs MCP_DATABASE_URL set to a role that can read the "
                "data tables only (not oauth_token, no writes, no role memberships): see README, "
                "'Ask questions from an AI assistant'")
    return None


def run_query(engine: Engine, sql: str, limit: int = 100, timeout: float = QUERY_TIMEOUT_SECONDS) -> dict:
    """Run one SELECT read-only: at most `limit` rows (<= MAX_ROWS), stopped after `timeout` seconds."""
    statement = sql.strip().rstrip(";").strip()
    if not statement:
        raise QueryRefused("empty query")
    limit = max(1, min(int(limit), MAX_ROWS))
    # The subquery makes anything but a SELECT / VALUES / WITH query a syntax error.
    wrapped = f"SELECT * FROM (\n{statement}\n) AS q LIMIT {limit + 1}"
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        try:
            rows, columns = (_sqlite_query if engine.dialect.name == "sqlite" else _pg_query)(
                raw, wrapped, limit, timeout)
        except engine.dialect.dbapi.Error as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise QueryRefused(f"the database refused the query: {message}") from None
    return {"columns": columns, "rows": [[iso(v) for v in row] for row in rows[:limit]],
            "truncated": len(rows) > limit, "row_limit": limit}


def _sqlite_query(raw, wrapped: str, limit: int, timeout: float):
    deadline = time.monotonic() + timeout
    raw.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)
    try:
        cur = raw.cursor()
        cur.execute(wrapped)
        return cur.fetchmany(limit + 1), [d[0] for d in cur.description]
    finally:
        raw.set_progress_handler(None, 0)


def _pg_query(raw, wrapped: str, limit: int, timeout: float):
    cur = raw.cursor()
    refusal = pg_sql_refusal(cur)
    if refusal:
        raise QueryRefused(refusal)
    cur.execute(f"SET LOCAL statement_timeout = {int(timeout * 1000)}")
    # A second guard for the case where the query string resets the timeout itself.
    timer = threading.Timer(timeout + 1.0, raw.cancel)
    timer.start()
    try:
        cur.execute(wrapped)
        return cur.fetchmany(limit + 1), [d[0] for d in cur.description]
    finally:
        timer.cancel()
