"""Fetch resources concurrently, load them on one writer thread, advance sync_state last."""

from __future__ import annotations

import gc
import logging
import queue
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from api_clients.errors import classify_error, of_account
from api_clients.pages import Page
from db_loader import BATCH_SIZE, LoadCounts, load_page, reconcile, retry_quarantine
from storage import quarantine
from storage.engine import reading
from storage.sync_state import advance_sync_state, record_sync_deferral, record_sync_failure
from sync.budget import backfilling
from sync.resources import Resource
from sync.windows import RESUME_OVERLAP, Window

log = logging.getLogger(__name__)
QUEUE_PAGES = 16  # bounded: a fast fetcher waits for the writer, so memory stays flat
PUT_POLL_SECONDS = 0.2  # a fetcher waiting on a full queue notices a cancel this fast
THREAD_JOIN_SECONDS = 2.0  # fetchers are daemons: one stuck in a request cannot hold the exit
# Pages of one resource already queued behind each other are loaded in one transaction, up to
# one loader batch of records: on a first load the writer is the bottleneck, and a transaction
# per 25-record page cost it most of its statements (BEGIN, the lookup, the savepoint, the
# quarantine check, COMMIT) and a wait for the GIL after each.
GROUP_RECORDS = BATCH_SIZE
# The writer makes and drops some twenty containers per record (the record's dicts, its rows, the
# statement's parameters), nearly all freed at once by reference counting: at Python's default
# threshold (700) a first load ran about 300 young collections that found next to nothing to
# free, some 0.2 s of its CPU time. Cyclic garbage still gets collected, later.
RUN_GC_THRESHOLD = 20_000


@dataclass
class Job:
    """One declared resource to sync for one user, over one window, through its provider's client."""

    resource: Resource
    user_id: int
    window: Window
    client: Any
    known: Any = None  # what the resource's pages need to know of its stored rows (Resource.stored)

    @property
    def key(self) -> tuple[str, str]:
        return self.resource.key

    @property
    def source(self) -> str:
        return self.resource.source

    @property
    def name(self) -> str:
        return self.resource.name

    @property
    def backfill(self) -> bool:
        """Whether the window reaches further back than a routine run's: its requests take a backfill's share."""
        return self.window.is_backfill(self.window.end)


@dataclass
class ResourceResult:
    """The outcome of one resource in one run."""

    source: str
    resource: str
    window: Window | None = None
    counts: LoadCounts = field(default_factory=LoadCounts)
    pages: int = 0
    seconds: float = 0.0
    status: str = "running"  # ok | failed | skipped | deferred | stopped | running
    error: str | None = None
    reconnect: bool = False


def _fetch_worker(job: Job, out: queue.Queue, cancel: threading.Event, slots: threading.Semaphore) -> None:
    # A backfill's requests take a backfill's share of a daily budget; routine runs keep the rest.
    with slots, backfilling(job.backfill):
        _fetch(job, out, cancel)


def _earliest(resource, records: list, before: datetime | None) -> datetime | None:
    """The earliest time (the declaration's `reconcile_on` field) among `records` and `before`."""
    for record in records:
        value = record.get(resource.reconcile_on) if isinstance(record, dict) and resource.reconcile_on else None
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None
        except ValueError:
            when = None  # an unreadable time is the quarantine's business, not the resume point's
        if when is not None and when.tzinfo is not None and (before is None or when < before):
            before = when
    return before


def _fetch(job: Job, out: queue.Queue, cancel: threading.Event) -> None:
    # Hold each page until the next one arrives, so the writer knows which page is the last
    # and can advance sync_state in that page's transaction.
    held: Page | None = None
    try:
        newest_update: int | None = None
        earliest: datetime | None = None  # the oldest record fetched: a newest-first backfill resumes there
        seen: set = set()  # filled page by page; complete once the pages end
        listing = _read_listing(job, seen)
        pages = (
            job.resource.pages(job.client, job.window)
            if job.known is None
            else job.resource.pages(job.client, job.window, known=job.known)
        )
        for page in pages:
            if cancel.is_set():
                return
            if page.updatetime is not None:
                newest_update = max(newest_update or 0, page.updatetime)
            seen |= job.resource.keys(page.records)
            earliest = _earliest(job.resource, page.records, earliest)
            if held is not None and not _put(out, ("page", job.key, held, False), cancel):
                return
            held = page
        last = held or Page(records=[])
        last.updatetime = newest_update
        # The window was read to its end, and so was the listing: what the API lists in it, for
        # deletions. The two reads run at once, so a record created between them can be in the
        # pages and not in the listing: what the pages returned exists, and is never marked.
        listed = listing.result()
        last.listing = None if listed is None else listed | seen
        _put(out, ("page", job.key, last, True), cancel)
    except BaseException as exc:
        if getattr(exc, "defers_resource", False) and held is not None:
            # Deferred (the day's budget is spent): the resource stops at this page boundary and
            # keeps every page it fetched. Not the last page: sync_state stays behind them, and a
            # newest-first window notes where it got to, so the next run reads only what is older.
            _put(out, ("page", job.key, held, False), cancel)
            if job.resource.resumable and job.window.mode != "since" and earliest is not None:
                exc.resume = (earliest + RESUME_OVERLAP, job.window.settles or job.window.end)
        _put(out, ("error", job.key, exc, True), cancel)


