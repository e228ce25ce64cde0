"""Idempotent batched loading driven by the declarations: map, write, quarantine what cannot be stored.

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

from sqlalchemy import ColumnElement, Integer, Table, delete, false, insert, select, update
from sqlalchemy.engine import Connection

import models
from configuration.clock import utcnow
from mapping.fields import MappingError
from storage import quarantine
from storage import write as db_write
from storage.write import LoadCounts, Unit, target_of

log = logging.getLogger(__name__)

BATCH_SIZE = 500


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


def _write_units(
    session: Connection, units: list[Unit], counts: LoadCounts, rejects: list[quarantine.Rejected]
) -> list[Unit]:
    """Write one batch; returns the units stored. A refused batch is retried unit by unit."""
    units = _dedupe(units, counts)
    now = utcnow()
    db_write.plan(session, units, now)
    try:
        with session.begin_nested():
            db_write.execute(session, units)
        stored = units
    except Exception as exc:
        if not db_write.is_data_error(exc):
            raise
        stored = []
        for unit in units:
            try:
                with session.begin_nested():
                    db_write.execute(session, [unit])
                stored.append(unit)
            except Exception as unit_exc:
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


def _mapped(
    records: Iterable[Any], mapper: Callable[[Any], Any], counts: LoadCounts, rejects: list[quarantine.Rejected]
) -> Iterator[Any]:
    """What `mapper` makes of each record that maps; the others are rejected with their reason."""
    for record in records:
        counts.fetched += 1
        try:
            mapped = mapper(record)
        except MappingError as exc:
            _reject(record, str(exc), counts, rejects)
            continue
        yield mapped


def _load_units(
    session: Connection,
    records: Iterable[Any],
    to_unit: Callable[[Any], Unit | None],
    *,
    resource,
    batch_size: int,
    user_id: int | None = None,
    timezone: str | None = None,
) -> LoadCounts:
    counts = LoadCounts()
    for chunk in _batches(records, batch_size):
        units, rejects = [], []
        for unit in _mapped(chunk, to_unit, counts, rejects):
            if unit is None or not unit.rows:
                counts.skipped += 1
            else:
                units.append(unit)
        stored = _write_units(session, units, counts, rejects) if units else []
        counts.quarantined += quarantine.quarantine_records(
            session,
            resource.source,
            resource.name,
            rejects,
            key_field=resource.quarantine_key,
            user_id=user_id,
            timezone=timezone,
        )
        counts.recovered += quarantine.release(
            session, resource.source, resource.name, [u.record for u in stored], key_field=resource.quarantine_key
        )
    return counts


def _table_rows(tables: tuple, mapped: Any) -> list[tuple[str, dict]]:
    """A mapper's output as (table, row) pairs: one row, or one row (or list of rows) per table in order."""
    outputs = mapped if isinstance(mapped, tuple) else (mapped,)
    rows = []
    for table, output in zip(tables, outputs, strict=False):
        rows += [(table.name, row) for row in (output if isinstance(output, list) else [output]) if row]
    return rows


def _unit_maker(resource, context: dict) -> Callable[[Any], Unit | None]:
    """A record -> its Unit: the declared mapper's rows, and the rows' API id in every declared table."""
    arguments = [context[name] for name in resource.mapper_context]
    for table in resource.tables:
        target_of(table)  # a table declared outside models.py becomes known by its name

    def to_unit(record: Any) -> Unit | None:
        rows = _table_rows(resource.tables, resource.mapper(record, *arguments))
        if not rows:
            return None
        owner_table, owner = rows[0]
        user_col, id_col = target_of(owner_table).key[:2]
        return Unit(record, rows, [(t.name, owner[user_col], owner[id_col]) for t in resource.tables])

    return to_unit


def load_page(session: Connection, resource, page, user_id: int, batch_size: int = BATCH_SIZE) -> LoadCounts:
    """Map a page's records with the declared mapper and write every row to the declared tables.

    `resource` is the declaration (sync.resources) and `page` the client's page. A record is
    counted once, whatever the number of rows and tables it maps to: a record that is new is
    `inserted`, one with any row written or marked is `updated`. Rejects are quarantined with
    what the mapper needs to try them again (the user and the page's time zone).
    """
    context = {"user_id": user_id, "timezone": page.timezone, "fetched_at": page.fetched_at or utcnow()}
    to_unit = _unit_maker(resource, context)
    if not resource.keeps_history:
        return load_observations(session, resource, page.records, to_unit)
    return _load_units(
        session,
        page.records,
        to_unit,
        resource=resource,
        batch_size=batch_size,
        user_id=user_id if "user_id" in resource.mapper_context else None,
        timezone=page.timezone if "timezone" in resource.mapper_context else None,
    )


