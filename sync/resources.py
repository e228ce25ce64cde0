"""Every resource the ETL syncs, declared once: endpoint, id, scope, window, mapper, tables, freshness.

A declaration is the Singer SDK's "stream" in small: the runner, the loader, `sync_state`,
`status`, `watch`, the dashboard's freshness and `--source` read these and nothing else lists
resources. Adding a resource means a declaration here, a mapper, a model and one migration
(tests/test_adding_a_resource.py adds one without touching anything else).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, ClassVar, Iterator

from sqlalchemy import Table
from sqlalchemy.engine import Connection

import db_loader
import models
from api_clients.errors import ScopeMissing
from api_clients.pages import Page
from configuration import settings
from configuration.clock import utcnow
from mapping import daily as daily_mappers
from mapping import whoop as mappers
from mapping import withings as withings_mapper
from sync.windows import Window, lastupdate_window, page_cap, time_window

# Page caps end a server's paging loop (sync.windows.page_cap): records a day at the most
# and records a page at the least. WHOOP pages hold 25; Withings does not document its page size.
WHOOP_RECORDS_PER_DAY, WHOOP_PAGE_SIZE = 50, 25
RECOVERY_MARGIN = timedelta(days=2)
WITHINGS_RECORDS_PER_DAY, WITHINGS_MIN_PAGE_SIZE = 50, 10
# A watch poll reads a WHOOP collection with this lookback: WHOOP filters by the record's start
# (a recovery by its sleep's start), and a score can come a day late (the strap syncs through
# the phone): two days still fit one page. Withings' `lastupdate` cursor needs none.
WHOOP_POLL_LOOKBACK = timedelta(days=2)


@dataclass(frozen=True)
class Resource:
    """One API collection, the table(s) it is stored in, and everything the ETL needs to know of it."""

    source: str  # the provider: "whoop" or "withings"
    name: str  # `sync_state.resource`
    label: str  # how people read it ("WHOOP cycles")
    path: str  # the endpoint, relative to the provider's API base URL
    scope: str  # the OAuth scope the endpoint needs; `connect` asks for every declared one
    what: str  # the words that name its data in a message ("re-connect to allow <what>")
    model: Table  # the table the dashboard reads; its first UNIQUE constraint is the natural key
    mapper: Callable[..., Any]  # record (+ `mapper_context`) -> a row, or one row (list) per table
    freshness: tuple[Any, ...]  # the (indexed) columns that say how recent the newest record is
    also_writes: tuple[Table, ...] = ()  # further tables one record can land in, in the mapper's order
    # The field of a raw record that holds its API id; its kind (int or UUID text) is the table's key column's.
    id_field: str = "id"
    # The field that names a quarantined record (`id=93845`); None: its payload's hash names it.
    quarantine_key: str | None = None
    # Deletions: the column a completely re-read window is compared on (None: never reconciled).
    reconcile_on: str | None = None
    # `status --check` and the dashboard call it stale past this; STALE_AFTER_<SOURCE>_<NAME> overrides.
    stale_after: timedelta = timedelta(days=2)
    # `watch` reads it on every poll with this lookback; None: only on its reconciliations.
    poll_lookback: timedelta | None = None

    # What the window is: a time window (`start`/`end`) or a `lastupdate` cursor.
    window: ClassVar[Callable[..., Window]] = staticmethod(time_window)
    # What the mapper needs besides the record, by name: user_id, timezone, fetched_at.
    mapper_context: ClassVar[tuple[str, ...]] = ()
    keeps_history: ClassVar[bool] = True  # False: one row per distinct value seen (db_loader.load_observations)

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.name)

    @property
    def tables(self) -> tuple[Table, ...]:
        return (self.model, *self.also_writes)

    def key_of(self, record: Any) -> Any:
        """The API id of a raw record in the form its table stores it, or None when it has no readable one."""
        value = record.get(self.id_field) if isinstance(record, dict) else None
        return db_loader.normalise_key(self.model, value)

    def pages(self, client, window: Window) -> Iterator[Page]:
        raise NotImplementedError

    def retry_loader(self) -> Callable[[Connection, list, int | None, str | None], db_loader.LoadCounts]:
        """This resource's loader in the shape `db_loader.retry_quarantine` calls it."""
        return lambda session, records, user_id, tz: db_loader.load_page(
            session, self, Page(records, timezone=tz), user_id
        )

    def check_scope(self, client) -> None:
        """ScopeMissing before any request when the stored token says the scope was not granted."""
        granted = client.granted_scopes() if hasattr(client, "granted_scopes") else None
        if self.scope and granted is not None and self.scope not in granted:
            raise ScopeMissing(self.source, self.scope, self.what, status=None)  # no request was made

    # -- deletions ---------------------------------------------------------------------------
    def keys(self, records: list) -> set:
        """The API ids of these records (rejected ones included: the API still holds them)."""
        return {k for k in map(self.key_of, records) if k is not None}

    def listing(self, client, window: Window, seen: set) -> set | None:
        """Every id the API holds in the window, or None when that cannot be known.

        By default the window's own pages list it completely (WHOOP reads `start` to now)."""
        return seen if self.reconcile_on else None

    def reconcile(self, session: Connection, window: Window, user_id: int, listing: set | None) -> tuple[int, int]:
        """Mark rows of the window the API no longer lists as deleted, restore listed ones.

        Only for a window fetched to its end (the runner calls this in its last page's
        transaction); an empty listing marks nothing (db_loader.reconcile_window).
        """
        if listing is None or not self.reconcile_on:
            return 0, 0
        deleted = restored = 0
        for table in self.tables:
            marked, back = db_loader.reconcile_window(
                session,
                table.name,
                user_id,
                self.reconcile_start(window),
                window.end,
                listing,
                time_column=self.reconcile_on,
            )
            deleted, restored = deleted + marked, restored + back
        return deleted, restored

    def reconcile_start(self, window: Window) -> datetime | None:
        return window.start


