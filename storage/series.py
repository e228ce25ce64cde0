"""The write path of the series tables: plan against the stored rows of a time range, then bulk statements.

A day of intraday data is some 1,400 rows: the generic path (storage/write.py) would read each
row's scope and send an upsert with RETURNING. Series rows are append-mostly and keyed by time,
so a batch reads the stored rows of its own time range in one SELECT, and sends the new rows
as one DBAPI executemany (SQLite) or `execute_values` (psycopg2): the statement a plain bulk
insert sends. Only rows whose values changed are updated; unchanged rows cost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter

from sqlalchemy import Table, bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, IntegrityError, StatementError

from storage.write import target_of

INSERT_PAGE = 1000  # rows a PostgreSQL VALUES list carries


@dataclass
class SeriesPlan:
    """What one batch of one table needs: rows to insert, rows to update (with `b_id`), how many are unchanged."""

    inserts: list[dict] = field(default_factory=list)
    updates: list[dict] = field(default_factory=list)
    unchanged: int = 0


def _connection(session) -> Connection:
    return session if isinstance(session, Connection) else session.connection()


def plan_series(session, table: Table, rows: list[dict], now, partial: bool = False) -> SeriesPlan:
    """Compare `rows` (one owner, deduplicated by natural key) with the rows stored over their time range.

    The natural key's second column is the time the table is ranged by (storage.write.Target);
    the SELECT reads only that range of one owner, through the natural key's index. The rows
    to write get their `synced_at` (and a stored row marked deleted is restored).

    `partial`: an answer may carry a row in part (a sleep minute two overlapping segments share,
    when the window holds only one of them): a NULL then says nothing, and never clears a value
    another answer stored; only values that differ are written.
    """
    key = target_of(table).key
    user_col, time_col = key[:2]
    times = [row[time_col] for row in rows]
    stmt = _range_select(table, tuple(rows[0]))
    key_of = itemgetter(*key)
    bounds = {"owner": rows[0][user_col], "low": min(times), "high": max(times)}
    stored = {key_of(r): r for r in _connection(session).execute(stmt, bounds).mappings()}
    plan = SeriesPlan()
    if not stored:  # a day read for the first time: every row is new
        for row in rows:
            row["synced_at"] = now
        plan.inserts = rows
        return plan
    for row in rows:
        old = stored.get(key_of(row))
        if old is None:
            row["synced_at"] = now
            plan.inserts.append(row)
            continue
        if partial:
            row = {c: old[c] if v is None else v for c, v in row.items()}
        if old["deleted_at"] is not None or any(old[c] != v for c, v in row.items()):
            plan.updates.append({**row, "deleted_at": None, "synced_at": now, "b_id": old["id"]})
        else:
            plan.unchanged += 1
    return plan


@lru_cache(maxsize=32)
def _range_select(table: Table, columns: tuple[str, ...]):
    """The stored rows of one owner between two times, with these columns: built once per table."""
    user_col, time_col = target_of(table).key[:2]
    return select(table.c.id, table.c.deleted_at, *(table.c[c] for c in columns)).where(
        table.c[user_col] == bindparam("owner"),
        table.c[time_col] >= bindparam("low", type_=table.c[time_col].type),
        table.c[time_col] <= bindparam("high", type_=table.c[time_col].type),
    )


def _parameters(dialect, table: Table, columns: list[str], rows: list[dict]) -> list[tuple]:
    """The rows as DBAPI parameter tuples, each value bound by its column's type. NULL stays NULL
    (a JSON column's bind processor would write the JSON text `null`); a value every row shares
    (the batch's `synced_at`) is bound once."""
    values = []
    for name in columns:
        process = table.c[name].type._cached_bind_processor(dialect)
        column = [row[name] for row in rows]
        first = column[0]
        if process is None:
            values.append(column)
        elif all(v is first for v in column):
            values.append([process(first) if first is not None else None] * len(column))
        else:
            values.append([process(v) if v is not None else None for v in column])
    return list(zip(*values, strict=True))


def _execute(conn: Connection, sql: str, params: list[tuple], values_list: bool = False) -> None:
    """executemany through the DBAPI (SQLite), or psycopg2's execute_values / executemany."""
    dialect = conn.dialect
    if dialect.name != "postgresql" or dialect.driver != "psycopg2":
        conn.exec_driver_sql(sql.replace("%s", "?") if dialect.paramstyle == "qmark" else sql, params)
        return
    from psycopg2.extras import execute_batch, execute_values

    cursor = conn.connection.dbapi_connection.cursor()
    try:
        if values_list:
            execute_values(cursor, sql, params, page_size=INSERT_PAGE)
        else:
            execute_batch(cursor, sql, params)
    except (dialect.dbapi.IntegrityError, dialect.dbapi.DataError, ValueError) as exc:
        # The raw cursor's errors in SQLAlchemy's types, which the loader's retry row by row reads.
        raise _wrapped(sql, exc, dialect.dbapi) from exc
    finally:
        cursor.close()


def bulk_insert(session, table: Table, rows: list[dict]) -> None:
    """INSERT `rows` (all with the same columns) as a plain bulk insert: the DBAPI's executemany
    on SQLite, psycopg2's execute_values on PostgreSQL, values bound by the columns' own types."""
    conn = _connection(session)
    columns = list(rows[0])
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    params = _parameters(conn.dialect, table, columns, rows)
    if conn.dialect.name == "postgresql":
        _execute(conn, f"INSERT INTO {quote(table.name)} ({names}) VALUES %s", params, values_list=True)
    else:
        _execute(conn, f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join('%s' for _ in columns)})", params)


def _wrapped(sql: str, exc: Exception, dbapi) -> Exception:
    if isinstance(exc, ValueError):  # refused by the driver before the server saw it (a NUL in text)
        return StatementError(str(exc), sql, None, exc)
    return (IntegrityError if isinstance(exc, dbapi.IntegrityError) else DataError)(sql, None, exc)


def bulk_update(session, table: Table, rows: list[dict]) -> None:
    """UPDATE the rows by their surrogate `b_id`, one executemany, values bound as bulk_insert binds them."""
    conn = _connection(session)
    columns = [c for c in rows[0] if c != "b_id"]
    quote = conn.dialect.identifier_preparer.quote
    sets = ", ".join(f"{quote(c)} = %s" for c in columns)
    params = [
        (*values, row["b_id"])
        for values, row in zip(_parameters(conn.dialect, table, columns, rows), rows, strict=True)
    ]
    _execute(conn, f"UPDATE {quote(table.name)} SET {sets} WHERE id = %s", params)
