"""Idempotent batched loading driven by the declarations: map, write, quarantine what cannot be stored.

Every record of a page is stored, or kept in `quarantine` with its reason in the same
transaction; nothing the API sends is thrown away. The caller commits.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from itertools import islice
from operator import itemgetter
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy import ColumnElement, Table, delete, false, select, update
from sqlalchemy.engine import Connection

import models
from api_clients.pages import Page
from configuration import clock
from mapping.fields import MappingError, RowsByTable
from storage import quarantine
from storage import series as db_series
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
    session: Connection,
    units: list[Unit],
    counts: LoadCounts,
    rejects: list[quarantine.Rejected],
    planner: Callable[[Connection, list[Unit], datetime], None],
    now: datetime,
) -> list[Unit]:
    """Write one batch planned by `planner`; returns the units stored. A refused batch is retried unit by unit."""
    units = _dedupe(units, counts)
    planner(session, units, now)
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
    session: Connection, resource, records: Iterable[Any], to_unit: Callable[[Any], Unit | None], context: dict
) -> LoadCounts:
    counts = LoadCounts()
    planner = db_write.plan if resource.keeps_history else db_write.plan_observations
    for chunk in _batches(records, context["batch_size"]):
        units, rejects = [], []
        for unit in _mapped(chunk, to_unit, counts, rejects):
            if unit is None or not unit.rows:
                counts.skipped += 1
            else:
                units.append(unit)
        stored = _write_units(session, units, counts, rejects, planner, context["now"]) if units else []
        counts.quarantined += quarantine.quarantine_records(
            session,
            resource.source,
            resource.name,
            rejects,
            key_field=resource.quarantine_key,
            # Filed under the page's user (so its account) whatever the mapper reads: a WHOOP record
            # held again on a retry or a later run keeps the account it was first filed under.
            user_id=context["user_id"],
            timezone=context["timezone"] if "timezone" in resource.mapper_context else None,
        )
        counts.recovered += quarantine.release(
            session, resource.source, resource.name, [u.record for u in stored], key_field=resource.quarantine_key
        )
    return counts


def _rows_by_table(resource, mapped: Any) -> list[tuple[Table, dict]]:
    """A mapper's output as (table, row) pairs in the declaration's table order: the row of the
    resource's own table, or RowsByTable naming each row's table."""
    if not isinstance(mapped, RowsByTable):
        return [(resource.model, mapped)] if mapped else []
    declared = {table.name: table for table in resource.tables}
    unknown = mapped.keys() - declared.keys()
    if unknown:
        raise LookupError(f"{resource.name}'s mapper wrote to {sorted(unknown)}, which it does not declare")
    return [(table, row) for table in resource.tables for row in mapped.get(table.name, ()) if row]


def _unit_maker(resource, context: dict) -> Callable[[Any], Unit | None]:
    """A record -> its Unit: the declared mapper's rows, and the rows' API id in every declared table."""
    arguments = [context[name] for name in resource.mapper_context]

    def to_unit(record: Any) -> Unit | None:
        rows = _rows_by_table(resource, resource.mapper(record, *arguments, now=context["now"]))
        if not rows:
            return None
        owner_table, owner = rows[0]
        user_col, id_col = target_of(owner_table).key[:2]
        return Unit(record, rows, [(t, owner[user_col], owner[id_col]) for t in resource.tables])

    return to_unit


def load_page(session: Connection, resource, page, user_id: int, batch_size: int = BATCH_SIZE) -> LoadCounts:
    """Map a page's records with the declared mapper and write every row to the declared tables.

    `resource` is the declaration (sync.resources) and `page` the client's page. A record is
    counted once, whatever the number of rows and tables it maps to: a record that is new is
    `inserted`, one with any row written or marked is `updated`. A resource that keeps no
    history (`keeps_history`) stores each distinct value once: a value seen again only moves
    its `last_seen_at`, and counts as unchanged. Rejects are quarantined with what the mapper
    needs to try them again (the user and the page's time zone).
    """
    # The instant the mappers check dates against and an object without history was seen at.
    now = page.fetched_at or clock.utcnow()
    if getattr(resource, "series", False):
        return load_series_page(session, resource, page.records, user_id, now)
    context = {"user_id": user_id, "timezone": page.timezone, "now": now, "batch_size": batch_size}
    return _load_units(session, resource, page.records, _unit_maker(resource, context), context)


# ---- series: large, append-mostly, keyed by time ----------------------------------------------


def _series_rows(resource, records: list, user_id: int, now: datetime, counts: LoadCounts, rejects: list):
    """Map every record; per table, its rows by natural key with the record each came from."""
    by_table: dict[Table, dict[tuple, tuple[Any, dict]]] = {table: {} for table in resource.tables}
    key_of = {table: itemgetter(*db_write.target_of(table).key) for table in resource.tables}
    named = {table.name: table for table in resource.tables}
    arguments = [{"user_id": user_id}[name] for name in resource.mapper_context]
    mapper = resource.mapper
    counts.fetched += len(records)
    for record in records:
        try:
            mapped = mapper(record, *arguments, now=now)
        except MappingError as exc:
            _reject(record, str(exc), counts, rejects)
            continue
        if not isinstance(mapped, RowsByTable):
            mapped = {resource.model.name: (mapped,)}
        for name, table_rows in mapped.items():
            table = named[name]
            rows, key = by_table[table], key_of[table]
            for row in table_rows:
                if key(row) in rows:  # the same minute twice in one answer: the later copy is the truth
                    counts.unchanged += 1
                rows[key(row)] = (record, row)
    return by_table


def _write_series(session: Connection, resource, tables: list[tuple[Table, list]], now, counts, rejects) -> list:
    """Insert the new rows and update the changed ones of the tables, in one savepoint; returns
    the records stored. `tables` holds (table, [(record, row)]) with each row's natural key once."""
    planned = [
        (
            table,
            rows,
            db_series.plan_series(
                session, table, [row for _r, row in rows], now, table.name in resource.partial_tables
            ),
        )
        for table, rows in tables
    ]
    try:
        with session.begin_nested():
            for table, _rows, plan in planned:
                if plan.inserts:
                    db_series.bulk_insert(session, table, plan.inserts)
                if plan.updates:
                    db_series.bulk_update(session, table, plan.updates)
    except Exception as exc:
        if not db_write.is_data_error(exc):
            raise
        if sum(len(rows) for _t, rows, _p in planned) == 1:
            _reject(planned[0][1][0][0], db_write.reason_of(exc), counts, rejects)
            return []
        # The database refused the batch: each row again on its own, so one bad row costs only itself.
        for _t, rows, _p in planned:
            for _record, row in rows:
                row.pop("synced_at", None)
        return [
            record
            for table, rows, _p in planned
            for one in rows
            for record in _write_series(session, resource, [(table, [one])], now, counts, rejects)
        ]
    for _t, _rows, plan in planned:
        counts.unchanged += plan.unchanged
        counts.inserted += len(plan.inserts)
        counts.updated += len(plan.updates)
    return [record for _t, rows, _p in planned for record, _row in rows]


def load_series_page(session: Connection, resource, records: list, user_id: int, now: datetime) -> LoadCounts:
    """Write a series resource's page (a day of samples) with the series path (storage/series.py).

    Every record maps to one row: counts are rows. A record that does not map, or that the
    database refuses, is quarantined with its reason; the others are stored. Unchanged rows
    send nothing, so a re-run writes nothing.
    """
    counts, rejects = LoadCounts(), []
    by_table = _series_rows(resource, records, user_id, now, counts, rejects)
    tables = [(table, list(rows.values())) for table, rows in by_table.items() if rows]
    stored = _write_series(session, resource, tables, now, counts, rejects) if tables else []
    counts.quarantined += quarantine.quarantine_records(
        session, resource.source, resource.name, rejects, key_field=resource.quarantine_key, user_id=user_id
    )
    if quarantine.holds(session, resource.source, resource.name):  # one cheap query when nothing waits
        counts.recovered += quarantine.release(
            session, resource.source, resource.name, stored, key_field=resource.quarantine_key
        )
    return counts


def retry_quarantine(
    session: Connection, resource, ids: list[int] | None = None, user_id: int | None = None, where: tuple = ()
) -> LoadCounts:
    """Load every quarantined record of `resource` (or those of `ids`) again with today's mappers.

    A record that is stored now leaves the quarantine (`recovered`); one still rejected stays,
    with its new reason and one more attempt. The records are loaded as a page of the resource
    (load_page) with the user and time zone they were held with. The caller commits. A run
    passes its `user_id`, so two accounts' runs never update the same rows at once; `quarantine
    retry --account` its account's `where`.
    """
    waiting = quarantine.entries(session, resource.source, resource.name, ids, user_id, where)
    attempts = {q.id: q.attempts for q in waiting}
    total = LoadCounts()
    by_context: dict[tuple, list] = {}
    for q in waiting:
        by_context.setdefault((q.user_id, q.timezone), []).append(q)
    for (user_id, tz), group in by_context.items():
        total.add(load_page(session, resource, Page([json.loads(q.payload) for q in group], timezone=tz), user_id))
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

UPDATE_CHUNK = 500


def _pending_kept(table: Table) -> ColumnElement | None:
    # A WHOOP record waiting for its score can drop out of a listing and come back scored: never
    # reconciled away.
    return table.c.score_state == "PENDING_SCORE" if "score_state" in table.c else None


def reconcile_window(
    session: Connection,
    table: Table,
    user_id: int,
    start: datetime | None,
    end: datetime,
    seen_keys: Iterable[Any],
    *,
    time_column: str,
    allow_empty: bool = False,
) -> tuple[int, int]:
    """Mark rows in [start, end) whose key the API no longer returned as deleted; restore seen ones.

    Only for a window the run fetched completely. `seen_keys` are API ids as the table stores
    them (Resource.keys normalises them); `time_column` is the column the window is compared on
    (the declaration's `reconcile_on`). Never a hard delete, never a row outside the window; a
    WHOOP record still PENDING_SCORE is kept. An empty `seen_keys` marks nothing unless
    `allow_empty` (the caller confirmed the window is empty). Returns (marked_deleted,
    restored); the caller commits.
    """
    id_col = table.c[target_of(table).key[1]]
    when = table.c[time_column]
    seen = set(seen_keys)
    if not seen and not allow_empty:
        log.warning("%s: empty response for %s..%s: nothing reconciled", table.name, start, end)
        return 0, 0
    where = [table.c.user_id == user_id, when < end] + ([when >= start] if start is not None else [])
    keep = _pending_kept(table)
    rows = session.execute(
        select(table.c.id, id_col, table.c.deleted_at, (keep if keep is not None else false()).label("kept")).where(
            *where
        )
    ).all()
    gone = [r.id for r in rows if r[1] not in seen and r.deleted_at is None and not r.kept]
    back = [r.id for r in rows if r[1] in seen and r.deleted_at is not None]
    now = clock.utcnow()
    for ids, value in ((gone, now), (back, None)):
        for chunk in _batches(ids, UPDATE_CHUNK):
            session.execute(update(table).where(table.c.id.in_(chunk)).values(deleted_at=value, synced_at=now))
    return len(gone), len(back)


def reconcile(session: Connection, resource, window, user_id: int, listing: set | None) -> tuple[int, int]:
    """Mark rows of `resource`'s tables in `window` the API no longer lists as deleted, restore listed ones.

    Only for a window fetched to its end (the runner calls this in its last page's
    transaction); None (the listing cannot be known) or a resource without `reconcile_on`
    changes nothing. Returns (marked_deleted, restored).
    """
    if listing is None or not resource.reconcile_on:
        return 0, 0
    deleted = restored = 0
    for table in resource.tables:
        marked, back = reconcile_window(
            session,
            table,
            user_id,
            resource.reconcile_start(window),
            window.end,
            listing,
            time_column=resource.reconcile_on,
        )
        deleted, restored = deleted + marked, restored + back
    return deleted, restored
