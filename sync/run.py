"""One account's run: its lock, the plan of every declared resource, the runner, the summary.

The command line (`etl.py`), the menu and the workers all run an account through `run_account`,
so a cron run, `watch` and a worker sync one account the same way and never at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from api_clients.errors import classify_error
from configuration import clock
from configuration.accounts import DEFAULT_ACCOUNT
from storage import accounts
from storage.tokens import DbTokenStore
from sync import resources
from sync.lock import account_lock, process_lock
from sync.plan import source_jobs
from sync.runner import ResourceResult, Runner

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_RECONNECT, EXIT_LOCKED = 0, 1, 2, 3, 75
SOURCES = resources.SOURCES
log = logging.getLogger("etl")


@dataclass
class RunOutcome:
    """Per-resource results of one run and its exit code."""

    results: list
    exit_code: int
    skipped: list
    account: str = DEFAULT_ACCOUNT


def exit_code_for(results) -> int:
    if any(r.reconnect for r in results):
        return EXIT_RECONNECT
    # A skipped resource (a scope the user did not grant) is reported, and is not a failure.
    return EXIT_FAILED if any(r.status not in ("ok", "skipped") for r in results) else EXIT_OK


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
        except Exception as exc:
            message, reconnect = classify_error(exc)
            log.debug("%s: setup failed", source, exc_info=exc)
            failed.append(ResourceResult(source, "*", status="failed", error=message, reconnect=reconnect))
    return jobs, failed, skipped


def run_account(
    settings,
    engine: Engine,
    reporter,
    *,
    account: str = DEFAULT_ACCOUNT,
    sources=SOURCES,
    since=None,
    full: bool = False,
    dry_run: bool = False,
    wait: float = 0.0,
    max_minutes: float | None = None,
    on_start=None,
) -> RunOutcome:
    """Sync one account in a process of its own: hold the process lock (SQLite) and the account's
    lock, plan, fetch and load, report. Raises RunLocked."""
    with process_lock(engine, wait):
        return sync_account(
            settings,
            engine,
            reporter,
            account=account,
            sources=sources,
            since=since,
            full=full,
            dry_run=dry_run,
            wait=wait,
            max_minutes=max_minutes,
            on_start=on_start,
        )


def sync_account(
    settings,
    engine: Engine,
    reporter,
    *,
    account: str = DEFAULT_ACCOUNT,
    sources=SOURCES,
    since=None,
    full: bool = False,
    dry_run: bool = False,
    wait: float = 0.0,
    max_minutes: float | None = None,
    on_start=None,
) -> RunOutcome:
    """Sync one account whose process already holds `process_lock` (several accounts of one
    process overlap through this): the account's lock, plan, fetch and load, report."""
    with engine.begin() as conn:
        account_id = accounts.ensure(conn, account)
    with account_lock(engine, account_id, wait, name=account):
        if on_start is not None:
            on_start()
        jobs, failed, skipped = plan(
            settings,
            engine,
            DbTokenStore(engine, account),
            sources,
            now=clock.utcnow(),
            since=since,
            full=full,
            reporter=reporter,
        )
        for result in failed:
            reporter.resource_finished(result)
        runner = Runner(
            engine,
            reporter,
            dry_run=dry_run,
            max_fetchers=settings.fetch_concurrency or None,
            max_seconds=max_seconds(settings, max_minutes),
        )
        results = failed + runner.run(jobs)
    # Nothing configured is a configuration error (exit 2): the summary says so, not "exit 0".
    code = EXIT_USAGE if len(skipped) == len(sources) else exit_code_for(results)
    reporter.summary(results, code, dry_run)
    return RunOutcome(results, code, skipped, account)


def max_seconds(settings, max_minutes) -> float:
    return 60.0 * (max_minutes if max_minutes is not None else settings.max_minutes)
