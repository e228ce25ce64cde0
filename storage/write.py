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
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, UniqueConstraint, bindparam, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, IntegrityError, StatementError

import models

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


_TARGETS: dict[str, Target] = {}  # by table name, filled on first use


def target_of(table: str | Table) -> Target:
    """The write target of a table, or of a table by name, from its UNIQUE constraints in
    declaration order (the first is the lookup key: recovery is unique by its cycle and by its
    sleep). A table declared outside `models.py` is known once it was passed here."""
    name = table if isinstance(table, str) else table.name
    if name not in _TARGETS:
        found = models.metadata.tables.get(name) if isinstance(table, str) else table
        if found is None:
            raise LookupError(f"no table {name} is declared")
        # Table.constraints is a set: SQLAlchemy numbers every constraint as it is made, which
        # gives back the order of the Table(...) arguments (its own DDL sorts them the same way).
        uniques = sorted(
            (c for c in found.constraints if isinstance(c, UniqueConstraint)), key=lambda c: c._creation_order
        )
        keys = tuple(tuple(col.name for col in con.columns) for con in uniques)
        if not keys:
            raise LookupError(f"{name} declares no natural key")
        _TARGETS[name] = Target(found, keys)
    return _TARGETS[name]


@dataclass
class Unit:
    """One API record, its rows per table, and the (table, user_id, id) scopes it owns.

    A stored row inside a scope that the record no longer maps to (a measure removed from an
    edited Withings group) is marked deleted.
    """

    record: Any
    rows: list[tuple[str, dict]]
    scopes: list[tuple[str, Any, Any]]
    ops: list[tuple[str, str, dict]] = field(default_factory=list)  # (table, insert|update|stale, row)

    @property
    def key(self) -> tuple:
        return self.scopes[0]


def key_of(row: dict, key: tuple[str, ...]) -> tuple:
    return tuple(row[c] for c in key)


def _stored(session: Connection, table_name: str, scopes: set[tuple[Any, Any]]) -> dict[tuple, list[dict]]:
    """One SELECT per user: the stored rows of these (user_id, id) scopes."""
    target = target_of(table_name)
    table, (user_col, id_col) = target.table, target.key[:2]
    by_user: dict[Any, set] = {}
    for user_id, ident in scopes:  # a plain IN list per user uses the (user_id, id) key's index
        by_user.setdefault(user_id, set()).add(ident)
    found: dict[tuple, list[dict]] = {}
    for user_id, ids in by_user.items():
        stmt = select(table).where(table.c[user_col] == user_id, table.c[id_col].in_(list(ids)))
        for r in session.execute(stmt).mappings():
            found.setdefault((r[user_col], r[id_col]), []).append(dict(r))
    return found


def _changed(new: dict, old: dict) -> bool:
    return any(old.get(col) != value for col, value in new.items())


def plan(session: Connection, units: list[Unit], now) -> None:
    """Fill each unit's ops from what the database holds: insert, update, or mark stale."""
    tables = {t for u in units for t, *_ in u.scopes}
    stored = {
        t: _stored(session, t, {(uid, ident) for u in units for tt, uid, ident in u.scopes if tt == t}) for t in tables
    }
    for unit in units:
        unit.ops = []
        new_keys: set[tuple] = set()
        for table_name, row in unit.rows:
            key = target_of(table_name).key
            new_keys.add((table_name, key_of(row, key)))
            row = {**row, "deleted_at": None}  # a record that comes back is no longer deleted
            match = next(
                (o for o in stored[table_name].get(key_of(row, key[:2]), ()) if key_of(o, key) == key_of(row, key)),
                None,
            )
            if match is None:
                unit.ops.append((table_name, "insert", {**row, "synced_at": now}))
            elif _changed(row, match):
                unit.ops.append((table_name, "update", {**row, "synced_at": now, "b_id": match["id"]}))
        for table_name, uid, ident in unit.scopes:
            key = target_of(table_name).key
            for old in stored[table_name].get((uid, ident), ()):
                if (table_name, key_of(old, key)) not in new_keys and old["deleted_at"] is None:
                    unit.ops.append((table_name, "stale", {"b_id": old["id"], "deleted_at": now, "synced_at": now}))


def outcome(unit: Unit) -> str:
    """inserted (every row new), unchanged (nothing to write) or updated."""
    if not unit.ops:
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
    # Built once per table and column list (the `excluded` alias cost about half a millisecond a
    # page). The engine has already loaded its own dialect; importing the other one would cost a
    # SQLite run 40 ms of start-up.
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
    grouped: dict[tuple[str, str], list[dict]] = {}
    for unit in units:
        for table_name, kind, row in unit.ops:
            grouped.setdefault((table_name, kind), []).append(row)
    for (table_name, kind), rows in grouped.items():
        target = target_of(table_name)
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
