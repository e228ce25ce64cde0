"""Every resource the ETL syncs, declared once: endpoint and paging, window, mapper, table, freshness.

A declaration is the Singer SDK's "stream" in small: the runner, `sync_state`, `status`, the
dashboard's freshness and `--source` read these and nothing else lists resources. Adding a
resource means a declaration here, a mapper in `mappers.py`, a model in `models.py` and one
migration (docs/ARCHITECTURE.md walks through one).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

from sqlalchemy.orm import Session

import db_loader
from mapping import whoop as mappers
from mapping import daily as daily_mappers
from mapping import withings as withings_mapper
from storage.write import target_of
from api_clients.errors import ScopeMissing
from models import (Cycle, Recovery, Sleep, WhoopBodyMeasurement, WithingsActivity, WithingsHeartRate,
                    WithingsMeasure, WithingsSleepSummary, WithingsWeight, Workout)
from sync.windows import Window, lastupdate_window, page_cap, time_window


# Page caps end a server's paging loop (pipeline.windows.page_cap): records a day at the most
# and records a page at the least. WHOOP pages hold 25; Withings does not document its page size.
WHOOP_RECORDS_PER_DAY, WHOOP_PAGE_SIZE = 50, 25
RECOVERY_MARGIN = timedelta(days=2)
WITHINGS_RECORDS_PER_DAY, WITHINGS_MIN_PAGE_SIZE = 50, 10


@dataclass
class FetchedPage:
    """One API page: its records and, for Withings, the body's `timezone` and `updatetime`."""

    records: list
    timezone: str | None = None
    updatetime: int | None = None
    fetched_at: datetime | None = None  # when the response arrived (records without a time of their own)
    listing: set | None = None  # on the last page: every id the API holds in the window (deletions)


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
    scope: str | None = None  # the OAuth scope the endpoint needs; without it the resource is skipped
    # Deletions: the column a completely re-read window is compared on (None: never reconciled).
    reconcile_on: str | None = None
    # `status --check` and the dashboard call it stale past this; STALE_AFTER_<SOURCE>_<NAME> overrides.
    stale_after: timedelta = timedelta(days=2)

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.name)

    @property
    def natural_key(self) -> tuple[str, ...]:
        """The columns of the model's UNIQUE constraint (the first, for recovery): the API's id, per user."""
        return target_of(self.model.__tablename__).key

    @property
    def tables(self) -> tuple[type, ...]:
        return (self.model, *self.also_writes)

    def pages(self, client, window: Window) -> Iterator[FetchedPage]:
        raise NotImplementedError

    def retry_loader(self) -> Callable[[Session, list, int | None, str | None], db_loader.LoadCounts]:
        """This resource's loader in the shape `db_loader.retry_quarantine` calls it."""
        return lambda session, records, user_id, tz: self.load(session, FetchedPage(records, timezone=tz), user_id)

    def check_scope(self, client) -> None:
        """ScopeMissing before any request when the stored token says the scope was not granted."""
        granted = client.granted_scopes() if hasattr(client, "granted_scopes") else None
        if self.scope and granted is not None and self.scope not in granted:
            raise ScopeMissing(self.source, self.scope, SCOPE_WHAT.get(self.scope, self.label))

    def load(self, session: Session, page: FetchedPage, user_id: int) -> db_loader.LoadCounts:
        raise NotImplementedError

    # -- deletions ---------------------------------------------------------------------------
    def keys(self, records: list) -> set:
        """The API ids of these records (rejected ones included: the API still holds them)."""
        table = self.model.__tablename__
        return {k for k in (db_loader.seen_key(table, r) for r in records) if k is not None}

    def listing(self, client, window: Window, seen: set) -> set | None:
        """Every id the API holds in the window, or None when that cannot be known.

        By default the window's own pages list it completely (WHOOP reads `start` to now)."""
        return seen if self.reconcile_on else None

    def reconcile(self, session: Session, window: Window, user_id: int, listing: set | None) -> tuple[int, int]:
        """Mark rows of the window the API no longer lists as deleted, restore listed ones.

        Only for a window fetched to its end (the runner calls this in its last page's
        transaction); an empty listing marks nothing (db_loader.reconcile_window).
        """
        if listing is None or not self.reconcile_on:
            return 0, 0
        deleted = restored = 0
        for model in self.tables:
            marked, back = db_loader.reconcile_window(
                session, model.__tablename__, user_id, self.reconcile_start(window), window.end, listing,
                time_column=self.reconcile_on)
            deleted, restored = deleted + marked, restored + back
        return deleted, restored

    def reconcile_start(self, window: Window) -> datetime | None:
        return window.start


