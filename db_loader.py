"""Idempotent batched loaders, one per table: select-then-update/insert keyed on the API ids."""
from __future__ import annotations

import importlib
import logging
from functools import lru_cache
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import mappers
from db import utcnow
from models import Cycle, Recovery, Sleep, Workout, WithingsHeartRate, WithingsWeight
from sync_state import advance_sync_state, get_sync_state, record_sync_failure  # noqa: F401 (re-export)

log = logging.getLogger(__name__)

BATCH_SIZE = 500
MAX_REPORTED_ERRORS = 20


@dataclass
class LoadCounts:
    """What one load did: every fetched record is inserted, updated, unchanged, rejected or
    skipped (skipped: it belongs to another table, e.g. a blood-pressure group offered to the
    weight loader)."""

    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def reject(self, what: str, reason: str) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(f"{what}: {reason}")

    def add(self, other: "LoadCounts") -> "LoadCounts":
        for name in ("fetched", "inserted", "updated", "unchanged", "rejected", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors[: MAX_REPORTED_ERRORS - len(self.errors)])
        return self

    def as_dict(self) -> dict[str, Any]:
        return {"fetched": self.fetched, "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": self.rejected, "skipped": self.skipped}


@dataclass(frozen=True)
class _Target:
    table: Table
    keys: tuple[tuple[str, ...], ...]  # each (user_id, API id); the first is the lookup and ON CONFLICT key

    @property
    def key(self) -> tuple[str, ...]:
        return self.keys[0]


TARGETS = {
    "cycles": _Target(Cycle.__table__, (("user_id", "whoop_id"),)),
    "sleep": _Target(Sleep.__table__, (("user_id", "whoop_id"),)),
    "recovery": _Target(Recovery.__table__, (("user_id", "whoop_cycle_id"), ("user_id", "whoop_sleep_id"))),
    "workout": _Target(Workout.__table__, (("user_id", "whoop_id"),)),
    "withings_weight": _Target(WithingsWeight.__table__, (("user_id", "grpid"),)),
    "withings_heart_rate": _Target(WithingsHeartRate.__table__, (("user_id", "grpid"),)),
}


def _describe(record: Any) -> str:
    if isinstance(record, dict):
        for key in ("id", "grpid", "cycle_id"):
            if key in record:
                return f"{key}={str(record[key])[:40]}"
    return "record"


