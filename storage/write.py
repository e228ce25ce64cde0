"""The write path under every loader: batched select-then-insert/update, one savepoint per batch.

A unit is one API record and the rows it maps to (a WHOOP record: one row; a Withings group:
its typed rows and one row per measure). When the database refuses a batch, each unit is
written again in its own savepoint, so one refused record never costs its page.

`session` is the run's Connection (Core only: the run never loads the ORM); a Session, as the
readers' commands and the tests hold, runs the same statements.
"""

from __future__ import annotations

import importlib
import logging
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, Table, UniqueConstraint, bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, IntegrityError, StatementError

log = logging.getLogger(__name__)
MAX_REPORTED_ERRORS = 20
COUNT_FIELDS = (
    "fetched",
    "inserted",
    "updated",
    "unchanged",
    "rejected",
    "skipped",
    "quarantined",
    "recovered",
    "deleted",
    "restored",
)


@dataclass
class LoadCounts:
    """What one load did: every fetched record is inserted, updated, unchanged, rejected or
    skipped. Every rejected record is `quarantined` (kept with its reason); `recovered` counts
    quarantined records a retry stored; `deleted` / `restored` count rows a reconciliation
    marked or brought back."""

    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0
    quarantined: int = 0
    recovered: int = 0
    deleted: int = 0
    restored: int = 0
    errors: list[str] = field(default_factory=list)

    def reject(self, what: str, reason: str) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(f"{what}: {reason}")

    def add(self, other: "LoadCounts") -> "LoadCounts":
        for name in COUNT_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors[: MAX_REPORTED_ERRORS - len(self.errors)])
        return self

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in COUNT_FIELDS}


@dataclass(frozen=True)
class Target:
    """A table and its natural keys; key[:2] is (user_id, the API id a window or group reads)."""

    table: Table
    keys: tuple[tuple[str, ...], ...]  # the first is the lookup and ON CONFLICT key

    @property
    def key(self) -> tuple[str, ...]:
        return self.keys[0]


@lru_cache(maxsize=None)
def target_of(table: Table) -> Target:
    """The write target of a table, from its UNIQUE constraints in declaration order (the first
    is the lookup key: recovery is unique by its cycle and by its sleep)."""
    # Table.constraints is a set: SQLAlchemy numbers every constraint as it is made, which
    # gives back the order of the Table(...) arguments (its own DDL sorts them the same way).
    uniques = sorted((c for c in table.constraints if isinstance(c, UniqueConstraint)), key=lambda c: c._creation_order)
    keys = tuple(tuple(col.name for col in con.columns) for con in uniques)
    if not keys:
        raise LookupError(f"{table.name} declares no natural key")
    return Target(table, keys)


def normalise_key(table: Table, value: Any) -> Any:
    """An API id in the form `table` stores it, None if unreadable: a text key column holds a
    canonical UUID, an integer one an int (the id's kind is the table's)."""
    target = target_of(table)
    try:
        if not isinstance(table.c[target.key[1]].type, Integer):
            return str(uuid.UUID(value)) if isinstance(value, str) else None
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    except (ValueError, OverflowError):
        return None


@dataclass
class Unit:
    """One API record, its rows per table, and the (table, user_id, id) scopes it owns.

    A stored row inside a scope that the record no longer maps to (a measure removed from an
    edited Withings group) is marked deleted.
    """

    record: Any
    rows: list[tuple[Table, dict]]
    scopes: list[tuple[Table, Any, Any]]
    ops: list[tuple[Table, str, dict]] = field(default_factory=list)  # (table, insert|update|stale|seen, row)

    @property
    def key(self) -> tuple:
        return self.scopes[0]


def key_of(row: dict, key: tuple[str, ...]) -> tuple:
    return tuple(row[c] for c in key)


def _stored(session: Connection, table: Table, scopes: set[tuple[Any, Any]]) -> dict[tuple, list[dict]]:
    """One SELECT per user: the stored rows of these (user_id, id) scopes."""
    user_col, id_col = target_of(table).key[:2]
    by_user: dict[Any, set] = {}
    for user_id, ident in scopes:  # a plain IN list per user uses the (user_id, id) key's index
        by_user.setdefault(user_id, set()).add(ident)
    found: dict[tuple, list[dict]] = {}
    for user_id, ids in by_user.items():
        stmt = select(table).where(table.c[user_col] == user_id, table.c[id_col].in_(list(ids)))
        for r in session.execute(stmt).mappings():
            found.setdefault((r[user_col], r[id_col]), []).append(dict(r))
    return found


def _changed(table: Table, new: dict, old: dict) -> bool:
    # A table's `not_compared` columns (when a value was fetched) follow a change, never make one.
    skip = table.info.get("not_compared", ())
    return any(old.get(col) != value for col, value in new.items() if col not in skip)


def _stored_by_table(session: Connection, units: list[Unit]) -> dict[Table, dict[tuple, list[dict]]]:
    tables = {t for u in units for t, *_ in u.scopes}
    return {
        t: _stored(session, t, {(uid, ident) for u in units for tt, uid, ident in u.scopes if tt == t}) for t in tables
    }


