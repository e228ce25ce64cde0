"""Every resource the ETL syncs, declared once: endpoint, id, scope, window, mapper, tables, freshness.

A declaration is the Singer SDK's "stream" in small: the runner, the loader, `sync_state`,
`status`, `watch`, the dashboard's freshness and `--source` read these and nothing else lists
resources. Adding a resource means a declaration here, a mapper, a model and one migration
(tests/e2e/test_adding_a_resource.py adds one without touching anything else).
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, Callable, ClassVar, Iterator

from sqlalchemy import Table, select

import models
from api_clients.errors import ApiError, InvalidRequest, NotImplementedByApi, ScopeMissing
from api_clients.pages import Page
from api_clients.withings import DEVICES_SCOPE
from configuration import clock, settings
from mapping import daily as daily_mappers
from mapping import devices as devices_mapper
from mapping import whoop as mappers
from mapping import withings as withings_mapper
from mapping import withings_series as series_mappers
from mapping.ecg import decode_signal
from mapping.fields import EARLIEST_DATE, MappingError
from storage.write import normalise_key
from sync.windows import Window, lastupdate_window, page_cap, series_window, time_window

# The device types User v2 getdevice documents (docs/API_NOTES.md, Withings "Devices").
DEVICE_TYPES = frozenset(
    {
        "Scale",
        "Babyphone",
        "Blood Pressure Monitor",
        "Activity Tracker",
        "Sleep Monitor",
        "Smart Connected Thermometer",
        "Gateway",
        "iGlucose",
        "Lingo",
    }
)
# Page caps end a server's paging loop (sync.windows.page_cap): records a day at the most
# and records a page at the least. WHOOP pages hold 25; Withings does not document its page size.
WHOOP_RECORDS_PER_DAY, WHOOP_PAGE_SIZE = 50, 25
RECOVERY_MARGIN = timedelta(days=2)
WITHINGS_RECORDS_PER_DAY, WITHINGS_MIN_PAGE_SIZE = 50, 10
# A watch poll reads a WHOOP collection with this lookback: WHOOP filters by the record's start
# (a recovery by its sleep's start), and a score can come a day late (the strap syncs through
# the phone): two days still fit one page. Withings' `lastupdate` cursor needs none.
WHOOP_POLL_LOOKBACK = timedelta(days=2)


@dataclass(frozen=True, kw_only=True)
class Resource:
    """One API collection, the table(s) it is stored in, and everything the ETL needs to know of it."""

    source: str  # the provider: "whoop" or "withings"
    name: str  # `sync_state.resource`
    label: str  # how people read it ("WHOOP cycles")
    path: str  # the endpoint, relative to the provider's API base URL
    scope: str  # the OAuth scope the endpoint needs; `connect` asks for every declared one
    what: str  # the words that name its data in a message ("re-connect to allow <what>")
    model: Table  # the table the dashboard reads; its first UNIQUE constraint is the natural key
    # record (+ `mapper_context`, and `now=` the loader's instant) -> a row of `model`, or
    # mapping.fields.RowsByTable naming each row's table
    mapper: Callable[..., Any]
    freshness: tuple[Any, ...]  # the (indexed) columns that say how recent the newest record is
    also_writes: tuple[Table, ...] = ()  # further tables one record can land in (RowsByTable names them)
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
    # The devices that can produce it, as words of a getdevice `type` or `model` ("ScanWatch");
    # None: any account can. An account whose stored devices all have a documented type and none
    # of these words is not asked for it (sync/plan.py); an undocumented type may produce anything.
    devices: tuple[str, ...] | None = None
    # Read at most this often (a profile that hardly ever changes); None: on every run.
    read_every: timedelta | None = None

    # What the window is: a time window (`start`/`end`) or a `lastupdate` cursor.
    window: ClassVar[Callable[..., Window]] = staticmethod(time_window)
    # What the mapper needs besides the record and the instant, by name: user_id, timezone.
    mapper_context: ClassVar[tuple[str, ...]] = ()
    keeps_history: ClassVar[bool] = True  # False: one row per distinct value seen (storage.write.plan_observations)
    # Whether its pages come newest first over a time window, so that a backfill the daily
    # budget stops can resume before the oldest record it stored (sync/runner.py).
    resumable: ClassVar[bool] = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.name)

    @property
    def tables(self) -> tuple[Table, ...]:
        return (self.model, *self.also_writes)

    def key_of(self, record: Any) -> Any:
        """The API id of a raw record in the form its table stores it, or None when it has no readable one."""
        value = record.get(self.id_field) if isinstance(record, dict) else None
        return normalise_key(self.model, value)

    def pages(self, client, window: Window) -> Iterator[Page]:
        raise NotImplementedError

    def can_produce(self, devices: list[tuple[str | None, str | None]]) -> bool:
        """Whether an account with these (type, model) devices may hold this resource's data.

        Conservative: no device known yet, or one of a type getdevice does not document, may."""
        if self.devices is None or not devices:
            return True
        words = tuple(word.lower() for word in self.devices)
        for kind, model in devices:
            named = f"{kind or ''} {model or ''}".lower()
            if kind not in DEVICE_TYPES or any(word in named for word in words):
                return True
        return False

    def stored(self, conn, user_id: int, window: Window) -> Any:
        """What the pages need to know of the rows already stored (None: nothing); read when the run is planned."""
        return None

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

    def reconcile_start(self, window: Window) -> datetime | None:
        """Where the rows compared with a listing of `window` begin (db_loader.reconcile)."""
        return window.start


class WhoopCollection(Resource):
    """A WHOOP v2 collection: `start`/`end` windows, `nextToken` paging, one table."""

    resumable: ClassVar[bool] = True

    def pages(self, client, window: Window) -> Iterator[Page]:
        # No `end`: the API defaults it to its own "now" (docs/API_NOTES.md, WHOOP "Paging"), so
        # a record stamped a moment after our clock is not cut off; window.end is the sync point.
        # A resumed backfill is the exception: it reads only what lies before where it stopped.
        end = window.end if window.mode == "resume" else None
        cap = page_cap(window, WHOOP_RECORDS_PER_DAY, WHOOP_PAGE_SIZE)
        for records in client.iter_collection(
            self.path, start=window.start, end=end, max_pages=cap, scope=self.scope, what=self.what
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

    mapper_context: ClassVar[tuple[str, ...]] = ("user_id",)
    keeps_history: ClassVar[bool] = False

    def pages(self, client, window: Window) -> Iterator[Page]:
        self.check_scope(client)
        record = client.get_object(self.path, scope=self.scope, what=self.what)
        yield Page(records=[record], fetched_at=clock.utcnow())


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


@dataclass(frozen=True, kw_only=True)
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


# Sleep v2 get and getintradayactivity return only the first 24 hours after `startdate`, and
# silently (docs/API_NOTES.md, Withings "Sleep series"): a window is read in calls of 24 hours.
SERIES_CALL_SPAN = timedelta(hours=24)
# A first run has no start: it walks back a day a call, newest first, and stops after this many
# days in a row came back empty (the watch or the sleep monitor was not worn yet, or not for two
# weeks), instead of walking back to 2010 at a request a day. An account that shows no sample in
# its newest days has no such device in use: its walk ends sooner. `--since` windows are read whole.
SERIES_EMPTY_DAYS_STOP = 14
SERIES_NONE_YET_STOP = 3
# A bounded window's calls in flight together: a routine run's 8 days at once, as the floor sends
# every request of a run at once; a long `--since` window keeps this many ahead of the loader.
SERIES_PARALLEL_CALLS = 8


def _sleep_body_records(body: dict) -> list:
    series = body.get("series")
    if not isinstance(series, list):
        raise ApiError("withings", f"/v2/sleep get: the body has no series list ({type(series).__name__})")
    return series_mappers.sleep_records(series)


def _intraday_body_records(body: dict) -> list:
    series = body.get("series")
    try:
        if not isinstance(series, (dict, list)):
            raise MappingError(f"series is {type(series).__name__}")
        return series_mappers.intraday_records(series)
    except MappingError as exc:
        raise ApiError("withings", f"/v2/measure getintradayactivity: {exc}") from None


@dataclass(frozen=True, kw_only=True)
class WithingsSeries(Resource):
    """A Withings action of high-frequency data read in 24-hour calls (Sleep v2 get, getintradayactivity).

    No `lastupdate` and no paging on these actions: a routine run re-reads its time window (the
    lookback catches samples a device syncs late), a first run walks back until the data ends.
    The loader writes these with its series path (db_loader.load_series_page).
    """

    action: str = ""
    data_fields: tuple[str, ...] = ()
    records_of: Callable[[dict], list] = _intraday_body_records  # a body -> its records
    # Tables whose rows one answer may carry in part: a NULL there never clears a stored value.
    partial_tables: tuple[str, ...] = ()

    window: ClassVar[Callable[..., Window]] = staticmethod(series_window)
    mapper_context: ClassVar[tuple[str, ...]] = ("user_id",)
    series: ClassVar[bool] = True

    def spans(self, window: Window) -> Iterator[tuple[datetime, datetime]]:
        """The (startdate, enddate) of each call, newest first, each at most SERIES_CALL_SPAN long."""
        end = window.end
        floor = window.start or EARLIEST_DATE
        while end > floor:
            start = end - SERIES_CALL_SPAN
            yield start, end
            end = start

    def _call(self, client, span: tuple[datetime, datetime]) -> dict:
        start, end = span
        params = {"startdate": int(start.timestamp()), "enddate": int(end.timestamp())}
        params["data_fields"] = ",".join(self.data_fields)
        return client.get_action(self.path, self.action, params, scope=self.scope, what=self.what)

    def pages(self, client, window: Window) -> Iterator[Page]:
        self.check_scope(client)
        if window.start is not None:
            # A routine window's calls are known up front: sent together, as the other resources'
            # single pages are, its 8 calls cost one answer's wait instead of eight in a row.
            yield from self._bounded_pages(client, list(self.spans(window)))
            return
        empty, found = 0, False
        for span in self.spans(window):
            records = self.records_of(self._call(client, span))
            # The newest sample's time is the cursor: an empty one says no device records these.
            yield Page(records=records, updatetime=_newest(records))
            found = found or bool(records)
            empty = 0 if records else empty + 1
            if empty >= (SERIES_EMPTY_DAYS_STOP if found else SERIES_NONE_YET_STOP):
                return

    def _bounded_pages(self, client, spans: list[tuple[datetime, datetime]]) -> Iterator[Page]:
        """The pages of a bounded window, newest first, with up to SERIES_PARALLEL_CALLS calls in
        flight (the client keeps a session per thread and paces through the shared limiter). The
        look-ahead is bounded, so a long `--since` window holds a few answers, never all of them.
        A failed call raises in its turn, after the pages before it; calls not started are dropped."""
        pending: deque = deque()
        upcoming = iter(spans)
        with ThreadPoolExecutor(max_workers=max(1, min(SERIES_PARALLEL_CALLS, len(spans)))) as pool:
            try:
                for span in islice(upcoming, SERIES_PARALLEL_CALLS):
                    pending.append(pool.submit(self._call, client, span))
                while pending:
                    records = self.records_of(pending.popleft().result())
                    for span in islice(upcoming, 1):
                        pending.append(pool.submit(self._call, client, span))
                    yield Page(records=records, updatetime=_newest(records))
            finally:
                for future in pending:
                    future.cancel()


def _newest(records: list) -> int | None:
    """The latest unix second among the records' minutes (`timestamp`) and segment ends (`enddate`)."""
    times = []
    for record in records:
        if isinstance(record, dict):
            value = record.get("timestamp", record.get("enddate"))
            if isinstance(value, str) and value.isdigit():
                value = int(value)
            if isinstance(value, int) and not isinstance(value, bool):
                times.append(value)
    return max(times, default=None)


