"""Process the pushed events `serve` committed: fetch only what each names, load it as a run would.

A `Processor` claims due `inbound_event` rows (storage/event_queue.py: a lease, `FOR UPDATE SKIP
LOCKED` on PostgreSQL) and, per event:
- WHOOP `sleep.updated` / `workout.updated`: the record by id, loaded with the declared mapper;
- WHOOP `recovery.updated`: its `id` is the SLEEP's UUID, so the sleep, then its cycle's recovery
  (`/v2/cycle/{cycle_id}/recovery`) and the cycle itself (no event ever names a cycle, and the
  recovery's cycle is new when its sleep ends), all three loaded in one transaction;
- `*.deleted`: that row, and only that row, marked deleted (a recovery by its sleep's UUID);
  an `.updated` record the API no longer has (404) is marked deleted too;
- Withings appli 1 and 4: measures by `lastupdate` from just before the event's start; 16 and
  44: the activity and sleep summaries of the days the event spans; 50 and 51: an in/out-of-bed
  row, told to the listeners (MQTT's `in_bed` binary sensor); 46 (unlink): the account must
  re-connect, as a run whose refresh was refused marks it;
- a user no account holds (any more), or a category nothing is fetched for: done, as ignored,
  with a log line.
The requests go through the account's token store and the shared request budget, like a run's.
A failure is retried with backoff; after MAX_ATTEMPTS the event is quarantined with its reason
(the `quarantine` table: `status --check` sees it, `quarantine retry ID` queues it again) and
its row is kept: nothing is lost. An event is processed once (its row says when and how), and a
second processing of the same record changes nothing (the load is an upsert, the marks are
conditional). The processor never takes a run's lock: an event is a few rows, and it must not
wait an hour behind a backfill.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection, Engine

import models
from api_clients.errors import ApiError, DailyBudgetReached, ReconnectRequired, classify_error
from api_clients.pages import Page
from configuration import clock
from db_loader import load_page
from storage import accounts, event_queue, quarantine
from storage.sync_state import record_sync_failure
from storage.write import normalise_key
from sync import hooks, resources
from sync.budget import give_back_unused
from sync.plan import open_client

log = logging.getLogger("etl.events")
BATCH = 16  # events claimed at once
LEASE = timedelta(minutes=5)  # a claimed event is ours this long; longer than any one event's requests
MAX_ATTEMPTS = 8  # then quarantined: with the backoff below, about an hour of tries
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
IDLE_SECONDS = 1.0  # nothing due: look again this soon (events `serve` stored in another process: a worker's latency)
FAILING_WAIT_SECONDS = 60.0  # the database keeps failing: look again at most this often
ROLE_CANNOT_PROCESS = (
    "events: this database role may not read inbound_event, so %s events are not processed here: "
    "run `serve --no-process` with it, and `worker` or `watch` with the owner's role"
)
PROVIDERS = ("whoop", "withings")
QUARANTINE_RESOURCE = "push_event"  # the quarantine's `resource` of a failing event; its key is `event=<id>`
WHOOP_CYCLE_PATH = "/developer/v2/cycle"
APPLI_MEASURES = {1, 4}  # weight and body composition; blood pressure
APPLI_DAILY = {16: "activity", 44: "sleep_summary"}
APPLI_BED = {50: True, 51: False}  # in bed, out of bed
APPLI_USER = 46
UNLINK_ACTIONS = {None, "unlink", "delete"}
DELETABLE = {"sleep": (models.sleep, "whoop_id"), "workout": (models.workout, "whoop_id")}
DELETABLE["recovery"] = (models.recovery, "whoop_sleep_id")  # a recovery event names its sleep


class _Gone(Exception):
    """The API no longer has the record an `.updated` event names (HTTP 404)."""


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try: 30 s, doubling, at most an hour."""
    return min(BACKOFF_FIRST * 2 ** min(max(attempts - 1, 0), 16), BACKOFF_MAX)


@dataclass
class Done:
    """What processing one event did (for the log and the tests)."""

    event_id: int
    outcome: str  # stored, deleted, gone, ignored, in_bed, out_of_bed, reconnect, retry, deferred, quarantined
    error: str | None = None


