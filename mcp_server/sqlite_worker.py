"""The `query` tool's SQLite worker: one query in a process of its own, so its deadline can kill it.

SQLite looks at its interrupt flag and progress handler only between rows, and one row can
call an expensive function hundreds of times, so no in-process deadline holds. The parent
(mcp_server/readonly.py) runs this file with the Python it runs on, writes one JSON request to
its stdin, and kills it at the deadline. The standard library only: it starts in milliseconds.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

TOKEN_TABLE = "oauth_token"
MAX_HEAP_BYTES = 512_000_000  # all of SQLite's memory in this process
MAX_VALUE_BYTES = 16_000_000  # one string or blob

# What a read-only connection may do, decided per operation by SQLite's authorizer, so no
# spelling of a query (views, CTEs, subqueries) can read the token table or write.
ALLOWED_ACTIONS = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
    sqlite3.SQLITE_TRANSACTION,
    sqlite3.SQLITE_PRAGMA,
}
# Pragmas that only describe the schema or set connection timeouts (SQLAlchemy's reflection uses them).
SCHEMA_PRAGMAS = {
    "table_info",
    "table_xinfo",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
    "busy_timeout",
    "foreign_keys",
}
DENIED_FUNCTIONS = {"load_extension", "fts3_tokenizer", "readfile", "writefile", "edit"}
# Schema tables and pragma functions: the names and SQL of tables, never their rows.
SCHEMA_TABLES = frozenset(
    {
        "sqlite_master",
        "sqlite_schema",
        "sqlite_temp_master",
        "sqlite_temp_schema",
        *(f"pragma_{name}" for name in SCHEMA_PRAGMAS),
    }
)


def authorizer(action, arg1, arg2, _dbname, _source):
    """SQLite's authorizer for every read-only connection: reads and schema pragmas, never tokens."""
    if action not in ALLOWED_ACTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_READ and (arg1 or "").lower() == TOKEN_TABLE:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() not in SCHEMA_PRAGMAS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def query_authorizer(readable: frozenset[str]):
    """The authorizer for free SQL: only the `readable` tables (an allow-list), plus the rules above."""
    readable = readable - {TOKEN_TABLE} | SCHEMA_TABLES

    def check(action, arg1, arg2, dbname, source):
        # An allow-list, so a virtual table a SQLite build adds (sqlite_dbpage hands out raw
        # pages, the token table's among them) is never readable. A read without a database
        # name is of the query's own CTE, not of a stored table.
        if action == sqlite3.SQLITE_READ and dbname is not None and (arg1 or "").lower() not in readable:
            return sqlite3.SQLITE_DENY
        return authorizer(action, arg1, arg2, dbname, source)

    return check


def fetch_capped(cursor, limit: int, max_bytes: int, convert=lambda v: v) -> dict:
    """Up to `limit` rows, as JSON-ready lists, row by row until `max_bytes` of JSON; says if cut."""
    columns = [d[0] for d in cursor.description]
    rows, size = [], len(json.dumps(columns))
    while (row := cursor.fetchone()) is not None:
        if len(rows) == limit:
            return {"columns": columns, "rows": rows, "truncated": True}
        row = [convert(v) for v in row]
        size += len(json.dumps(row, ensure_ascii=False, default=str).encode()) + 1
        if size > max_bytes:
            return {"columns": columns, "rows": rows, "truncated": True}
        rows.append(row)
    return {"columns": columns, "rows": rows, "truncated": False}


def _json_value(value):
    return value.hex() if isinstance(value, bytes) else value  # as export writes blobs


def run(request: dict) -> dict:
    """Answer one request: {"rows", "columns", "truncated"} or {"refused": one line}."""
    try:
        db = sqlite3.connect(f"{Path(request['path']).as_uri()}?mode=ro", uri=True, timeout=5)
        db.execute(f"PRAGMA hard_heap_limit = {MAX_HEAP_BYTES}")
        db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        db.set_authorizer(query_authorizer(frozenset(request["tables"])))
        return fetch_capped(db.execute(request["sql"]), request["limit"], request["max_bytes"], _json_value)
    except MemoryError:
        return {"refused": f"out of memory: a query may use {MAX_HEAP_BYTES // 1_000_000} MB"}
    except sqlite3.Error as exc:
        lines = str(exc).strip().splitlines()
        return {"refused": lines[0] if lines else type(exc).__name__}


if __name__ == "__main__":
    json.dump(run(json.load(sys.stdin)), sys.stdout)