class WhoopProfile(WhoopObject):
    """WHOOP's basic profile: read now and then (`read_every`); the email address never leaves the page."""

    def pages(self, client, window: Window) -> Iterator[Page]:
        for page in super().pages(client, window):
            page.records = [
                {k: v for k, v in r.items() if k != "email"} if isinstance(r, dict) else r for r in page.records
            ]
            yield page


@dataclass(frozen=True, kw_only=True)
class WithingsWorkouts(WithingsAction):
    """getworkouts: a `lastupdate` cursor like getactivity; deletions found by listing the window's days."""

    def listing(self, client, window: Window, seen: set) -> set | None:
        """Every workout of the window's local days (a day either side for the time zones): a
        full read (lastupdate=0) lists every live workout already; `lastupdate` lists only edits."""
        if window.start is None:
            return seen
        params = {
            "startdateymd": (window.start - timedelta(days=1)).date().isoformat(),
            "enddateymd": (window.end + timedelta(days=1)).date().isoformat(),
        }
        cap = page_cap(window, WITHINGS_RECORDS_PER_DAY, WITHINGS_MIN_PAGE_SIZE)
        pages = client.iter_action_pages(
            self.path, self.action, params, self.records_key, max_pages=cap, scope=self.scope, what=self.what
        )
        return set().union(*(self.keys(page.records) for page in pages))