@dataclass
class _Batch:
    """One claimed batch: its clients (opened once per account and provider), accounts to publish."""

    settings: object
    engine: Engine
    clients: dict = field(default_factory=dict)
    changed: set = field(default_factory=set)  # accounts whose data changed
    beds: list = field(default_factory=list)  # (account, in_bed, at) to tell once committed
    whoop_records: dict = field(default_factory=dict)  # (account, path) -> the record read in this batch

    def whoop_get(self, account: str, resource: resources.Resource, path: str) -> dict:
        """A WHOOP record by path, read once per batch: a sleep's `sleep.updated` and its
        `recovery.updated` usually come together, and both load the sleep. What changes after the
        read sends an event of its own, which a later batch reads afresh."""
        key = (account, path)
        if key not in self.whoop_records:
            self.whoop_records[key] = _get(self.client(account, "whoop"), resource, path)
        return self.whoop_records[key]

    def client(self, account: str, provider: str):
        if (account, provider) not in self.clients:
            from storage.tokens import DbTokenStore

            store = DbTokenStore(self.engine, account)
            self.clients[(account, provider)] = open_client(self.settings, store, provider, self.engine)[0]
        return self.clients[(account, provider)]

    def close(self) -> None:
        give_back_unused(self.clients.values())


class Processor:
    """Claims and processes due events; `run` loops until stopped, `wake` makes it look at once."""

    def __init__(self, settings, engine: Engine, *, batch: int = BATCH, max_attempts: int = MAX_ATTEMPTS):
        self.settings, self.engine = settings, engine
        self.batch, self.max_attempts = batch, max_attempts
        self._wakeups = {provider: threading.Event() for provider in PROVIDERS}
        self.processed = 0  # events done (retries not counted), for the tests and the benchmark
        self._progress = threading.Condition()

    def wake(self) -> None:
        """Something was stored: look now, not at the next idle tick."""
        for wakeup in self._wakeups.values():
            wakeup.set()

    def run(self, stop: threading.Event, provider: str) -> None:
        """Process `provider`'s due events until `stop`; wait for a wake-up or IDLE_SECONDS when
        none is due. One loop per provider: a weigh-in never waits behind WHOOP's minute limit."""
        wakeup, failures = self._wakeups[provider], 0
        while not stop.is_set():
            wakeup.clear()
            try:
                busy = bool(self.process_due(provider))
            except Exception as exc:  # the database is away: logged once, tried again less and less often
                if _permission_denied(exc):
                    log.error(ROLE_CANNOT_PROCESS, provider)
                    return
                failures += 1
                (log.error if failures == 1 else log.debug)(
                    "events: %s processing stopped for now: %s", provider, str(exc).splitlines()[0] if str(exc) else exc
                )
                log.debug("events: processing failed", exc_info=exc)
                wakeup.wait(min(IDLE_SECONDS * 2**failures, FAILING_WAIT_SECONDS))
                continue
            if failures:
                log.info("events: %s processing goes on", provider)
                failures = 0
            if not busy:
                wakeup.wait(IDLE_SECONDS)

    def process_due(self, provider: str | None = None) -> list[Done]:
        """Claim one batch of due events (of `provider`, or of both) and process each; what became of them."""
        claimed_at = clock.utcnow()
        claimed = event_queue.claim(self.engine, claimed_at, self.batch, LEASE, provider)
        if not claimed:
            return []
        batch, done = _Batch(self.settings, self.engine), []
        try:
            for index, event in enumerate(claimed):
                if clock.utcnow() - claimed_at > LEASE / 2:
                    # Slow going (a spent minute limit): what is left goes back before its lease
                    # ends, so that no other processor takes an event this one still holds.
                    event_queue.release(self.engine, [left.id for left in claimed[index:]], clock.utcnow())
                    break
                done.append(self._one(batch, event))
        finally:
            batch.close()
        for account in sorted(batch.changed):
            hooks.account_synced(self.engine, account)
        for account, in_bed, at in batch.beds:
            hooks.bed_changed(self.engine, account, in_bed, at)
        with self._progress:
            self.processed += sum(1 for d in done if d.outcome not in ("retry", "deferred"))
            self._progress.notify_all()
        return done

    def wait_processed(self, count: int, timeout: float) -> bool:
        """Whether `count` events are done within `timeout` seconds (tests and the benchmark)."""
        with self._progress:
            return self._progress.wait_for(lambda: self.processed >= count, timeout)

    def _one(self, batch: _Batch, event: event_queue.Claimed) -> Done:
        with self.engine.connect() as conn:
            owner = accounts.owner(conn, event.provider, event.user_id)
        if owner is None:
            log.info("events: %s event %d for user id %d, which no account holds: ignored", *_who(event))
            with self.engine.begin() as conn:
                event_queue.finish(conn, event.id, "ignored", clock.utcnow(), "no account holds this user")
            return Done(event.id, "ignored")
        account = owner[1]
        try:
            outcome = (_whoop if event.provider == "whoop" else _withings)(batch, account, event)
        except DailyBudgetReached as exc:  # not the event's fault: it waits for the next day window
            event_queue.retry_later(self.engine, event.id, exc.reason, exc.until, uncount=True)
            return Done(event.id, "deferred", exc.reason)
        except Exception as exc:  # any failure is the event's: retried, then quarantined; never lost
            return self._failed(event, account, exc)
        log.info("events: %s event %d (%s) for %s: %s", event.provider, event.id, _what(event), account, outcome)
        if outcome in ("stored", "deleted", "gone"):
            batch.changed.add(account)
        return Done(event.id, outcome)

    def _failed(self, event: event_queue.Claimed, account: str, exc: BaseException) -> Done:
        message, _reconnect = classify_error(exc, account)
        log.debug("events: event %d failed", event.id, exc_info=exc)
        now = clock.utcnow()
        if event.attempts < self.max_attempts:
            wait = backoff(event.attempts)
            log.warning(
                "events: %s event %d (%s), try %d: %s; again in %d s",
                event.provider,
                event.id,
                _what(event),
                event.attempts,
                message,
                wait.total_seconds(),
            )
            event_queue.retry_later(self.engine, event.id, message, now + wait)
            return Done(event.id, "retry", message)
        log.error(
            "events: %s event %d (%s) quarantined after %d tries: %s",
            *_who(event)[:2],
            _what(event),
            event.attempts,
            message,
        )
        with self.engine.begin() as conn:
            record = {"event": event.id, **event.payload}
            reason = f"processing the {_what(event)} event failed {event.attempts} times: {message}"
            quarantine.quarantine_records(
                conn,
                event.provider,
                QUARANTINE_RESOURCE,
                [quarantine.Rejected(record, reason)],
                key_field="event",
                user_id=event.user_id,
                now=now,
            )
            event_queue.finish(conn, event.id, "quarantined", now, message)
        return Done(event.id, "quarantined", message)