def _batches(items: Iterable[dict], size: int) -> Iterator[list[dict]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _map_records(records: Iterable[Any], mapper: Callable[[Any], dict | None], counts: LoadCounts,
                 table: str) -> Iterator[dict]:
    for record in records:
        counts.fetched += 1
        try:
            row = mapper(record)
        except mappers.MappingError as exc:
            log.warning("rejected %s %s: %s", table, _describe(record), exc)
            counts.reject(_describe(record), str(exc))
            continue
        if row is None:
            counts.skipped += 1
        else:
            yield row


# ---- the write path ------------------------------------------------------------------------

def _key_of(row: dict, key: tuple[str, ...]) -> tuple:
    return tuple(row[c] for c in key)


def _existing(session: Session, target: _Target, rows: list[dict]) -> dict[tuple, dict]:
    """One SELECT per batch: the stored rows for these natural keys, by key."""
    table, key = target.table, target.key
    found: dict[tuple, dict] = {}
    by_user: dict[Any, set] = {}
    for row in rows:  # every key is (user_id, id): one plain IN list per user uses the index
        by_user.setdefault(row[key[0]], set()).add(row[key[1]])
    for user_id, ids in by_user.items():
        stmt = select(table).where(table.c[key[0]] == user_id, table.c[key[1]].in_(list(ids)))
        found.update((_key_of(r, key), dict(r)) for r in session.execute(stmt).mappings())
    return found


def _changed(new: dict, old: dict) -> bool:
    return any(old.get(col) != value for col, value in new.items())


def _upsert_statement(session: Session, target: _Target, columns: list[str]):
    """INSERT ... ON CONFLICT (natural key) DO UPDATE: a writer that raced us in wins nothing twice."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        return insert(target.table)
    return _upsert(dialect, target, tuple(columns))


@lru_cache(maxsize=64)
def _upsert(dialect: str, target: _Target, columns: tuple[str, ...]):
    # Built once per table and column list: building the `excluded` alias cost about half a millisecond a page. (SQLAlchemy
    # still compiles it per page: it never caches a dialect's ON CONFLICT insert.)
    # The engine has already loaded its own dialect; importing the other one would cost a SQLite run 40 ms.
    stmt = importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert(target.table)
    updates = {c: stmt.excluded[c] for c in columns if c not in target.key}
    stmt = stmt.on_conflict_do_update(index_elements=list(target.key), set_=updates)
    # RETURNING keeps SQLAlchemy's "insertmanyvalues" batching (one multi-row INSERT per 1,000
    # rows); without it SQLAlchemy 2.0.4x sends an ON CONFLICT executemany row by row.
    return stmt.returning(target.table.c.id)


def _update_statement(target: _Target, columns: list[str]):
    table = target.table
    values = {c: bindparam(f"v_{c}") for c in columns if c not in target.key}
    return update(table).where(table.c.id == bindparam("b_id")).values(values)


def _write(session: Session, target: _Target, inserts: list[dict], updates: list[dict]) -> None:
    if inserts:
        session.execute(_upsert_statement(session, target, list(inserts[0])), inserts).close()
    if updates:
        stmt = _update_statement(target, [c for c in updates[0] if c != "b_id"])
        params = [{("b_id" if c == "b_id" else f"v_{c}"): v for c, v in row.items()} for row in updates]
        session.execute(stmt, params)


def _write_one_by_one(session: Session, target: _Target, inserts: list[dict], updates: list[dict],
                      counts: LoadCounts, table_name: str) -> None:
    """Fallback when a batch hits a constraint: each row in its own savepoint, bad ones rejected."""
    for row in inserts + updates:
        is_insert = "b_id" not in row
        try:
            with session.begin_nested():
                _write(session, target, [row] if is_insert else [], [] if is_insert else [row])
        except IntegrityError as exc:
            what = _describe(row.get("raw"))
            reason = str(exc.orig).splitlines()[0][:160]
            log.warning("rejected %s %s: %s", table_name, what, reason)
            counts.reject(what, f"conflicts with a stored row: {reason}")
            if is_insert:
                counts.inserted -= 1
            else:
                counts.updated -= 1


def _load_batch(session: Session, target: _Target, rows: list[dict], counts: LoadCounts,
                table_name: str) -> None:
    by_key: dict[tuple, dict] = {}
    for row in rows:  # the same record twice in one batch: the later copy is the truth
        if _key_of(row, target.key) in by_key:
            counts.unchanged += 1
        by_key[_key_of(row, target.key)] = row
    stored = _existing(session, target, list(by_key.values()))
    now = utcnow()
    inserts, updates = [], []
    for key, row in by_key.items():
        old = stored.get(key)
        if old is None:
            inserts.append({**row, "synced_at": now})
        elif _changed(row, old):
            updates.append({**row, "synced_at": now, "b_id": old["id"]})
        else:
            counts.unchanged += 1
    counts.inserted += len(inserts)
    counts.updated += len(updates)
    try:
        with session.begin_nested():
            _write(session, target, inserts, updates)
    except IntegrityError:
        _write_one_by_one(session, target, inserts, updates, counts, table_name)


def _write_rows(session: Session, table_name: str, rows: Iterable[dict], counts: LoadCounts,
                batch_size: int) -> None:
    target = TARGETS[table_name]
    for batch in _batches(rows, batch_size):
        _load_batch(session, target, batch, counts, table_name)


def load_rows(session: Session, table_name: str, records: Iterable[Any],
              mapper: Callable[[Any], dict | None], batch_size: int = BATCH_SIZE) -> LoadCounts:
    """Map `records` and write them to `table_name` in batches; the caller commits."""
    counts = LoadCounts()
    _write_rows(session, table_name, _map_records(records, mapper, counts, table_name), counts, batch_size)
    return counts


def load_cycles(session: Session, records: Iterable[dict], batch_size: int = BATCH_SIZE) -> LoadCounts:
    """Upsert WHOOP cycles by (user_id, cycle id)."""
    return load_rows(session, "cycles", records, mappers.cycle_to_row, batch_size)


def load_sleep(session: Session, records: Iterable[dict], batch_size: int = BATCH_SIZE) -> LoadCounts:
    """Upsert WHOOP sleeps (naps included) by (user_id, sleep UUID)."""
    return load_rows(session, "sleep", records, mappers.sleep_to_row, batch_size)


def load_recovery(session: Session, records: Iterable[dict], batch_size: int = BATCH_SIZE) -> LoadCounts:
    """Upsert WHOOP recoveries by (user_id, cycle id); the sleep UUID is unique as well."""
    return load_rows(session, "recovery", records, mappers.recovery_to_row, batch_size)


def load_workout(session: Session, records: Iterable[dict], batch_size: int = BATCH_SIZE) -> LoadCounts:
    """Upsert WHOOP workouts by (user_id, workout UUID)."""
    return load_rows(session, "workout", records, mappers.workout_to_row, batch_size)


def load_withings_weight(session: Session, groups: Iterable[dict], user_id: int,
                         timezone: str | None = None, batch_size: int = BATCH_SIZE) -> LoadCounts:
    """Upsert the body-composition measure groups by (user_id, grpid); others are skipped."""
    return load_rows(session, "withings_weight", groups,
                     lambda g: mappers.weight_to_row(g, user_id, timezone), batch_size)


def load_withings_heart_rate(session: Session, groups: Iterable[dict], user_id: int,
                             timezone: str | None = None, batch_size: int = BATCH_SIZE) -> LoadCounts:
    """Upsert the blood-pressure / heart-rate measure groups by (user_id, grpid); others are skipped."""
    return load_rows(session, "withings_heart_rate", groups,
                     lambda g: mappers.heart_rate_to_row(g, user_id, timezone), batch_size)


def load_withings_measures(session: Session, groups: Iterable[dict], user_id: int,
                           timezone: str | None = None, batch_size: int = BATCH_SIZE) -> LoadCounts:
    """Map each measure group once and upsert it into the weight and/or heart-rate table.

    Counts are per group for fetched/rejected/skipped and per row for inserted/updated/unchanged
    (a group carrying both body and cardio measures writes one row in each table).
    """
    counts = LoadCounts()
    for chunk in _batches(groups, batch_size):
        weights, hearts = [], []
        for group in chunk:
            counts.fetched += 1
            try:
                weight, heart = mappers.measure_group_to_rows(group, user_id, timezone)
            except mappers.MappingError as exc:
                log.warning("rejected withings group %s: %s", _describe(group), exc)
                counts.reject(_describe(group), str(exc))
                continue
            if weight is None and heart is None:
                counts.skipped += 1  # e.g. a height-only group: kept nowhere but counted
            weights += [weight] if weight else []
            hearts += [heart] if heart else []
        _write_rows(session, "withings_weight", weights, counts, batch_size)
        _write_rows(session, "withings_heart_rate", hearts, counts, batch_size)
    return counts