class WhoopCollection(Resource):
    """A WHOOP v2 collection: `start`/`end` windows, `nextToken` paging, one table."""

    def pages(self, client, window: Window) -> Iterator[Page]:
        # No `end`: the API defaults it to its own "now" (docs/API_NOTES.md, WHOOP "Paging"), so
        # a record stamped a moment after our clock is not cut off; window.end is the sync point.
        cap = page_cap(window, WHOOP_RECORDS_PER_DAY, WHOOP_PAGE_SIZE)
        for records in client.iter_collection(
            self.path, start=window.start, max_pages=cap, scope=self.scope, what=self.what
        ):
            yield Page(records=records)


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


class WhoopObject(Resource):
    """A WHOOP v2 object without history (the body measurement): one row per distinct value seen."""

    mapper_context: ClassVar[tuple[str, ...]] = ("user_id", "fetched_at")
    keeps_history: ClassVar[bool] = False

    def pages(self, client, window: Window) -> Iterator[Page]:
        self.check_scope(client)
        record = client.get_object(self.path, scope=self.scope, what=self.what)
        yield Page(records=[record], fetched_at=utcnow())


class WithingsMeasures(Resource):
    """Withings getmeas: `lastupdate` cursor, `more`/`offset` paging, body and cardio tables."""

    window: ClassVar[Callable[..., Window]] = staticmethod(lastupdate_window)
    mapper_context: ClassVar[tuple[str, ...]] = ("user_id", "timezone")

    def listing(self, client, window: Window, seen: set) -> set | None:
        """The groups measured in the window: `lastupdate` lists what changed, not what exists.

        A full read (lastupdate=0) lists every live group already; an incremental one asks
        getmeas again by measure date over the window (docs/API_NOTES.md, Withings "Deletions":
        a deleted group simply stops being listed).
        """
        if window.start is None:
            return seen
        cap = page_cap(window, WITHINGS_RECORDS_PER_DAY, WITHINGS_MIN_PAGE_SIZE)
        pages = client.iter_measure_pages(
            startdate=int(window.start.timestamp()),
            enddate=int(window.end.timestamp()),
            max_pages=cap,
            path=self.path,
            scope=self.scope,
            what=self.what,
        )
        return set().union(*(self.keys(page.records) for page in pages))

    def pages(self, client, window: Window) -> Iterator[Page]:
        # lastupdate=0 asks for every group ever created or modified: the full history.
        lastupdate = int(window.start.timestamp()) if window.start else 0
        cap = page_cap(window, WITHINGS_RECORDS_PER_DAY, WITHINGS_MIN_PAGE_SIZE)
        return client.iter_measure_pages(
            lastupdate=lastupdate, max_pages=cap, path=self.path, scope=self.scope, what=self.what
        )


@dataclass(frozen=True)
class WithingsAction(Resource):
    """A Withings v2 action (getactivity, getsummary): `lastupdate` cursor, `more`/`offset` paging."""

    action: str = ""
    records_key: str = ""
    data_fields: tuple[str, ...] = ()

    window: ClassVar[Callable[..., Window]] = staticmethod(lastupdate_window)
    mapper_context: ClassVar[tuple[str, ...]] = ("user_id",)

    def pages(self, client, window: Window) -> Iterator[Page]:
        self.check_scope(client)
        params: dict[str, int | str] = {"lastupdate": int(window.start.timestamp()) if window.start else 0}
        if self.data_fields:
            params["data_fields"] = ",".join(self.data_fields)
        # These bodies carry no `updatetime` (docs/API_NOTES.md, Withings "Activity and sleep"): the
        # cursor is this run's start. Anything modified later has a later `modified`, and the
        # lookback subtracted from the cursor covers a skew between our clock and Withings'.
        run_start = int(window.end.timestamp())
        cap = page_cap(window, WITHINGS_RECORDS_PER_DAY, WITHINGS_MIN_PAGE_SIZE)
        for page in client.iter_action_pages(
            self.path, self.action, params, self.records_key, max_pages=cap, scope=self.scope, what=self.what
        ):
            page.updatetime = page.updatetime or run_start
            yield page


