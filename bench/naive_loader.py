"""The pre-fix way of loading, kept only as a benchmark baseline: per row SELECT, write, COMMIT."""

from __future__ import annotations

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

import db_loader
import models
from configuration import clock
from mapping import whoop as mappers
from mapping import withings as withings_mapper
from storage.write import LoadCounts, target_of


def _one(session: Session, table: Table, row: dict, counts: LoadCounts) -> None:
    target = target_of(table)
    where = [table.c[c] == row[c] for c in target.key]
    existing = session.execute(select(table.c.id).where(*where)).scalar()
    values = {**row, "synced_at": clock.utcnow()}
    if existing is None:
        session.execute(insert(table).values(values))
        counts.inserted += 1
    else:
        session.execute(update(table).where(table.c.id == existing).values(values))
        counts.updated += 1
    session.commit()


def naive_load(session: Session, table: Table, records, mapper, **_quarantine) -> LoadCounts:
    """GarminDB-style: one SELECT, one INSERT or UPDATE and one COMMIT per record (no quarantine)."""
    counts = LoadCounts()
    for record in records:
        counts.fetched += 1
        try:
            row = mapper(record, now=clock.utcnow())
        except mappers.MappingError:
            counts.rejected += 1
            continue
        if row is not None:
            _one(session, table, row, counts)
    return counts


def naive_withings(session: Session, groups, user_id: int, timezone=None) -> LoadCounts:
    """Per-row Withings loading: each group mapped and written on its own."""
    counts = LoadCounts()
    for group in groups:
        counts.fetched += 1
        try:
            rows = withings_mapper.measure_group_to_rows(group, user_id, timezone, now=clock.utcnow())
        except mappers.MappingError:
            counts.rejected += 1
            continue
        for name, table_rows in rows.items():
            for row in table_rows:
                _one(session, models.metadata.tables[name], row, counts)
    return counts


def naive_page(session: Session, resource, page, user_id: int, batch_size=None) -> LoadCounts:
    """The runner's page loader, per row: WHOOP collections and Withings measures (the rest as usual)."""
    if resource.name == "measures":
        return naive_withings(session, page.records, user_id, page.timezone)
    if resource.keeps_history and not resource.mapper_context:
        return naive_load(session, resource.model, page.records, resource.mapper)
    return db_loader.load_page(session, resource, page, user_id)