def _read_listing(job: Job, seen: set) -> Future:
    """The resource's listing of its window (deletions), read on a thread of its own at once
    with its pages: a listing that asks the API again (Withings' by measure date) costs no
    extra round trip. A daemon, as the fetchers are: a stuck request cannot hold the exit."""
    future: Future = Future()

    def read() -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result(job.resource.listing(job.client, job.window, seen))
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=read, name=f"list-{job.name}", daemon=True).start()
    return future


class RunDeadline(RuntimeError):
    """The run's overall time limit passed before a resource finished."""


def _next(out: queue.Queue, deadline: float | None, stop: threading.Event | None = None):
    """The next item from the fetchers, or None once the deadline has passed or `stop` is set."""
    while stop is None or not stop.is_set():
        if deadline is None and stop is None:
            return out.get()
        remaining = float("inf") if deadline is None else deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:  # a stop request (SIGTERM) is noticed between pages, within PUT_POLL_SECONDS
            return out.get(timeout=min(remaining, PUT_POLL_SECONDS) if stop is not None else remaining)
        except queue.Empty:
            continue
    return None


def _take(out: queue.Queue, backlog: deque, deadline: float | None, stop: threading.Event | None):
    """The next item: the oldest one set aside while grouping pages, else the queue's (`_next`)."""
    if not backlog:
        return _next(out, deadline, stop)
    if (stop is not None and stop.is_set()) or (deadline is not None and time.monotonic() >= deadline):
        return None
    return backlog.popleft()


def _group(out: queue.Queue, backlog: deque, resource: Resource, page: Page, is_last: bool) -> tuple[Page, bool, int]:
    """`page` and the pages of its resource queued right behind it, as one page: (page, is_last, pages).

    Only what the queue already holds is taken (the writer never waits for a page to group), up
    to GROUP_RECORDS records, and only pages that load exactly as they would one by one: the same
    mapper context (time zone, fetch time) and no record whose API id is unreadable or already in
    the group (a record twice would be counted and quarantined differently in one batch). Items
    of other resources keep their order in `backlog`; the queue and the backlog together hold
    at most twice QUEUE_PAGES pages, so memory stays flat.
    """
    while len(backlog) < QUEUE_PAGES:
        try:
            backlog.append(out.get_nowait())
        except queue.Empty:
            break
    if is_last or not backlog:
        return page, is_last, 1
    pages, is_last = _take_followers(backlog, resource, page)
    if len(pages) == 1:
        return page, is_last, 1
    final = pages[-1]
    grouped = Page(
        records=[record for p in pages for record in p.records],
        timezone=page.timezone,
        updatetime=final.updatetime,
        more=final.more,
        offset=final.offset,
        fetched_at=page.fetched_at,
        listing=final.listing,
    )
    return grouped, is_last, len(pages)


def _take_followers(backlog: deque, resource: Resource, page: Page) -> tuple[list[Page], bool]:
    """`page` and the pages of its resource `_group` may join to it, taken out of `backlog`; and
    whether the last of them is the resource's last page."""
    pages, records, is_last = [page], len(page.records), False
    ids = _distinct_ids(resource, page)
    taken: list[int] = []
    for index, (kind, key, payload, last) in enumerate(backlog):
        if key != resource.key:
            continue
        if kind != "page" or not _groups_with(page, payload) or records + len(payload.records) > GROUP_RECORDS:
            break
        more = _distinct_ids(resource, payload)
        if ids is None or more is None or not ids.isdisjoint(more):
            break
        ids |= more
        pages.append(payload)
        records += len(payload.records)
        taken.append(index)
        if last:
            is_last = True
            break
    for index in reversed(taken):
        del backlog[index]
    return pages, is_last


def _groups_with(first: Page, other: Page) -> bool:
    return other.timezone == first.timezone and other.fetched_at == first.fetched_at