# v1 is gone (docs/API_NOTES.md, WHOOP "Collections"): only /developer/v2 paths. The scopes are
# WHOOP's OpenAPI securitySchemes; Withings' user.activity covers getactivity and all of Sleep v2
# (docs/API_NOTES.md, Withings "Auth and tokens").
RESOURCES: tuple[Resource, ...] = (
    WhoopCollection(
        "whoop",
        "cycles",
        "WHOOP cycles",
        "/developer/v2/cycle",
        "read:cycles",
        "cycles",
        models.cycles,
        mappers.cycle_to_row,
        (models.cycles.c.start,),
        quarantine_key="id",
        reconcile_on="start",
    ),
    WhoopRecovery(
        "whoop",
        "recovery",
        "WHOOP recovery",
        "/developer/v2/recovery",
        "read:recovery",
        "recovery",
        models.recovery,
        mappers.recovery_to_row,
        (models.recovery.c.created_at,),
        id_field="cycle_id",
        quarantine_key="cycle_id",
        reconcile_on="created_at",
        poll_lookback=WHOOP_POLL_LOOKBACK,
    ),
    WhoopCollection(
        "whoop",
        "sleep",
        "WHOOP sleep",
        "/developer/v2/activity/sleep",
        "read:sleep",
        "sleep",
        models.sleep,
        mappers.sleep_to_row,
        (models.sleep.c.start,),
        quarantine_key="id",
        reconcile_on="start",
        poll_lookback=WHOOP_POLL_LOOKBACK,
    ),
    WhoopCollection(
        "whoop",
        "workout",
        "WHOOP workouts",
        "/developer/v2/activity/workout",
        "read:workout",
        "workouts",
        models.workout,
        mappers.workout_to_row,
        (models.workout.c.start,),
        quarantine_key="id",
        reconcile_on="start",
        stale_after=timedelta(days=7),
    ),  # rest days are not an outage
    WhoopObject(
        "whoop",
        "body",
        "WHOOP body measurement",
        "/developer/v2/user/measurement/body",
        "read:body_measurement",
        "WHOOP body measurements (height, weight, max heart rate)",
        models.whoop_body_measurement,
        daily_mappers.body_measurement_to_row,
        (models.whoop_body_measurement.c.last_seen_at,),
    ),
    WithingsMeasures(
        "withings",
        "measures",
        "Withings measures",
        "/measure",
        "user.metrics",
        "body measures",
        models.withings_weight,
        withings_mapper.measure_group_to_rows,
        (models.withings_weight.c.measured_at, models.withings_heart_rate.c.measured_at),
        also_writes=(models.withings_heart_rate, models.withings_measure),
        id_field="grpid",
        quarantine_key="grpid",
        reconcile_on="measured_at",
        poll_lookback=timedelta(0),
    ),
    WithingsAction(
        "withings",
        "activity",
        "Withings daily activity",
        "/v2/measure",
        "user.activity",
        "Withings daily activity (steps, calories)",
        models.withings_activity,
        daily_mappers.activity_to_row,
        (models.withings_activity.c.modified_at,),
        action="getactivity",
        records_key="activities",
        data_fields=daily_mappers.ACTIVITY_DATA_FIELDS,
    ),
    WithingsAction(
        "withings",
        "sleep_summary",
        "Withings sleep",
        "/v2/sleep",
        "user.activity",
        "Withings sleep summaries",
        models.withings_sleep_summary,
        daily_mappers.sleep_summary_to_row,
        (models.withings_sleep_summary.c.end,),
        action="getsummary",
        records_key="series",
        data_fields=daily_mappers.SLEEP_DATA_FIELDS,
    ),
)
SOURCES: tuple[str, ...] = tuple(dict.fromkeys(r.source for r in RESOURCES))
settings.declare_stale_after_keys(tuple(f"{r.source}_{r.name}" for r in RESOURCES))
SOURCE_LABELS = {"whoop": "WHOOP", "withings": "Withings"}


def of_source(source: str) -> tuple[Resource, ...]:
    """The declared resources of one provider, in declaration order."""
    return tuple(r for r in RESOURCES if r.source == source)


def polled(source: str) -> tuple[Resource, ...]:
    """The resources of one provider that `watch` reads on every poll."""
    return tuple(r for r in of_source(source) if r.poll_lookback is not None)


def scopes_of(source: str) -> tuple[str, ...]:
    """Every scope the declared resources of one provider need, each once, in declaration order."""
    return tuple(dict.fromkeys(r.scope for r in of_source(source)))


def data_tables() -> tuple[Table, ...]:
    """Every table a declared resource writes, each once, in declaration order."""
    return tuple(dict.fromkeys(t for r in RESOURCES for t in r.tables))


def tables_by_source() -> dict[str, list[Table]]:
    """Per provider, every table its declared resources write, each once, in declaration order."""
    tables: dict[str, list[Table]] = {}
    for resource in RESOURCES:
        for table in resource.tables:
            if table not in tables.setdefault(resource.source, []):
                tables[resource.source].append(table)
    return tables


def get(source: str, name: str) -> Resource:
    """The declaration of (source, name); KeyError for an undeclared one."""
    for resource in RESOURCES:
        if resource.key == (source, name):
            return resource
    raise KeyError(f"no resource {source}/{name} is declared")