class WhoopCollection(Resource):
    """A WHOOP v2 collection: `start`/`end` windows, `nextToken` paging, one table."""

    def pages(self, client, window: Window) -> Iterator[FetchedPage]:
        # No `end`: the API defaults it to its own "now" (docs/API_NOTES.md, WHOOP "Paging"), so
        # a record stamped a moment after our clock is not cut off; window.end is the sync point.
        cap = page_cap(window, WHOOP_RECORDS_PER_DAY, WHOOP_PAGE_SIZE)
        for records in client.iter_collection(self.path, start=window.start, max_pages=cap):
            yield FetchedPage(records=records)

    def load(self, session: Session, page: FetchedPage, user_id: int) -> db_loader.LoadCounts:
        return db_loader.load_rows(session, self.model.__tablename__, page.records, self.mapper,
                                   source=self.source, resource=self.name)


class WhoopRecovery(WhoopCollection):
    """WHOOP recovery: a collection whose records have no start of their own.

    WHOOP does not document which time its `start` filter applies to for recoveries (the
    sandbox uses the sleep's start; docs/API_NOTES.md, WHOOP "Collections"). A recovery is
    created when its sleep ends, less than a day after the cycle and sleep begin, so only rows
    created two days or more after the window's start are compared: never a row the API may
    have left out of the window.
    """

    def reconcile_start(self, window: Window) -> datetime | None:
        return None if window.start is None else window.start + RECOVERY_MARGIN


class WithingsMeasures(Resource):
    """Withings getmeas: `lastupdate` cursor, `more`/`offset` paging, body and cardio tables."""

    def listing(self, client, window: Window, seen: set) -> set | None:
        """The groups measured in the window: `lastupdate` lists what changed, not what exists.

        A full read (lastupdate=0) lists every live group already; an incremental one asks
        getmeas again by measure date over the window (docs/API_NOTES.md, Withings "Deletions":
        a deleted group simply stops being listed).
        """
        if window.start is None:
            return seen
        cap = page_cap(window, WITHINGS_RECORDS_PER_DAY, WITHINGS_MIN_PAGE_SIZE)
        pages = client.iter_measure_pages(startdate=int(window.start.timestamp()),
                                          enddate=int(window.end.timestamp()), max_pages=cap)
        return set().union(*(self.keys(page.groups) for page in pages))

    def pages(self, client, window: Window) -> Iterator[FetchedPage]:
        # lastupdate=0 asks for every group ever created or modified: the full history.
        lastupdate = int(window.start.timestamp()) if window.start else 0
        cap = page_cap(window, WITHINGS_RECORDS_PER_DAY, WITHINGS_MIN_PAGE_SIZE)
        for page in client.iter_measure_pages(lastupdate=lastupdate, max_pages=cap):
            yield FetchedPage(records=page.groups, timezone=page.timezone, updatetime=page.updatetime)

    def load(self, session: Session, page: FetchedPage, user_id: int) -> db_loader.LoadCounts:
        return db_loader.load_withings_measures(session, page.records, user_id, page.timezone)


class WhoopObject(Resource):
    """A WHOOP v2 object without history (the body measurement): one row per distinct value seen."""

    def pages(self, client, window: Window) -> Iterator[FetchedPage]:
        self.check_scope(client)
        record = client.get_object(self.path)
        yield FetchedPage(records=[record], fetched_at=datetime.now(timezone.utc))

    def load(self, session: Session, page: FetchedPage, user_id: int) -> db_loader.LoadCounts:
        seen_at = page.fetched_at or datetime.now(timezone.utc)
        return db_loader.load_observations(session, self.model.__tablename__, page.records,
                                           lambda record: self.mapper(record, user_id, seen_at),
                                           source=self.source, resource=self.name)


