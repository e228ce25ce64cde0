"""One account's run: what it is asked to do (`RunOptions`), its lock, the plan of every declared
resource, the runner, the summary.

The run service (sync/service.py, behind the command line, the menu and the benchmarks) and the
workers all sync an account through `sync_account`, so a cron run and a worker sync one account
the same way and never at once.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from api_clients.errors import DailyBudgetReached, classify_error
from configuration import clock
from configuration.accounts import DEFAULT_ACCOUNT
from configuration.exits import EXIT_FAILED, EXIT_LOCKED, EXIT_OK, EXIT_RECONNECT, EXIT_USAGE
from storage import accounts, rate_budget
from storage.tokens import DbTokenStore
from sync import hooks, resources
from sync.budget import give_back_unused
from sync.lock import RunLocked, account_lock, process_lock
from sync.plan import source_jobs
from sync.probe import probe_history
from sync.runner import ResourceResult, Runner

SOURCES = resources.SOURCES
log = logging.getLogger("etl")


@dataclass(frozen=True)
class RunOptions:
    """What a run is asked to do, from the command line (or the menu, a benchmark) to `sync_account`."""

    since: datetime | None = None  # an explicit window's start; None: incremental
    full: bool = False  # the whole history again
    sources: tuple[str, ...] = SOURCES
    dry_run: bool = False  # fetch and report, write nothing
    wait: float = 0.0  # seconds to wait for another run's lock
    max_minutes: float | None = None  # None: ETL_MAX_MINUTES
    accounts: tuple[str, ...] = ()  # the accounts named; none: every account
    quiet: bool = False  # errors only
    json_output: bool = False  # one JSON document on stdout
    interactive: bool = False  # live progress (a terminal)
    ping_url: str | None = None  # a monitor to ping; None: HEALTHCHECK_URL


@dataclass
class RunOutcome:
    """Per-resource results of one run and its exit code."""

    results: list
    exit_code: int
    skipped: list
    account: str = DEFAULT_ACCOUNT
    busy: bool = False  # another process was syncing this account: not run, and not a failure
    # The daily request budget was spent: the deferred resources go on from this time (the next
    # day window; the account's `due_at` says the same for workers). None: nothing deferred.
    deferred_until: datetime | None = None

    @property
    def status(self) -> str:
        """One word for the account's line: ok, deferred, failed, re-connect, not configured or busy."""
        if self.busy:
            return "busy"
        if self.exit_code == EXIT_OK and self.deferred_until is not None:
            return "deferred"
        return {EXIT_OK: "ok", EXIT_RECONNECT: "re-connect", EXIT_USAGE: "not configured"}.get(self.exit_code, "failed")


# The worst account decides the exit code of a run of several, in the order one run already
# uses: usage, then re-connect, then failure, then success (docs/SCALE.md).
SEVERITY = {EXIT_OK: 0, EXIT_FAILED: 1, EXIT_RECONNECT: 2, EXIT_USAGE: 3}


def overall_exit(outcomes: list[RunOutcome]) -> int:
    """The exit code of a run of several accounts: the worst account's; a busy account counts as a
    success, and only a run whose every account was busy exits 75."""
    if outcomes and all(o.busy for o in outcomes):
        return EXIT_LOCKED
    return max((o.exit_code for o in outcomes if not o.busy), key=lambda c: SEVERITY.get(c, 1), default=EXIT_OK)


def exit_code_for(results) -> int:
    if any(r.reconnect for r in results):
        return EXIT_RECONNECT
    # A skipped resource (a scope the user did not grant) is reported, and is not a failure; nor
    # is one deferred to the next day window because the daily request budget is spent.
    return EXIT_FAILED if any(r.status not in ("ok", "skipped", "deferred") for r in results) else EXIT_OK


def plan(settings, engine, store, sources, *, now, since, full, reporter):
    """Jobs for every declared resource of each configured source; a source that cannot start is
    reported as failed (or skipped when it is not configured) and the others go on."""
    jobs, failed, skipped = [], [], []
    for source in sources:
        if not getattr(settings, source).configured:
            reason = f"{source.upper()}_CLIENT_ID / {source.upper()}_CLIENT_SECRET not set"
            skipped.append((source, reason))
            reporter.skipped(source, reason)
            continue
        try:
            jobs += source_jobs(settings, engine, store, source, now=now, since=since, full=full)
        except DailyBudgetReached as exc:  # spent before this source's first page: all of it waits
            failed.append(ResourceResult(source, "*", status="deferred", error=exc.reason))
        except Exception as exc:
            message, reconnect = classify_error(exc, getattr(store, "account", None))
            log.debug("%s: setup failed", source, exc_info=exc)
            failed.append(ResourceResult(source, "*", status="failed", error=message, reconnect=reconnect))
    return jobs, failed, skipped