class WithingsEcg(Resource):
    """Heart v2 `list` by `startdate` (0 the first time: the list can be empty without it), and
    `get` for the signal of each recording that is new or changed since it was stored."""

    mapper_context: ClassVar[tuple[str, ...]] = ("user_id",)

    def stored(self, conn, user_id: int, window: Window) -> dict:
        """The stored recordings of the window that have their signal, by `timestamp`."""
        table = models.withings_ecg
        where = [table.c.user_id == user_id, table.c.signal.is_not(None)]
        if window.start is not None:
            where.append(table.c.recorded_at >= window.start)
        columns = (table.c.timestamp, table.c.modified_at, table.c.signal_id, table.c.signal, table.c.sample_bytes)
        return {row.timestamp: row for row in conn.execute(select(*columns, table.c.raw).where(*where))}

    def pages(self, client, window: Window, known: dict | None = None) -> Iterator[Page]:
        self.check_scope(client)
        # No `enddate`: the API's own "now" ends the list, as WHOOP's `end` does.
        params = {"startdate": int(window.start.timestamp()) if window.start else 0}
        cap = page_cap(window, WITHINGS_RECORDS_PER_DAY, WITHINGS_MIN_PAGE_SIZE)
        for page in client.iter_action_pages(
            self.path, "list", params, "series", max_pages=cap, scope=self.scope, what=self.what
        ):
            page.records = [self._with_signal(client, record, known or {}) for record in page.records]
            yield page

    def _with_signal(self, client, record: Any, known: dict) -> Any:
        """The recording with its `get` body under `signal`: the stored one when the recording has
        not changed, else fetched. A signal the API refuses leaves the reason for the quarantine."""
        ecg = record.get("ecg") if isinstance(record, dict) else None
        signalid = ecg.get("signalid") if isinstance(ecg, dict) else None
        if signalid is None:
            return record
        stored = known.get(record.get("timestamp"))
        if (
            stored is not None
            and stored.signal_id == signalid
            and stored.modified_at is not None
            and int(stored.modified_at.timestamp()) == record.get("modified")
        ):
            meta = stored.raw.get("signal") if isinstance(stored.raw, dict) else None
            return {**record, "signal": {**(meta or {}), "signal": decode_signal(stored.signal, stored.sample_bytes)}}
        try:
            body = client.ecg_signal(signalid, scope=self.scope, what=self.what)
        except (InvalidRequest, NotImplementedByApi) as exc:
            return {**record, "signal_error": str(exc)[:200]}
        return {**record, "signal": body}


