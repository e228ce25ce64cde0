"""Every resource the ETL syncs, declared once: endpoint and paging, window, mapper, table, freshness.

A declaration is the Singer SDK's "stream" in small: the runner, `sync_state`, `status`, the
dashboard's freshness and `--source` read these and nothing else lists resources. Adding a
resource means a declaration here, a mapper in `mappers.py`, a model in `models.py` and one
migration (docs/ARCHITECTURE.md walks through one).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Session

import db_loader
import mappers
from models import Cycle, Recovery, Sleep, Workout, WithingsHeartRate, WithingsWeight
from pipeline.windows import Window, lastupdate_window, time_window


@dataclass
class FetchedPage:
    """One API page: its records and, for Withings, the body's `timezone` and `updatetime`."""

    records: list
    timezone: str | None = None
    updatetime: int | None = None


@dataclass(frozen=True)
class Resource:
    """One API collection and the table(s) it is stored in."""

    source: str          # the provider: "whoop" or "withings"
    name: str            # `sync_state.resource`
    label: str           # how people read it ("WHOOP cycles")
    path: str            # the endpoint, relative to the provider's API base URL
    model: type          # the table the dashboard reads; its first UNIQUE constraint is the natural key
    mapper: Callable[..., Any]
    freshness: tuple[Any, ...]  # the (indexed) columns that say how recent the newest record is
    window: Callable[..., Window] = field(default=time_window)  # time window or `lastupdate` cursor
    also_writes: tuple[type, ...] = ()  # further tables one record can land in
    # `status --check` and the dashboard call it stale past this; STALE_AFTER_<SOURCE>_<NAME> overrides.
    stale_after: timedelta = timedelta(days=2)

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.name)

    @property
    def natural_key(self) -> tuple[str, ...]:
        """The columns of the model's first UNIQUE constraint: the API's own id, per user."""
        for constraint in self.model.__table__.constraints:
            if isinstance(constraint, UniqueConstraint):
                return tuple(column.name for column in constraint.columns)
        raise LookupError(f"{self.model.__tablename__} declares no natural key")

    @property
    def tables(self) -> tuple[type, ...]:
        return (self.model, *self.also_writes)

    def pages(self, client, window: Window) -> Iterator[FetchedPage]:
        raise NotImplementedError

    def load(self, session: Session, page: FetchedPage, user_id: int) -> db_loader.LoadCounts:
        raise NotImplementedError


class WhoopCollection(Resource):
    """A WHOOP v2 collection: `start`/`end` windows, `nextToken` paging, one table."""

    def pages(self, client, window: Window) -> Iterator[FetchedPage]:
        # No `end`: the API defaults it to its own "now" (docs/API_NOTES.md, WHOOP "Paging"), so
        # a record stamped a moment after our clock is not cut off; window.end is the sync point.
        for records in client.iter_collection(self.path, start=window.start):
            yield FetchedPage(records=records)

    def load(self, session: Session, page: FetchedPage, user_id: int) -> db_loader.LoadCounts:
        return db_loader.load_rows(session, self.model.__tablename__, page.records, self.mapper)


class WithingsMeasures(Resource):
    """Withings getmeas: `lastupdate` cursor, `more`/`offset` paging, body and cardio tables."""

    def pages(self, client, window: Window) -> Iterator[FetchedPage]:
        # lastupdate=0 asks for every group ever created or modified: the full history.
        lastupdate = int(window.start.timestamp()) if window.start else 0
        for page in client.iter_measure_pages(lastupdate=lastupdate):
            yield FetchedPage(records=page.groups, timezone=page.timezone, updatetime=page.updatetime)

    def load(self, session: Session, page: FetchedPage, user_id: int) -> db_loader.LoadCounts:
        return db_loader.load_withings_measures(session, page.records, user_id, page.timezone)


RESOURCES: tuple[Resource, ...] = (
    WhoopCollection("whoop", "cycles", "WHOOP cycles", "/developer/v2/cycle",
                    Cycle, mappers.cycle_to_row, (Cycle.start,)),
    WhoopCollection("whoop", "recovery", "WHOOP recovery", "/developer/v2/recovery",
                    Recovery, mappers.recovery_to_row, (Recovery.created_at,)),
    WhoopCollection("whoop", "sleep", "WHOOP sleep", "/developer/v2/activity/sleep",
                    Sleep, mappers.sleep_to_row, (Sleep.start,)),
    WhoopCollection("whoop", "workout", "WHOOP workouts", "/developer/v2/activity/workout",
                    Workout, mappers.workout_to_row, (Workout.start,),
                    stale_after=timedelta(days=7)),  # rest days are not an outage
    WithingsMeasures("withings", "measures", "Withings measures", "/measure",
                     WithingsWeight, mappers.measure_group_to_rows,
                     (WithingsWeight.measured_at, WithingsHeartRate.measured_at),
                     window=lastupdate_window, also_writes=(WithingsHeartRate,)),
)
SOURCES: tuple[str, ...] = tuple(dict.fromkeys(r.source for r in RESOURCES))
SOURCE_LABELS = {"whoop": "WHOOP", "withings": "Withings"}


def of_source(source: str) -> tuple[Resource, ...]:
    """The declared resources of one provider, in declaration order."""
    return tuple(r for r in RESOURCES if r.source == source)


def get(source: str, name: str) -> Resource:
    """The declaration of (source, name); KeyError for an undeclared one."""
    for resource in RESOURCES:
        if resource.key == (source, name):
            return resource
    raise KeyError(f"no resource {source}/{name} is declared")