@dataclass(frozen=True)
class WithingsAction(Resource):
    """A Withings v2 action (getactivity, getsummary): `lastupdate` cursor, `more`/`offset` paging."""

    action: str = ""
    records_key: str = ""
    data_fields: tuple[str, ...] = ()

    def pages(self, client, window: Window) -> Iterator[FetchedPage]:
        self.check_scope(client)
        params: dict[str, int | str] = {"lastupdate": int(window.start.timestamp()) if window.start else 0}
        if self.data_fields:
            params["data_fields"] = ",".join(self.data_fields)
        # These bodies carry no `updatetime` (docs/API_NOTES.md, Withings "Activity and sleep"): the
        # cursor is this run's start. Anything modified later has a later `modified`, and the
        # lookback subtracted from the cursor covers a skew between our clock and Withings'.
        run_start = int(window.end.timestamp())
        cap = page_cap(window, WITHINGS_RECORDS_PER_DAY, WITHINGS_MIN_PAGE_SIZE)
        for page in client.iter_action_pages(self.path, self.action, params, self.records_key, max_pages=cap):
            yield FetchedPage(records=page.records, timezone=page.timezone,
                              updatetime=page.updatetime or run_start)

    def load(self, session: Session, page: FetchedPage, user_id: int) -> db_loader.LoadCounts:
        return db_loader.load_rows(session, self.model.__tablename__, page.records,
                                   lambda record: self.mapper(record, user_id), source=self.source, resource=self.name)


SCOPE_WHAT = {"user.activity": "activity data", "read:body_measurement": "body measurements"}

RESOURCES: tuple[Resource, ...] = (
    WhoopCollection("whoop", "cycles", "WHOOP cycles", "/developer/v2/cycle",
                    Cycle, mappers.cycle_to_row, (Cycle.start,), reconcile_on="start"),
    WhoopRecovery("whoop", "recovery", "WHOOP recovery", "/developer/v2/recovery",
                  Recovery, mappers.recovery_to_row, (Recovery.created_at,), reconcile_on="created_at"),
    WhoopCollection("whoop", "sleep", "WHOOP sleep", "/developer/v2/activity/sleep",
                    Sleep, mappers.sleep_to_row, (Sleep.start,), reconcile_on="start"),
    WhoopCollection("whoop", "workout", "WHOOP workouts", "/developer/v2/activity/workout",
                    Workout, mappers.workout_to_row, (Workout.start,), reconcile_on="start",
                    stale_after=timedelta(days=7)),  # rest days are not an outage
    WhoopObject("whoop", "body", "WHOOP body measurement", "/developer/v2/user/measurement/body",
                WhoopBodyMeasurement, daily_mappers.body_measurement_to_row, (WhoopBodyMeasurement.last_seen_at,),
                scope="read:body_measurement"),
    WithingsMeasures("withings", "measures", "Withings measures", "/measure",
                     WithingsWeight, withings_mapper.measure_group_to_rows,
                     (WithingsWeight.measured_at, WithingsHeartRate.measured_at),
                     window=lastupdate_window, also_writes=(WithingsHeartRate, WithingsMeasure),
                     reconcile_on="measured_at"),
    WithingsAction("withings", "activity", "Withings daily activity", "/v2/measure",
                   WithingsActivity, daily_mappers.activity_to_row, (WithingsActivity.modified_at,),
                   window=lastupdate_window, scope="user.activity",
                   action="getactivity", records_key="activities", data_fields=daily_mappers.ACTIVITY_DATA_FIELDS),
    WithingsAction("withings", "sleep_summary", "Withings sleep", "/v2/sleep",
                   WithingsSleepSummary, daily_mappers.sleep_summary_to_row, (WithingsSleepSummary.end,),
                   window=lastupdate_window, scope="user.activity",
                   action="getsummary", records_key="series", data_fields=daily_mappers.SLEEP_DATA_FIELDS),
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