def _permission_denied(exc: BaseException) -> bool:
    """PostgreSQL's insufficient_privilege: the receiver's insert-only role (README)."""
    return getattr(getattr(exc, "orig", None), "pgcode", None) == "42501"


def _who(event: event_queue.Claimed) -> tuple:
    return event.provider, event.id, event.user_id


def _what(event: event_queue.Claimed) -> str:
    return event.event_type or f"appli {event.appli}"


# ---- WHOOP -------------------------------------------------------------------------------------


def _get(client, resource: resources.Resource, path: str) -> dict:
    try:
        return client.get_object(path, scope=resource.scope, what=resource.what)
    except ApiError as exc:
        if exc.status == 404:
            raise _Gone from None
        raise


def _whoop(batch: _Batch, account: str, event: event_queue.Claimed) -> str:
    kind, _, change = (event.event_type or "").partition(".")
    if kind not in DELETABLE or change not in ("updated", "deleted") or not event.object_id:
        log.info("events: whoop event %d of type %s: nothing to fetch, ignored", event.id, event.event_type)
        return _finish(batch.engine, event, "ignored", "not an event type this release processes")
    if change == "deleted":
        return _mark_deleted(batch.engine, event, kind)
    try:
        if kind == "recovery":
            records = _recovery_records(batch, account, event)
        else:
            records = _by_id(batch, account, kind, event.object_id)
    except _Gone:
        if kind == "recovery":  # its sleep or recovery is gone: the recovery's own .deleted event says so
            return _finish(batch.engine, event, "gone", "the API no longer has it")
        return _mark_deleted(batch.engine, event, kind, outcome="gone")
    with batch.engine.begin() as conn:
        for resource, record in records:
            load_page(conn, resource, Page(records=[record]), event.user_id)
        event_queue.finish(conn, event.id, "stored", clock.utcnow())
    return "stored"