def _distinct_ids(resource: Resource, page: Page) -> set | None:
    """The API ids of a page's records, or None when one is unreadable or repeated."""
    ids = resource.keys(page.records)
    return ids if len(ids) == len(page.records) else None


def _put(out: queue.Queue, item: tuple, cancel: threading.Event) -> bool:
    """Hand an item to the writer; False when the writer gave up on this resource meanwhile."""
    while not cancel.is_set():
        try:
            out.put(item, timeout=PUT_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False


class _FewerCollections:
    """While any run goes (accounts' runs overlap in one process), the collector's young
    generation is collected every RUN_GC_THRESHOLD allocations; the last run to end restores
    the setting the first one found."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs = 0
        self._before: tuple[int, ...] = ()

    def __enter__(self) -> None:
        with self._lock:
            if self._runs == 0:
                self._before = gc.get_threshold()
                gc.set_threshold(max(self._before[0], RUN_GC_THRESHOLD), *self._before[1:])
            self._runs += 1

    def __exit__(self, *exc_info) -> None:
        with self._lock:
            self._runs -= 1
            if self._runs == 0:
                gc.set_threshold(*self._before)


_fewer_collections = _FewerCollections()


class Runner:
    """Runs jobs: one fetch thread per resource, all writes on the calling thread."""

    def __init__(
        self,
        engine: Engine,
        reporter,
        *,
        dry_run: bool = False,
        max_fetchers: int | None = None,
        max_seconds: float | None = None,
        stop: threading.Event | None = None,
        account: str | None = None,
    ):
        self.engine = engine
        self.account = account  # whose jobs: a re-connect hint names this account's own command
        self.stop = stop  # set from a signal handler: finish the page in hand, then return
        self.max_seconds = max_seconds
        self.max_fetchers = max_fetchers
        self.reporter = reporter
        self.dry_run = dry_run

    def run(self, jobs: list[Job]) -> list[ResourceResult]:
        """Fetch every job's pages concurrently and load them here, until all end or time runs out."""
        with _fewer_collections:
            return self._run(jobs)

    def _run(self, jobs: list[Job]) -> list[ResourceResult]:
        if not jobs:
            return []
        results = {job.key: ResourceResult(job.source, job.name, job.window) for job in jobs}
        by_key = {job.key: job for job in jobs}
        out: queue.Queue = queue.Queue(maxsize=QUEUE_PAGES)
        cancels = {job.key: threading.Event() for job in jobs}
        started = time.monotonic()
        deadline = None if self.max_seconds is None else started + self.max_seconds
        threads = self._start_fetchers(jobs, out, cancels)
        if not self.dry_run:  # while the first requests are out, and before any page is written
            self._retry_quarantined(jobs, results)
        self._write(out, by_key, results, cancels, started, deadline)
        for key in cancels:
            cancels[key].set()
        for thread in threads:
            thread.join(timeout=THREAD_JOIN_SECONDS)
        return [results[job.key] for job in jobs]

    def _write(
        self, out: queue.Queue, by_key: dict, results: dict, cancels: dict, started: float, deadline: float | None
    ) -> None:
        """Load the queued pages here until every resource ends, the run is stopped or time runs out."""
        pending = set(by_key)
        backlog: deque = deque()  # items taken off the queue while grouping pages, in order
        while pending:
            item = _take(out, backlog, deadline, self.stop)
            if item is None:
                self._ended_early(by_key, results, pending, started)
                break
            kind, key, payload, is_last = item
            if key not in pending:
                continue  # a failed resource's late pages
            result = results[key]
            if kind == "error":
                self._fail(by_key[key], result, payload)
            else:
                is_last = self._load_grouped(out, backlog, by_key[key], result, payload, is_last)
            if is_last or result.status == "failed":
                result.seconds = time.monotonic() - started
                cancels[key].set()
                pending.discard(key)
                self.reporter.resource_finished(result)

    def _ended_early(self, by_key: dict, results: dict, pending: set, started: float) -> None:
        if self.stop is not None and self.stop.is_set():
            for key in pending:  # committed pages stay; sync_state is untouched, no error recorded
                results[key].status = "stopped"
        else:
            self._out_of_time(by_key, results, pending, started)

    def _load_grouped(
        self, out: queue.Queue, backlog: deque, job: Job, result: ResourceResult, page: Page, is_last: bool
    ) -> bool:
        """Load `page` with the pages grouped behind it (`_group`); whether it was the resource's last."""
        page, is_last, pages = _group(out, backlog, job.resource, page, is_last)
        result.pages += pages - 1  # `pages` counts the API's pages, not the transactions
        self._load_page(job, result, page, is_last)
        if result.status == "failed":
            result.pages -= pages - 1
        return is_last

    def _retry_quarantined(self, jobs: list[Job], results: dict) -> None:
        """Retry the resources with quarantined records; one query when there are none."""
        try:
            with reading(self.engine) as conn:
                held = quarantine.waiting(conn)
        except SQLAlchemyError as exc:  # the run goes on: they stay held, and are tried next time
            log.error("could not read the quarantine: %s", str(exc).splitlines()[0])
            return
        for job in jobs:
            if job.key in held:
                self._retry_quarantine(job, results[job.key])

    def _retry_quarantine(self, job: Job, result: ResourceResult) -> None:
        """Records held back by an earlier run get another try with this release's mappers."""
        try:
            with self.engine.begin() as conn:
                counts = retry_quarantine(conn, job.resource, user_id=job.user_id)
        except SQLAlchemyError as exc:  # the run goes on: they stay held, and are tried next time
            log.error("%s %s: could not retry the quarantine: %s", job.source, job.name, str(exc).splitlines()[0])
            return
        result.counts.add(counts)
        if counts.recovered:
            log.info("%s %s: %d quarantined record(s) stored now", job.source, job.name, counts.recovered)

    def _start_fetchers(self, jobs: list[Job], out: queue.Queue, cancels: dict) -> list[threading.Thread]:
        slots = threading.Semaphore(self.max_fetchers or len(jobs))
        threads = [
            threading.Thread(
                target=_fetch_worker, args=(job, out, cancels[job.key], slots), name=f"fetch-{job.name}", daemon=True
            )
            for job in jobs
        ]
        for job in jobs:
            self.reporter.resource_started(job.source, job.name, job.window)
        for thread in threads:
            thread.start()
        return threads

    def _out_of_time(self, by_key: dict, results: dict, pending: set, started: float) -> None:
        """The run's deadline passed: every unfinished resource fails, keeping what it committed."""
        minutes = (self.max_seconds or 0) / 60
        for key in sorted(pending):
            result = results[key]
            result.seconds = time.monotonic() - started
            self._fail(
                by_key[key],
                result,
                RunDeadline(
                    f"stopped after {minutes:g} min (--max-minutes / ETL_MAX_MINUTES); committed pages "
                    f"are kept and the next run goes on from there"
                ),
            )
            self.reporter.resource_finished(result)
        pending.clear()

    def _load_page(self, job: Job, result: ResourceResult, page: Page, is_last: bool) -> None:
        try:
            with self.engine.connect() as conn:
                counts = load_page(conn, job.resource, page, job.user_id)
                if is_last:
                    counts.deleted, counts.restored = reconcile(
                        conn, job.resource, job.window, job.user_id, page.listing
                    )
                    total = LoadCounts().add(result.counts).add(counts)
                    advance_sync_state(
                        conn,
                        job.source,
                        job.name,
                        job.user_id,
                        window=job.window,
                        cursor=page.updatetime,
                        counts=total.as_dict(),
                    )
                if self.dry_run:
                    conn.rollback()
                else:
                    conn.commit()
        except SQLAlchemyError as exc:
            self._fail(job, result, exc)
            return
        result.counts.add(counts)
        result.pages += 1
        if is_last:
            result.status = "ok"
        self.reporter.page_loaded(result, len(page.records), page.records)

    def _fail(self, job: Job, result: ResourceResult, exc: BaseException) -> None:
        exc = of_account(exc, self.account)
        message, reconnect = classify_error(exc)
        if getattr(exc, "skips_resource", False):  # e.g. a scope the user did not grant: not a failure
            # In the declaration's words: the client raised it with the declaration's `what`.
            result.status, result.error = "skipped", str(exc).splitlines()[0]
            return
        deferred = getattr(exc, "defers_resource", False)  # the day's budget is spent: not a failure
        if deferred:
            result.status, result.error = "deferred", exc.reason
        else:
            result.status, result.error, result.reconnect = "failed", message, reconnect
            log.debug("%s %s failed", job.source, job.name, exc_info=exc)
        if self.dry_run:
            return
        try:
            with self.engine.begin() as conn:
                if deferred:
                    resume = getattr(exc, "resume", None)
                    record_sync_deferral(conn, job.source, job.name, job.user_id, resume=resume)
                else:
                    record_sync_failure(conn, job.source, job.name, job.user_id, message)
        except SQLAlchemyError as db_exc:
            log.error("could not record the failure of %s %s: %s", job.source, job.name, str(db_exc).splitlines()[0])
