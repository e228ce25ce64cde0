"""Load API-shaped records the way a run does: through a resource's declaration and db_loader.load_page."""

from __future__ import annotations

import dataclasses

import db_loader
from api_clients.pages import Page
from sync.resources import get


def load(
    session,
    source: str,
    name: str,
    records,
    user_id: int | None = None,
    timezone: str | None = None,
    batch_size: int = db_loader.BATCH_SIZE,
    mapper=None,
) -> db_loader.LoadCounts:
    """One page of `records` of the declared (source, name), optionally with a replacement mapper."""
    resource = get(source, name)
    if mapper is not None:
        resource = dataclasses.replace(resource, mapper=mapper)
    return db_loader.load_page(session, resource, Page(list(records), timezone=timezone), user_id, batch_size)


def load_cycles(session, records, batch_size: int = db_loader.BATCH_SIZE) -> db_loader.LoadCounts:
    return load(session, "whoop", "cycles", records, batch_size=batch_size)


def load_sleep(session, records, batch_size: int = db_loader.BATCH_SIZE) -> db_loader.LoadCounts:
    return load(session, "whoop", "sleep", records, batch_size=batch_size)


def load_recovery(session, records, batch_size: int = db_loader.BATCH_SIZE) -> db_loader.LoadCounts:
    return load(session, "whoop", "recovery", records, batch_size=batch_size)


def load_workout(session, records, batch_size: int = db_loader.BATCH_SIZE) -> db_loader.LoadCounts:
    return load(session, "whoop", "workout", records, batch_size=batch_size)


def load_withings_measures(
    session, groups, user_id: int, timezone: str | None = None, batch_size: int = db_loader.BATCH_SIZE, *, mapper=None
) -> db_loader.LoadCounts:
    return load(session, "withings", "measures", groups, user_id, timezone, batch_size, mapper)