def _match(stored: dict[tuple, list[dict]], row: dict, key: tuple[str, ...]) -> dict | None:
    """The stored row with `row`'s natural key, or None."""
    return next((o for o in stored.get(key_of(row, key[:2]), ()) if key_of(o, key) == key_of(row, key)), None)


def plan(session: Connection, units: list[Unit], now) -> None:
    """Fill each unit's ops from what the database holds: insert, update, or mark stale."""
    stored = _stored_by_table(session, units)
    for unit in units:
        unit.ops = []
        new_keys: set[tuple] = set()
        for table, row in unit.rows:
            key = target_of(table).key
            new_keys.add((table, key_of(row, key)))
            row = {**row, "deleted_at": None}  # a record that comes back is no longer deleted
            match = _match(stored[table], row, key)
            if match is None:
                unit.ops.append((table, "insert", {**row, "synced_at": now}))
            elif _changed(table, row, match):
                unit.ops.append((table, "update", {**row, "synced_at": now, "b_id": match["id"]}))
        for table, uid, ident in unit.scopes:
            key = target_of(table).key
            for old in stored[table].get((uid, ident), ()):
                if (table, key_of(old, key)) not in new_keys and old["deleted_at"] is None:
                    unit.ops.append((table, "stale", {"b_id": old["id"], "deleted_at": now, "synced_at": now}))


def plan_observations(session: Connection, units: list[Unit], now) -> None:
    """Fill each unit's ops for a value the API keeps no history of: a new value is inserted
    (first and last seen now); one seen before only moves its `last_seen_at` forward ("seen"),
    which leaves the record unchanged. Nothing is ever marked stale: old values are the history."""
    stored = _stored_by_table(session, units)
    for unit in units:
        unit.ops = []
        for table, row in unit.rows:
            match = _match(stored[table], row, target_of(table).key)
            if match is None:
                unit.ops.append((table, "insert", {**row, "synced_at": now}))
            elif match["last_seen_at"] < row["last_seen_at"]:
                unit.ops.append((table, "seen", {"b_id": match["id"], "last_seen_at": row["last_seen_at"]}))


def outcome(unit: Unit) -> str:
    """inserted (every row new), unchanged (nothing to write, or an observation seen again) or updated."""
    if all(kind == "seen" for _t, kind, _r in unit.ops):
        return "unchanged"
    return "inserted" if all(kind == "insert" for _t, kind, _r in unit.ops) else "updated"


def _upsert_statement(session: Connection, target: Target, columns: list[str]):
    """INSERT ... ON CONFLICT (natural key) DO UPDATE: a writer that raced us in wins nothing twice."""
    # A Session (the readers' commands and the tests hold one) runs these Core statements too.
    dialect = (session if isinstance(session, Connection) else session.get_bind()).dialect.name
    if dialect not in ("postgresql", "sqlite"):
        return insert(target.table)
    return _upsert(dialect, target, tuple(columns))


@lru_cache(maxsize=128)
def _upsert(dialect: str, target: Target, columns: tuple[str, ...]):
    # Built once per table and column list: building the `excluded` alias is not free, and a page
    # needs the same statement as the last. The engine has already loaded its own dialect;
    # importing the other one would lengthen a SQLite run's start-up.
    stmt = importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert(target.table)
    updates = {c: stmt.excluded[c] for c in columns if c not in target.key}
    stmt = stmt.on_conflict_do_update(index_elements=list(target.key), set_=updates)
    # RETURNING keeps SQLAlchemy's "insertmanyvalues" batching (one multi-row INSERT per 1,000
    # rows); without it SQLAlchemy 2.0.4x sends an ON CONFLICT executemany row by row.
    return stmt.returning(target.table.c.id)


def _update(session: Connection, target: Target, rows: list[dict]) -> None:
    columns = [c for c in rows[0] if c != "b_id"]
    table = target.table
    stmt = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({c: bindparam(f"v_{c}") for c in columns if c not in target.key})
    )
    params = [{("b_id" if c == "b_id" else f"v_{c}"): v for c, v in row.items()} for row in rows]
    session.execute(stmt, params)


def execute(session: Connection, units: list[Unit]) -> None:
    """Send the units' ops: one multi-row statement per table and kind."""
    grouped: dict[tuple[Table, str], list[dict]] = {}
    for unit in units:
        for table, kind, row in unit.ops:
            grouped.setdefault((table, kind), []).append(row)
    for (table, kind), rows in grouped.items():
        target = target_of(table)
        if kind == "insert":
            session.execute(_upsert_statement(session, target, list(rows[0])), rows).close()
        else:
            _update(session, target, rows)


def is_data_error(exc: BaseException) -> bool:
    """A refusal of this record's values (constraint, type, range), not a lost connection."""
    if isinstance(exc, (IntegrityError, DataError, OverflowError)):
        return True
    # A bind-time failure (a value the driver cannot convert) has no DBAPI error behind it.
    return (
        isinstance(exc, StatementError)
        and not hasattr(exc.orig, "pgcode")
        and isinstance(exc.orig, (ValueError, TypeError, OverflowError))
    )


def reason_of(exc: BaseException) -> str:
    """The first line of a database error, for a quarantine reason."""
    message = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
    kind = "conflicts with a stored row" if isinstance(exc, IntegrityError) else "the database refused it"
    return f"{kind}: {message}"
