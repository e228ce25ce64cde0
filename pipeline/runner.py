"""Fetch resources concurrently, load them on one writer thread, advance sync_state last."""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from db_loader import LoadCounts
from pipeline.windows import Window
from sync_state import advance_sync_state, record_sync_failure

log = logging.getLogger(__name__)
QUEUE_PAGES = 16  # bounded: a fast fetcher waits for the writer, so memory stays flat


@dataclass
class FetchedPage:
    """One API page: its records and, for Withings, the body's `timezone` and `updatetime`."""

    records: list
    timezone: str | None = None
    updatetime: int | None = None


@dataclass
class Job:
    """One resource of one source to sync: how to fetch its pages and how to load one."""

    source: str
    resource: str
    user_id: int
    window: Window
    fetch: Callable[[], Iterator[FetchedPage]]
    load: Callable[[Session, FetchedPage], LoadCounts]

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.resource)


@dataclass
class ResourceResult:
    """The outcome of one resource in one run."""

    source: str
    resource: str
    window: Window | None = None
    counts: LoadCounts = field(default_factory=LoadCounts)
    pages: int = 0
    seconds: float = 0.0
    status: str = "running"  # ok | failed | skipped | running
    error: str | None = None
    reconnect: bool = False


def _fetch_worker(job: Job, out: queue.Queue, cancel: threading.Event, slots: threading.Semaphore) -> None:
    with slots:
        _fetch(job, out, cancel)


def _fetch(job: Job, out: queue.Queue, cancel: threading.Event) -> None:
    # Hold each page until the next one arrives, so the writer knows which page is the last
    # and can advance sync_state in that page's transaction.
    try:
        held: FetchedPage | None = None
        newest_update: int | None = None
        for page in job.fetch():
            if cancel.is_set():
                return
            if page.updatetime is not None:
                newest_update = max(newest_update or 0, page.updatetime)
            if held is not None:
                out.put(("page", job.key, held, False))
            held = page
        last = held or FetchedPage(records=[])
        last.updatetime = newest_update
        out.put(("page", job.key, last, True))
    except BaseException as exc:  # noqa: BLE001 - handed to the writer thread, which reports it
        out.put(("error", job.key, exc, True))


class Runner:
    """Runs jobs: one fetch thread per resource, all writes on the calling thread."""

    def __init__(self, engine: Engine, reporter, *, dry_run: bool = False, max_fetchers: int | None = None,
                 classify_error: Callable[[BaseException], tuple[str, bool]] | None = None):
        self.engine = engine
        self.max_fetchers = max_fetchers
        self.reporter = reporter
        self.dry_run = dry_run
        self.classify_error = classify_error or (lambda exc: (str(exc), False))

    def run(self, jobs: list[Job]) -> list[ResourceResult]:
        results = {job.key: ResourceResult(job.source, job.resource, job.window) for job in jobs}
        if not jobs:
            return []
        out: queue.Queue = queue.Queue(maxsize=QUEUE_PAGES)
        cancels = {job.key: threading.Event() for job in jobs}
        started = {job.key: time.monotonic() for job in jobs}
        slots = threading.Semaphore(self.max_fetchers or len(jobs))
        threads = [threading.Thread(target=_fetch_worker, args=(job, out, cancels[job.key], slots),
                                    name=f"fetch-{job.resource}", daemon=True) for job in jobs]
        for job in jobs:
            self.reporter.resource_started(job.source, job.resource, job.window)
        for thread in threads:
            thread.start()
        by_key = {job.key: job for job in jobs}
        pending = set(by_key)
        while pending:
            kind, key, payload, is_last = out.get()
            if key not in pending:
                continue  # a failed resource's late pages
            result = results[key]
            if kind == "error":
                self._fail(by_key[key], result, payload)
            else:
                self._load_page(by_key[key], result, payload, is_last)
            if is_last or result.status == "failed":
                result.seconds = time.monotonic() - started[key]
                cancels[key].set()
                pending.discard(key)
                self.reporter.resource_finished(result)
        for thread in threads:
            thread.join(timeout=5)
        return [results[job.key] for job in jobs]

    def _load_page(self, job: Job, result: ResourceResult, page: FetchedPage, is_last: bool) -> None:
        try:
            with Session(self.engine) as session:
                counts = job.load(session, page)
                if is_last:
                    total = LoadCounts().add(result.counts).add(counts)
                    advance_sync_state(
                        session, job.source, job.resource, job.user_id,
                        window_start=job.window.start, window_end=job.window.end,
                        cursor=str(page.updatetime) if page.updatetime is not None else None,
                        counts=total.as_dict(),
                    )
                if self.dry_run:
                    session.rollback()
                else:
                    session.commit()
        except SQLAlchemyError as exc:
            self._fail(job, result, exc)
            return
        result.counts.add(counts)
        result.pages += 1
        if is_last:
            result.status = "ok"
        self.reporter.page_loaded(result, len(page.records))

    def _fail(self, job: Job, result: ResourceResult, exc: BaseException) -> None:
        message, reconnect = self.classify_error(exc)
        result.status, result.error, result.reconnect = "failed", message, reconnect
        log.debug("%s %s failed", job.source, job.resource, exc_info=exc)
        if self.dry_run:
            return
        try:
            with Session(self.engine) as session:
                record_sync_failure(session, job.source, job.resource, job.user_id, message)
                session.commit()
        except SQLAlchemyError as db_exc:
            log.error("could not record the failure of %s %s: %s", job.source, job.resource,
                      str(db_exc).splitlines()[0])