RetryLoader = Callable[[Connection, list, "int | None", "str | None"], LoadCounts]


def retry_quarantine(
    session: Connection,
    source: str,
    resource: str,
    loader: RetryLoader,
    ids: list[int] | None = None,
    user_id: int | None = None,
) -> LoadCounts:
    """Load every quarantined record of one resource (or those of `ids`) again with today's mappers.

    A record that is stored now leaves the quarantine (`recovered`); one still rejected stays,
    with its new reason and one more attempt. `loader(session, records, user_id, timezone)`
    is the resource's own loader (its declaration's). The caller commits. A run passes its
    `user_id`, so two accounts' runs never update the same rows at once.
    """
    waiting = quarantine.entries(session, source, resource, ids, user_id)
    attempts = {q.id: q.attempts for q in waiting}
    total = LoadCounts()
    by_context: dict[tuple, list] = {}
    for q in waiting:
        by_context.setdefault((q.user_id, q.timezone), []).append(q)
    for (user_id, tz), group in by_context.items():
        total.add(loader(session, [json.loads(q.payload) for q in group], user_id, tz))
    table = models.quarantine
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

_DEFAULT = object()
UPDATE_CHUNK = 500


def normalise_key(table: str | Table, value: Any) -> Any:
    """An API id in the form its table (a Table or a table name) stores it, None if unreadable: a
    text key column holds a canonical UUID, an integer one an int (the id's kind is the table's)."""
    target = target_of(table)
    try:
        if not isinstance(target.table.c[target.key[1]].type, Integer):
            return str(uuid.UUID(value)) if isinstance(value, str) else None
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    except (ValueError, OverflowError):
        return None


def _pending_kept(table) -> ColumnElement | None:
    # A WHOOP record waiting for its score can drop out of a listing and come back scored: never
    # reconciled away.
    return table.c.score_state == "PENDING_SCORE" if "score_state" in table.c else None


def reconcile_window(
    session: Connection,
    table_name: str,
    user_id: int,
    start: datetime | None,
    end: datetime,
    seen_keys: Iterable[Any],
    *,
    time_column: str,
    keep: Any = _DEFAULT,
    allow_empty: bool = False,
    now: datetime | None = None,
) -> tuple[int, int]:
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
    rows = session.execute(
        select(table.c.id, id_col, table.c.deleted_at, (keep if keep is not None else false()).label("kept")).where(
            *where
        )
    ).all()
    gone = [r.id for r in rows if r[1] not in seen and r.deleted_at is None and not r.kept]
    back = [r.id for r in rows if r[1] in seen and r.deleted_at is not None]
    now = now or utcnow()
    for ids, value in ((gone, now), (back, None)):
        for chunk in _batches(ids, UPDATE_CHUNK):
            session.execute(update(table).where(table.c.id.in_(chunk)).values(deleted_at=value, synced_at=now))
    return len(gone), len(back)


def load_observations(
    session: Connection, resource, records: Iterable[Any], to_unit: Callable[[Any], Unit | None]
) -> LoadCounts:
    """Rows of a value the API keeps no history of (WHOOP's body measurement).

    A new value is inserted (first and last seen now); a value seen before only moves its
    `last_seen_at`, which counts as unchanged. A record that cannot be read is quarantined.
    """
    counts, rejects = LoadCounts(), []
    for unit in _mapped(records, to_unit, counts, rejects):
        if unit is None:
            counts.skipped += 1
            continue
        for table_name, row in unit.rows:
            target = target_of(table_name)
            table = target.table
            where = [table.c[c] == row[c] for c in target.key]
            stored = session.execute(select(table.c.id, table.c.last_seen_at).where(*where)).first()
            if stored is None:
                session.execute(insert(table).values({**row, "synced_at": utcnow()}))
                counts.inserted += 1
                continue
            counts.unchanged += 1
            if stored.last_seen_at < row["last_seen_at"]:
                session.execute(update(table).where(table.c.id == stored.id).values(last_seen_at=row["last_seen_at"]))
    counts.quarantined += quarantine.quarantine_records(
        session, resource.source, resource.name, rejects, key_field=resource.quarantine_key
    )
    return counts