class WithingsDevices(Resource):
    """User v2 getdevice: one request a run, every linked device's latest state."""

    mapper_context: ClassVar[tuple[str, ...]] = ("user_id",)

    def key_of(self, record: Any) -> Any:
        """The device's `hash_deviceid` (40 hex characters, not a UUID: read as text)."""
        value = record.get("hash_deviceid") or record.get("deviceid") if isinstance(record, dict) else None
        return value if isinstance(value, str) and value else None

    def reconcile_start(self, window: Window) -> datetime | None:
        # Every read lists every linked device: a stored one it leaves out is marked, whenever it was seen.
        return None

    def pages(self, client, window: Window) -> Iterator[Page]:
        self.check_scope(client)
        yield Page(records=client.devices(), fetched_at=clock.utcnow())


# v1 is gone (docs/API_NOTES.md, WHOOP "Collections"): only /developer/v2 paths. The scopes are
# WHOOP's OpenAPI securitySchemes; Withings' user.activity covers getactivity and all of Sleep v2
# (docs/API_NOTES.md, Withings "Auth and tokens").
RESOURCES: tuple[Resource, ...] = (
    WhoopCollection(
        source="whoop",
        name="cycles",
        label="WHOOP cycles",
        path="/developer/v2/cycle",
        scope="read:cycles",
        what="cycles",
        model=models.cycles,
        mapper=mappers.cycle_to_row,
        freshness=(models.cycles.c.start,),
        quarantine_key="id",
        reconcile_on="start",
    ),
    WhoopRecovery(
        source="whoop",
        name="recovery",
        label="WHOOP recovery",
        path="/developer/v2/recovery",
        scope="read:recovery",
        what="recovery",
        model=models.recovery,
        mapper=mappers.recovery_to_row,
        freshness=(models.recovery.c.created_at,),
        id_field="cycle_id",
        quarantine_key="cycle_id",
        reconcile_on="created_at",
        poll_lookback=WHOOP_POLL_LOOKBACK,
    ),
    WhoopCollection(
        source="whoop",
        name="sleep",
        label="WHOOP sleep",
        path="/developer/v2/activity/sleep",
        scope="read:sleep",
        what="sleep",
        model=models.sleep,
        mapper=mappers.sleep_to_row,
        freshness=(models.sleep.c.start,),
        quarantine_key="id",
        reconcile_on="start",
        poll_lookback=WHOOP_POLL_LOOKBACK,
    ),
    WhoopCollection(
        source="whoop",
        name="workout",
        label="WHOOP workouts",
        path="/developer/v2/activity/workout",
        scope="read:workout",
        what="workouts",
        model=models.workout,
        mapper=mappers.workout_to_row,
        freshness=(models.workout.c.start,),
        quarantine_key="id",
        reconcile_on="start",
        stale_after=timedelta(days=7),
    ),  # rest days are not an outage
    WhoopObject(
        source="whoop",
        name="body",
        label="WHOOP body measurement",
        path="/developer/v2/user/measurement/body",
        scope="read:body_measurement",
        what="WHOOP body measurements (height, weight, max heart rate)",
        model=models.whoop_body_measurement,
        mapper=daily_mappers.body_measurement_to_row,
        freshness=(models.whoop_body_measurement.c.last_seen_at,),
    ),
    WithingsMeasures(
        source="withings",
        name="measures",
        label="Withings measures",
        path="/measure",
        scope="user.metrics",
        what="body measures",
        model=models.withings_weight,
        mapper=withings_mapper.measure_group_to_rows,
        freshness=(models.withings_weight.c.measured_at, models.withings_heart_rate.c.measured_at),
        also_writes=(models.withings_heart_rate, models.withings_measure),
        id_field="grpid",
        quarantine_key="grpid",
        reconcile_on="measured_at",
        poll_lookback=timedelta(0),
    ),
    WithingsAction(
        source="withings",
        name="activity",
        label="Withings daily activity",
        path="/v2/measure",
        scope="user.activity",
        what="Withings daily activity (steps, calories)",
        model=models.withings_activity,
        mapper=daily_mappers.activity_to_row,
        freshness=(models.withings_activity.c.modified_at,),
        action="getactivity",
        records_key="activities",
        data_fields=daily_mappers.ACTIVITY_DATA_FIELDS,
    ),
    WithingsAction(
        source="withings",
        name="sleep_summary",
        label="Withings sleep",
        path="/v2/sleep",
        scope="user.activity",
        what="Withings sleep summaries",
        model=models.withings_sleep_summary,
        mapper=daily_mappers.sleep_summary_to_row,
        freshness=(models.withings_sleep_summary.c.end,),
        action="getsummary",
        records_key="series",
        data_fields=daily_mappers.SLEEP_DATA_FIELDS,
    ),
    WithingsSeries(
        source="withings",
        name="sleep_series",
        label="Withings sleep series",
        path="/v2/sleep",
        scope="user.activity",
        what="Withings sleep series (heart rate, breathing and sleep states by the minute)",
        model=models.withings_sleep_segment,
        mapper=series_mappers.sleep_series_to_rows,
        freshness=(models.withings_sleep_segment.c.end,),
        also_writes=(models.withings_sleep_series,),
        quarantine_key="timestamp",
        action="get",
        data_fields=series_mappers.SLEEP_DATA_FIELDS,
        records_of=_sleep_body_records,
        devices=("Sleep Monitor", "Activity Tracker"),  # a mat, or a watch that tracks sleep
        # A minute two overlapping segments share comes whole only when both are in the window.
        partial_tables=("withings_sleep_series",),
    ),
    WithingsSeries(
        source="withings",
        name="intraday",
        label="Withings intraday activity",
        path="/v2/measure",
        scope="user.activity",
        what="Withings intraday activity (steps and heart rate by the minute)",
        model=models.withings_intraday,
        mapper=series_mappers.intraday_to_row,
        freshness=(models.withings_intraday.c.measured_at,),
        quarantine_key="timestamp",
        action="getintradayactivity",
        data_fields=series_mappers.INTRADAY_DATA_FIELDS,
        records_of=_intraday_body_records,
        devices=("Activity Tracker",),
    ),
    WithingsWorkouts(
        source="withings",
        name="workouts",
        label="Withings workouts",
        path="/v2/measure",
        scope="user.activity",
        what="Withings workouts",
        model=models.withings_workout,
        mapper=devices_mapper.workout_to_row,
        freshness=(models.withings_workout.c.start,),
        quarantine_key="id",
        reconcile_on="start",
        stale_after=timedelta(days=14),  # rest weeks are not an outage
        action="getworkouts",
        records_key="series",
        data_fields=devices_mapper.WORKOUT_DATA_FIELDS,
    ),
    WithingsEcg(
        source="withings",
        name="ecg",
        label="Withings ECG",
        path="/v2/heart",
        scope="user.metrics",
        what="Withings ECG recordings",
        model=models.withings_ecg,
        mapper=devices_mapper.ecg_to_row,
        freshness=(models.withings_ecg.c.recorded_at,),
        id_field="timestamp",
        quarantine_key="timestamp",
        reconcile_on="recorded_at",
        stale_after=timedelta(days=365),  # taken on demand: months without one are no outage
        devices=("ScanWatch", "Move ECG", "BPM Core"),
    ),
    WithingsDevices(
        source="withings",
        name="devices",
        label="Withings devices",
        path="/v2/user",
        scope=DEVICES_SCOPE,
        what="the list of your devices",
        model=models.withings_device,
        mapper=devices_mapper.device_to_row,
        freshness=(models.withings_device.c.last_session_at,),
        id_field="hash_deviceid",
        quarantine_key="hash_deviceid",
        reconcile_on="fetched_at",  # a device unlinked from the account is marked, and kept
        stale_after=timedelta(days=30),
    ),
    WhoopProfile(
        source="whoop",
        name="profile",
        label="WHOOP profile",
        path="/developer/v2/user/profile/basic",
        scope="read:profile",
        what="your WHOOP name",
        model=models.whoop_profile,
        mapper=daily_mappers.profile_to_row,
        freshness=(models.whoop_profile.c.last_seen_at,),
        stale_after=timedelta(days=30),
        read_every=timedelta(days=7),
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