def _by_id(batch: _Batch, account: str, kind: str, object_id: str) -> list:
    resource = resources.get("whoop", kind)
    return [(resource, batch.whoop_get(account, resource, f"{resource.path}/{object_id}"))]


def _recovery_records(batch: _Batch, account: str, event: event_queue.Claimed) -> list:
    """The sleep the event names, its cycle and the cycle's recovery, in the order they load."""
    ((sleep_resource, sleep),) = _by_id(batch, account, "sleep", event.object_id)
    cycle_id = sleep.get("cycle_id")
    if isinstance(cycle_id, bool) or not isinstance(cycle_id, int):
        raise ApiError("whoop", f"the sleep of recovery event {event.id} names no cycle")
    recovery_resource, cycle_resource = resources.get("whoop", "recovery"), resources.get("whoop", "cycles")
    records = [
        (cycle_resource, batch.whoop_get(account, cycle_resource, f"{WHOOP_CYCLE_PATH}/{cycle_id}")),
        (sleep_resource, sleep),
    ]
    try:
        path = f"{WHOOP_CYCLE_PATH}/{cycle_id}/recovery"
        records.append((recovery_resource, batch.whoop_get(account, recovery_resource, path)))
    except _Gone:  # not scored (any more): the sleep and cycle are still news; a deletion has its own event
        log.info("events: whoop recovery event %d: cycle %s has no recovery now", event.id, cycle_id)
    return records


def _mark_deleted(engine: Engine, event: event_queue.Claimed, kind: str, outcome: str = "deleted") -> str:
    """Mark the one row the event names deleted (if stored and not already); the event is done."""
    table, column = DELETABLE[kind]
    key = normalise_key(models.sleep, event.object_id) or event.object_id  # a UUID, as the tables store it
    now = clock.utcnow()
    with engine.begin() as conn:
        marked = conn.execute(
            update(table)
            .where(table.c.user_id == event.user_id, table.c[column] == key, table.c.deleted_at.is_(None))
            .values(deleted_at=now, synced_at=now)
        ).rowcount
        event_queue.finish(conn, event.id, outcome, now, None if marked else "no stored row to mark")
    return outcome


def _finish(engine: Engine, event: event_queue.Claimed, outcome: str, note: str | None = None) -> str:
    with engine.begin() as conn:
        event_queue.finish(conn, event.id, outcome, clock.utcnow(), note)
    return outcome


# ---- Withings ----------------------------------------------------------------------------------


def _withings(batch: _Batch, account: str, event: event_queue.Claimed) -> str:
    appli = event.appli
    if appli in APPLI_MEASURES:
        return _measures(batch, account, event)
    if appli in APPLI_DAILY:
        return _daily(batch, account, event, resources.get("withings", APPLI_DAILY[appli]))
    if appli in APPLI_BED:
        return _bed(batch, account, event, APPLI_BED[appli])
    if appli == APPLI_USER:
        return _user_action(batch.engine, account, event)
    log.info("events: withings notification %d of appli %s: nothing to fetch, ignored", event.id, appli)
    return _finish(batch.engine, event, "ignored", "not a category this release processes")


def _load_pages(engine: Engine, event: event_queue.Claimed, resource, pages) -> str:
    fetched = list(pages)  # every request made before the one transaction that stores them
    with engine.begin() as conn:
        for page in fetched:
            load_page(conn, resource, page, event.user_id)
        event_queue.finish(conn, event.id, "stored", clock.utcnow())
    return "stored"


def _measures(batch: _Batch, account: str, event: event_queue.Claimed) -> str:
    # `lastupdate` lists the groups changed since then: a group measured at `startdate` (or
    # back-dated to it) changed at or after it. Without a start, the day before it arrived.
    since = event.startdate or int((event.received_at - timedelta(days=1)).timestamp())
    resource = resources.get("withings", "measures")
    pages = batch.client(account, "withings").iter_measure_pages(
        resource.path, lastupdate=since - 1, scope=resource.scope, what=resource.what
    )
    return _load_pages(batch.engine, event, resource, pages)


