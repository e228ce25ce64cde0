"""Idempotent batched loaders, one per resource: map, write, quarantine what cannot be stored.

Every record of a page is stored, or kept in `quarantine` with its reason in the same
transaction; nothing the API sends is thrown away. The caller commits.
"""
from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from itertools import islice
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy import ColumnElement, delete, false, insert, select, update
from sqlalchemy.orm import Session

from storage import write as db_write
from mapping import whoop as mappers
from storage import quarantine
from mapping import withings as withings_mapper
from configuration.clock import utcnow
from storage.write import LoadCounts, Unit, target_of
from mapping.fields import MappingError
from models import Quarantine

log = logging.getLogger(__name__)

BATCH_SIZE = 500
WITHINGS_TABLES = ("withings_weight", "withings_heart_rate", "withings_measure")


def _describe(record: Any) -> str:
    if isinstance(record, dict):
        for key in ("id", "grpid", "cycle_id"):
            if key in record:
                return f"{key}={str(record[key])[:40]}"
    return "record"


def _batches(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _dedupe(units: list[Unit], counts: LoadCounts) -> list[Unit]:
    by_key: dict[tuple, Unit] = {}
    for unit in units:  # the same record twice in one batch: the later copy is the truth
        if unit.key in by_key:
            counts.unchanged += 1
        by_key[unit.key] = unit
    return list(by_key.values())


def _write_units(session: Session, units: list[Unit], counts: LoadCounts,
                 rejects: list[quarantine.Rejected]) -> list[Unit]:
    """Write one batch; returns the units stored. A refused batch is retried unit by unit."""
    units = _dedupe(units, counts)
    now = utcnow()
    db_write.plan(session, units, now)
    try:
        with session.begin_nested():
            db_write.execute(session, units)
        stored = units
    except Exception as exc:  # noqa: BLE001 - only data errors are handled; the rest re-raised
        if not db_write.is_data_error(exc):
            raise
        stored = []
        for unit in units:
            try:
                with session.begin_nested():
                    db_write.execute(session, [unit])
                stored.append(unit)
            except Exception as unit_exc:  # noqa: BLE001 - as above
                if not db_write.is_data_error(unit_exc):
                    raise
                _reject(unit.record, db_write.reason_of(unit_exc), counts, rejects)
    for unit in stored:
        kind = db_write.outcome(unit)
        setattr(counts, kind, getattr(counts, kind) + 1)
    return stored


def _reject(record: Any, reason: str, counts: LoadCounts, rejects: list[quarantine.Rejected]) -> None:
    log.info("rejected %s: %s", _describe(record), reason)
    counts.reject(_describe(record), reason)
    rejects.append(quarantine.Rejected(record, reason))


def _mapped(records: Iterable[Any], mapper: Callable[[Any], Any], counts: LoadCounts,
            rejects: list[quarantine.Rejected]) -> Iterator[Any]:
    """What `mapper` makes of each record that maps; the others are rejected with their reason."""
    for record in records:
        counts.fetched += 1
        try:
            mapped = mapper(record)
        except MappingError as exc:
            _reject(record, str(exc), counts, rejects)
            continue
        yield mapped


def _load_units(session: Session, records: Iterable[Any], to_unit: Callable[[Any], Unit | None], *,
                source: str, resource: str, batch_size: int, user_id: int | None = None,
                timezone: str | None = None, keep_rejects: bool = True) -> LoadCounts:
    counts = LoadCounts()
    for chunk in _batches(records, batch_size):
        units, rejects = [], []
        for unit in _mapped(chunk, to_unit, counts, rejects):
            if unit is None or not unit.rows:
                counts.skipped += 1
            else:
                units.append(unit)
        stored = _write_units(session, units, counts, rejects) if units else []
        if keep_rejects:
            counts.quarantined += quarantine.quarantine_records(
                session, source, resource, rejects, user_id=user_id, timezone=timezone)
            counts.recovered += quarantine.release(session, source, resource, [u.record for u in stored])
    return counts


def load_rows(session: Session, table_name: str, records: Iterable[Any],
              mapper: Callable[[Any], dict | None], batch_size: int = BATCH_SIZE, *,
              source: str, resource: str, keep_rejects: bool = True) -> LoadCounts:
    """Map `records` and write them to `table_name` in batches; rejects go to the quarantine of
    (source, resource), the resource the records came from."""
    key = target_of(table_name).key

    def to_unit(record: Any) -> Unit | None:
        row = mapper(record)
        if row is None:
            return None
        return Unit(record, [(table_name, row)], [(table_name, row[key[0]], row[key[1]])])

    return _load_units(session, records, to_unit, source=source, resource=resource,
                       batch_size=batch_size, keep_rejects=keep_rejects)


def load_cycles(session: Session, records: Iterable[dict], batch_size: int = BATCH_SIZE) -> LoadCounts:
    """Upsert WHOOP cycles by (user_id, cycle id)."""
    return load_rows(session, "cycles", records, mappers.cycle_to_row, batch_size,
                     source="whoop", resource="cycles")


def load_sleep(session: Session, records: Iterable[dict], batch_size: int = BATCH_SIZE) -> LoadCounts:
    """Upsert WHOOP sleeps (naps included) by (user_id, sleep UUID)."""
    return load_rows(session, "sleep", records, mappers.sleep_to_row, batch_size,
                     source="whoop", resource="sleep")


def load_recovery(session: Session, records: Iterable[dict], batch_size: int = BATCH_SIZE) -> LoadCounts:
    """Upsert WHOOP recoveries by (user_id, cycle id); the sleep UUID is unique as well."""
    return load_rows(session, "recovery", records, mappers.recovery_to_row, batch_size,
                     source="whoop", resource="recovery")


def load_workout(session: Session, records: Iterable[dict], batch_size: int = BATCH_SIZE) -> LoadCounts:
    """Upsert WHOOP workouts by (user_id, workout UUID)."""
    return load_rows(session, "workout", records, mappers.workout_to_row, batch_size,
                     source="whoop", resource="workout")


def load_withings_measures(session: Session, groups: Iterable[dict], user_id: int,
                           timezone: str | None = None, batch_size: int = BATCH_SIZE, *,
                           mapper: Callable[..., withings_mapper.GroupRows] | None = None,
                           keep_rejects: bool = True) -> LoadCounts:
    """Upsert each measure group: its typed rows and every measure, all counted once per group.

    A group that is new is `inserted`; one with any row written or marked is `updated`.
    """
    map_group = mapper or withings_mapper.measure_group_to_rows

    def to_unit(group: Any) -> Unit:
        weight, heart, measures = map_group(group, user_id, timezone)
        rows = [(t, r) for t, r in (("withings_weight", weight), ("withings_heart_rate", heart)) if r]
        rows += [("withings_measure", r) for r in measures]
        owner = measures[0] if measures else (weight or heart)
        scopes = [(t, owner["user_id"], owner["grpid"]) for t in WITHINGS_TABLES] if owner else []
        return Unit(group, rows, scopes)

    return _load_units(session, groups, to_unit, source="withings", resource="measures",
                       batch_size=batch_size, user_id=user_id, timezone=timezone, keep_rejects=keep_rejects)


RetryLoader = Callable[[Session, list, "int | None", "str | None"], LoadCounts]


def retry_quarantine(session: Session, source: str, resource: str, loader: RetryLoader,
                     ids: list[int] | None = None) -> LoadCounts:
    """Load every quarantined record of one resource (or those of `ids`) again with today's mappers.

    A record that is stored now leaves the quarantine (`recovered`); one still rejected stays,
    with its new reason and one more attempt. `loader(session, records, user_id, timezone)`
    is the resource's own loader (its declaration's). The caller commits.
    """
    waiting = quarantine.entries(session, source, resource, ids)
    attempts = {q.id: q.attempts for q in waiting}
    total = LoadCounts()
    by_context: dict[tuple, list] = {}
    for q in waiting:
        by_context.setdefault((q.user_id, q.timezone), []).append(q)
    for (user_id, tz), group in by_context.items():
        total.add(loader(session, [json.loads(q.payload) for q in group], user_id, tz))
    table = Quarantine.__table__
    still = dict(session.execute(select(table.c.id, table.c.attempts).where(table.c.id.in_(list(attempts)))).all())
    stored = [i for i, n in still.items() if n == attempts[i]]  # not rejected again
    if stored:
        session.execute(delete(table).where(table.c.id.in_(stored)))
    total.recovered = len(attempts) - sum(1 for i, n in still.items() if n != attempts[i])
    # These records were already counted when they were first rejected.
    total.rejected = total.quarantined = 0
    total.errors = []
    return total


# ---- deletions -----------------------------------------------------------------------------

UUID_KEYED = {"sleep", "workout"}
ID_FIELDS = {"recovery": "cycle_id", "withings_weight": "grpid", "withings_heart_rate": "grpid",
             "withings_measure": "grpid"}
_DEFAULT = object()
UPDATE_CHUNK = 500


def normalise_key(table_name: str, value: Any) -> Any:
    """An API id in the form its table stores it (canonical UUID text, or an int); None if unreadable."""
    try:
        if table_name in UUID_KEYED:
            return str(uuid.UUID(value)) if isinstance(value, str) else None
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    except (ValueError, OverflowError):
        return None


def seen_key(table_name: str, record: Any) -> Any:
    """The id a raw API record has in `table_name` (for reconcile_window's `seen_keys`), or None.

    Pass the keys of every record the window returned, rejected ones included: a record the
    API still sends is not deleted, even when this release cannot read it.
    """
    value = record.get(ID_FIELDS.get(table_name, "id")) if isinstance(record, dict) else None
    return normalise_key(table_name, value)


def _pending_kept(table) -> ColumnElement | None:
    # A WHOOP record waiting for its score can drop out of a listing and come back scored: never
    # reconciled away (issue 9 item 7).
    return table.c.score_state == "PENDING_SCORE" if "score_state" in table.c else None


def reconcile_window(session: Session, table_name: str, user_id: int, start: datetime | None, end: datetime,
                     seen_keys: Iterable[Any], *, time_column: str, keep: Any = _DEFAULT,
                     allow_empty: bool = False, now: datetime | None = None) -> tuple[int, int]:
    """Mark rows in [start, end) whose key the API no longer returned as deleted; restore seen ones.

    Only for a window the run fetched completely. `time_column` is the column the window is
    compared on (the declaration's `reconcile_on`). Never a hard delete, never a row outside the
    window; `keep` (an SQL condition; default: WHOOP's PENDING_SCORE) protects rows. An empty
    `seen_keys` marks nothing unless `allow_empty` (the caller confirmed the window is empty).
    Returns (marked_deleted, restored); the caller commits.
    """
    table = target_of(table_name).table
    id_col = table.c[target_of(table_name).key[1]]
    when = table.c[time_column]
    seen = {k for k in (normalise_key(table_name, v) for v in seen_keys) if k is not None}
    if not seen and not allow_empty:
        log.warning("%s: empty response for %s..%s: nothing reconciled", table_name, start, end)
        return 0, 0
    where = [table.c.user_id == user_id, when < end] + ([when >= start] if start is not None else [])
    keep = _pending_kept(table) if keep is _DEFAULT else keep
    rows = session.execute(select(table.c.id, id_col, table.c.deleted_at,
                                  (keep if keep is not None else false()).label("kept")).where(*where)).all()
    gone = [r.id for r in rows if r[1] not in seen and r.deleted_at is None and not r.kept]
    back = [r.id for r in rows if r[1] in seen and r.deleted_at is not None]
    now = now or utcnow()
    for ids, value in ((gone, now), (back, None)):
        for chunk in _batches(ids, UPDATE_CHUNK):
            session.execute(update(table).where(table.c.id.in_(chunk)).values(deleted_at=value, synced_at=now))
    return len(gone), len(back)


def load_observations(session: Session, table_name: str, records: Iterable[Any],
                      mapper: Callable[[Any], dict | None], *, source: str, resource: str) -> LoadCounts:
    """Rows of a value the API keeps no history of (WHOOP's body measurement).

    A new value is inserted (first and last seen now); a value seen before only moves its
    `last_seen_at`, which counts as unchanged. A record that cannot be read is quarantined.
    """
    counts, rejects = LoadCounts(), []
    table = target_of(table_name).table
    key = target_of(table_name).key
    for row in _mapped(records, mapper, counts, rejects):
        where = [table.c[c] == row[c] for c in key]
        stored = session.execute(select(table.c.id, table.c.last_seen_at).where(*where)).first()
        if stored is None:
            session.execute(insert(table).values({**row, "synced_at": utcnow()}))
            counts.inserted += 1
            continue
        counts.unchanged += 1
        if stored.last_seen_at < row["last_seen_at"]:
            session.execute(update(table).where(table.c.id == stored.id).values(last_seen_at=row["last_seen_at"]))
    counts.quarantined += quarantine.quarantine_records(session, source, resource, rejects)
    return counts
