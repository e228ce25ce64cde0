"""The write path of the series tables: plan against the stored rows of a time range, then bulk statements.

A day of intraday data is some 1,400 rows: the generic path (storage/write.py) would read each
row's scope and send an upsert with RETURNING. Series rows are append-mostly and keyed by time,
so a batch reads the stored rows of its own time range in one SELECT, and sends the new rows
as one DBAPI executemany (SQLite) or `execute_values` (psycopg2): the statement a plain bulk
insert sends. Only rows whose values changed are updated; unchanged rows cost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Table, bindparam, select, update
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


def plan_series(session, table: Table, rows: list[dict], now) -> SeriesPlan:
    """Compare `rows` (one owner, deduplicated by natural key) with the rows stored over their time range.

    The natural key's second column is the time the table is ranged by (storage.write.Target);
    the SELECT reads only that range of one owner, through the natural key's index.
    """
    key = target_of(table).key
    user_col, time_col = key[:2]
    times = [row[time_col] for row in rows]
    columns = list(rows[0])
    stmt = select(table.c.id, table.c.deleted_at, *(table.c[c] for c in columns)).where(
        table.c[user_col] == rows[0][user_col], table.c[time_col] >= min(times), table.c[time_col] <= max(times)
    )
    stored = {tuple(r[c] for c in key): r for r in _connection(session).execute(stmt).mappings()}
    plan = SeriesPlan()
    for row in rows:
        old = stored.get(tuple(row[c] for c in key))
        if old is None:
            plan.inserts.append({**row, "synced_at": now})
        elif old["deleted_at"] is not None or any(old[c] != v for c, v in row.items()):
            plan.updates.append({**row, "deleted_at": None, "synced_at": now, "b_id": old["id"]})
        else:
            plan.unchanged += 1
    return plan


def bulk_insert(session, table: Table, rows: list[dict]) -> None:
    """INSERT `rows` (all with the same columns) as a plain bulk insert: the DBAPI's executemany
    on SQLite, psycopg2's execute_values on PostgreSQL, values bound by the columns' own types."""
    conn = _connection(session)
    dialect = conn.dialect
    columns = list(rows[0])
    values = []
    for name in columns:
        process = table.c[name].type._cached_bind_processor(dialect)
        column = [row[name] for row in rows]
        values.append([process(v) for v in column] if process is not None else column)
    params = list(zip(*values, strict=True))
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    target = quote(table.name)
    if dialect.name == "postgresql" and dialect.driver == "psycopg2":
        from psycopg2.extras import execute_values

        sql = f"INSERT INTO {target} ({names}) VALUES %s"
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            execute_values(cursor, sql, params, page_size=INSERT_PAGE)
        except (dialect.dbapi.IntegrityError, dialect.dbapi.DataError, ValueError) as exc:
            # The raw cursor's errors in SQLAlchemy's types, which the loader's retry row by row reads.
            raise _wrapped(sql, exc, dialect.dbapi) from exc
        finally:
            cursor.close()
        return
    marks = ", ".join("?" if dialect.paramstyle == "qmark" else "%s" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {target} ({names}) VALUES ({marks})", params)


def _wrapped(sql: str, exc: Exception, dbapi) -> Exception:
    if isinstance(exc, ValueError):  # refused by the driver before the server saw it (a NUL in text)
        return StatementError(str(exc), sql, None, exc)
    return (IntegrityError if isinstance(exc, dbapi.IntegrityError) else DataError)(sql, None, exc)


def bulk_update(session, table: Table, rows: list[dict]) -> None:
    """UPDATE the rows by their surrogate `b_id`, one executemany."""
    columns = [c for c in rows[0] if c != "b_id"]
    stmt = update(table).where(table.c.id == bindparam("b_id")).values({c: bindparam(f"v_{c}") for c in columns})
    _connection(session).execute(stmt, [{("b_id" if c == "b_id" else f"v_{c}"): v for c, v in r.items()} for r in rows])