def run_account(settings, engine: Engine, reporter, options: RunOptions, *, account: str, on_start=None) -> RunOutcome:
    """Sync one account in a process of its own: hold the process lock (SQLite), then
    `sync_account` (the account's lock, plan, fetch and load, report). Raises RunLocked."""
    with process_lock(engine, options.wait), hooks.listening(settings, engine):
        return sync_account(settings, engine, reporter, options, account=account, on_start=on_start)


def run_accounts(
    settings, engine: Engine, names: list[str], reporter_for, options: RunOptions, *, on_start=None
) -> list[RunOutcome]:
    """Sync several accounts side by side in this process (ETL_ACCOUNT_CONCURRENCY at once), one
    outcome each, in the order of `names`. `reporter_for(name)` gives each account its reporter.

    One process lock for them all (SQLite: RunLocked when another process runs), and each account
    under its own lock: an account another process is syncing is `busy`. Each account is its own
    job: one that fails or must re-connect never stops the others. `on_start` is called once, when
    the first account starts."""
    started = _once(on_start)

    def one(name: str) -> RunOutcome:
        reporter = reporter_for(name)
        try:
            return sync_account(settings, engine, reporter, options, account=name, on_start=started)
        except RunLocked as exc:
            log.info("%s: busy: %s", name, exc)
            return RunOutcome([], EXIT_OK, [], name, busy=True)
        except Exception as exc:  # reported as this account's failure; the others go on
            message, reconnect = classify_error(exc, name)
            log.error("%s: FAILED: %s", name, message)
            log.debug("%s: run failed", name, exc_info=exc)
            result = ResourceResult("*", "*", status="failed", error=message, reconnect=reconnect)
            return RunOutcome([result], exit_code_for([result]), [], name)

    with process_lock(engine, options.wait), hooks.listening(settings, engine):
        workers = max(1, min(settings.account_concurrency or 1, len(names)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="account") as pool:
            return list(pool.map(one, names))


def _once(callback):
    """`callback` wrapped to run at most once, whichever thread calls first."""
    if callback is None:
        return None
    lock, done = threading.Lock(), []

    def call():
        with lock:
            if not done:
                done.append(True)
                callback()

    return call


def sync_account(
    settings,
    engine: Engine,
    reporter,
    options: RunOptions,
    *,
    account: str = DEFAULT_ACCOUNT,
    on_start=None,
    on_finish=None,
) -> RunOutcome:
    """Sync one account whose process already holds `process_lock` (several accounts of one
    process overlap through this): the account's lock, plan, fetch and load, report.
    `on_start()` runs once the lock is held, `on_finish(account_id, outcome)` before it is let go;
    once it is, the open listeners (sync/hooks.py: the MQTT publisher) hear of the committed sync."""
    with engine.begin() as conn:
        account_id = accounts.ensure(conn, account)
    with account_lock(engine, account_id, options.wait, name=account):
        if on_start is not None:
            on_start()
        jobs, failed, skipped = plan(
            settings,
            engine,
            DbTokenStore(engine, account),
            options.sources,
            now=clock.utcnow(),
            since=options.since,
            full=options.full,
            reporter=reporter,
        )
        for result in failed:
            reporter.resource_finished(result)
        probe_history(reporter, jobs, clock.utcnow())
        runner = Runner(
            engine,
            reporter,
            dry_run=options.dry_run,
            max_fetchers=settings.fetch_concurrency or None,
            max_seconds=max_seconds(settings, options.max_minutes),
            account=account,
        )
        try:
            results = failed + runner.run(jobs)
        finally:
            give_back_unused(job.client for job in jobs)
        until = _defer(engine, account_id, results, options.dry_run)
        # Nothing configured is a configuration error (exit 2): the summary says so, not "exit 0".
        code = EXIT_USAGE if len(skipped) == len(options.sources) else exit_code_for(results)
        outcome = RunOutcome(results, code, skipped, account, deferred_until=until)
        if on_finish is not None:
            on_finish(account_id, outcome)  # still under the lock: a worker files the next due time
    if not options.dry_run:
        hooks.account_synced(engine, account)
    reporter.summary(results, code, options.dry_run)
    if until is not None:
        reporter.deferred(next(r.error for r in results if r.status == "deferred"))
    return outcome


def _defer(engine: Engine, account_id: int, results, dry_run: bool) -> datetime | None:
    """When a resource was deferred: the next day window, or the later reset a provider named
    when it said its own limit is spent; it becomes the account's due time."""
    deferred = {r.source for r in results if r.status == "deferred"}
    if not deferred:
        return None
    now = clock.utcnow()
    until = rate_budget.next_window(rate_budget.DAY, now)
    with engine.begin() as conn:
        said = [rate_budget.server_said(conn, source, now) for source in deferred]
        until = max([until, *(reset for reset, _used in filter(None, said))])
        if not dry_run:
            accounts.defer(conn, account_id, until)
    return until


def max_seconds(settings, max_minutes) -> float:
    return 60.0 * (max_minutes if max_minutes is not None else settings.max_minutes)