def event_days(startdate: int | None, enddate: int | None, received_at: datetime) -> tuple[date, date]:
    """The days (as `startdateymd`/`enddateymd`) an event's window spans in any time zone: the
    window's UTC days hold its local ones, since a local day is at most 14 h off its UTC day."""
    first = startdate if startdate is not None else int(received_at.timestamp())
    last = enddate if enddate is not None and enddate >= first else first
    to_day = lambda unix: datetime.fromtimestamp(unix, timezone.utc).date()  # noqa: E731
    return to_day(first), to_day(last)


def _daily(batch: _Batch, account: str, event: event_queue.Claimed, resource) -> str:
    first, last = event_days(event.startdate, event.enddate, event.received_at)
    params = {"startdateymd": first.isoformat(), "enddateymd": last.isoformat()}
    if resource.data_fields:
        params["data_fields"] = ",".join(resource.data_fields)
    pages = batch.client(account, "withings").iter_action_pages(
        resource.path, resource.action, params, resource.records_key, scope=resource.scope, what=resource.what
    )
    return _load_pages(batch.engine, event, resource, pages)


def _event_time(event: event_queue.Claimed) -> datetime:
    """When the person got in or out of bed: the notification's `date` (unix seconds), else its start."""
    stamp = event.payload.get("date")
    if isinstance(stamp, str) and stamp.isdigit():
        return datetime.fromtimestamp(int(stamp), timezone.utc)
    if event.startdate is not None:
        return datetime.fromtimestamp(event.startdate, timezone.utc)
    return event.received_at


def _bed(batch: _Batch, account: str, event: event_queue.Claimed, in_bed: bool) -> str:
    at, outcome = _event_time(event), "in_bed" if in_bed else "out_of_bed"
    with batch.engine.begin() as conn:
        event_queue.record_bed(conn, event.user_id, in_bed, at, event.received_at, event.id)
        event_queue.finish(conn, event.id, outcome, clock.utcnow())
    batch.beds.append((account, in_bed, at))
    return outcome


def _user_action(engine: Engine, account: str, event: event_queue.Claimed) -> str:
    """appli 46: an unlink means the token is dead; every Withings resource says re-connect, as
    after a refused refresh (`status --check` exits 3 and names the command)."""
    action = event.payload.get("action")
    if action not in UNLINK_ACTIONS:
        log.info("events: withings user action %.32s (event %d): nothing to do, ignored", action, event.id)
        return _finish(engine, event, "ignored", "not an unlink")
    error = ReconnectRequired("withings", "the user unlinked this app from their Withings account", account)
    now = clock.utcnow()
    with engine.begin() as conn:
        for resource in resources.of_source("withings"):
            record_sync_failure(conn, "withings", resource.name, event.user_id, str(error), now)
        event_queue.finish(conn, event.id, "reconnect", now)
    log.warning("events: %s", error)
    return "reconnect"


def requeue_quarantined(conn: Connection, item_ids: list[int]) -> int:
    """`quarantine retry ID` of quarantined events: each event is due again with its attempts from
    zero, and leaves the quarantine (a new failure brings it back). How many were queued."""
    table = models.quarantine
    items = conn.execute(
        select(table.c.id, table.c.record_key).where(table.c.id.in_(item_ids), table.c.resource == QUARANTINE_RESOURCE)
    ).all()
    event_ids = [int(key.split("=", 1)[1]) for _id, key in items if key and key.startswith("event=")]
    queued = event_queue.requeue(conn, event_ids)
    conn.execute(delete(table).where(table.c.id.in_([item.id for item in items])))
    return queued


# ---- running it ----------------------------------------------------------------------------------


@contextmanager
def processing(settings, engine: Engine, *, name: str = "events") -> Iterator[Processor]:
    """A Processor on daemon threads of its own, one per provider, while the block runs (serve,
    watch, worker)."""
    processor = Processor(settings, engine)
    stop = threading.Event()
    threads = [
        threading.Thread(target=processor.run, args=(stop, provider), name=f"{name}-{provider}", daemon=True)
        for provider in PROVIDERS
    ]
    for thread in threads:
        thread.start()
    try:
        yield processor
    finally:
        stop.set()
        processor.wake()
        for thread in threads:
            thread.join(10)
