"""`whoop-etl worker`: on PostgreSQL, claim the next due account, sync it, release it, repeat.

Any number of workers on any number of hosts share one database (docs/SCALE.md):
- an account is due when its `due_at` is NULL or past (which accounts a worker may claim at
  all is `storage.account_policy.to_work_on`'s answer); a worker reads the first due ones and
  claims the first whose advisory lock it gets (`sync.lock.account_lock`, taken by
  `sync.run.sync_account` itself, so a cron run, `watch` and the workers exclude each other);
- once it holds the lock it reads `due_at` again: another worker may have synced the account
  between the read and the claim, and a second sync in the same due time is skipped;
- each account's sync pings the monitor (HEALTHCHECK_URL / --ping-url) as a run does;
- `due_at` moves only after the run (`ETL_ACCOUNT_INTERVAL_MINUTES` later), never at claim
  time, so the account of a worker killed mid-run is due again as soon as its lock is gone.
The accounts of one process share one rate limiter per provider (`api_clients.http.shared_limiter`);
several processes together rely on the server's answers (429, `X-RateLimit-Remaining: 0`), which
every client already obeys.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

from sqlalchemy import select
from sqlalchemy.engine import Engine

from configuration import clock
from configuration.exits import EXIT_FAILED, EXIT_LOCKED, EXIT_OK, EXIT_RECONNECT, EXIT_USAGE
from storage import account_policy, accounts
from sync import hooks
from sync.events import processing
from sync.healthcheck import Pinger, run_summary
from sync.lock import RunLocked
from sync.report import Reporter
from sync.run import RunOptions, sync_account

log = logging.getLogger("etl")
CANDIDATES = 16  # due accounts read per claim: enough to skip the ones other workers hold
MAX_IDLE_SECONDS = 60.0  # nothing due: sleep until the earliest due_at, re-reading it at least this often
BUSY_POLL_SECONDS = 2.0  # every due account is held by another worker: try again this soon
# `--until-idle`: how many such looks before giving up on accounts that stay held (by a run that
# does not end, or by any role that took their advisory lock): about a minute.
UNTIL_IDLE_BUSY_POLLS = 30
STATUS = {EXIT_OK: "ok", EXIT_FAILED: "failed", EXIT_RECONNECT: "reconnect", EXIT_USAGE: "usage"}


class _NoLongerDue(Exception):
    """The claimed account was synced by another worker since it was read as due."""


@dataclass
class WorkerStats:
    """What one worker did, for its last line and the tests."""

    synced: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped_busy: int = 0
    busy: list[str] = field(default_factory=list)  # held by others at the last look, in claim order


def _still_due(engine: Engine, account_id: int) -> None:
    with engine.connect() as conn:
        due = conn.execute(select(accounts.ACCOUNT.c.due_at).where(accounts.ACCOUNT.c.id == account_id)).scalar()
    if due is not None and due > clock.utcnow():
        raise _NoLongerDue


class Worker:
    """The claim loop of one worker process; `stop()` (a signal handler) ends it after the account in hand."""

    def __init__(
        self,
        settings,
        engine: Engine,
        options: RunOptions,
        *,
        interval: timedelta,
        until_idle: bool = False,
        echo: Callable[[str], None] = print,
        pinger: Pinger | None = None,
    ):
        self.settings, self.engine, self.options, self.interval = settings, engine, options, interval
        self.until_idle, self.echo = until_idle, echo
        self.pinger = pinger or Pinger(None)
        self.stats = WorkerStats()
        self._stop = threading.Event()

    def stop(self, *_signal) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        # SIGTERM (systemd, docker stop) and Ctrl-C both let the account in hand finish.
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def run(self) -> int:
        """Claim and sync due accounts until stopped (or, with `until_idle`, until none is due:
        EXIT_LOCKED when due accounts stayed held by others for UNTIL_IDLE_BUSY_POLLS looks)."""
        # Pushed events are claimed like accounts: any number of workers, each event processed once.
        with hooks.listening(self.settings, self.engine, long_lived=True), processing(self.settings, self.engine):
            return self._loop()

    def _loop(self) -> int:
        busy_looks = 0
        while not self._stop.is_set():
            with self.engine.connect() as conn:
                candidates = account_policy.to_work_on(conn, clock.utcnow(), CANDIDATES, settings=self.settings)
                earliest = None if candidates else account_policy.next_due_at(conn, settings=self.settings)
            if not candidates:
                if self.until_idle:
                    break
                self._idle(earliest)
                continue
            if self._claim_and_sync(candidates):
                busy_looks = 0
                continue
            # Every due account is held by another worker: its lock may die with it, so look again soon.
            self.stats.skipped_busy += 1
            busy_looks += 1
            if self.until_idle and busy_looks >= UNTIL_IDLE_BUSY_POLLS:
                log.error(
                    "worker: still held by another process after %d looks, left for later: %s",
                    busy_looks,
                    ", ".join(self.stats.busy),
                )
                return EXIT_LOCKED
            self._stop.wait(BUSY_POLL_SECONDS)
        return EXIT_OK

    def _idle(self, earliest) -> None:
        wait = MAX_IDLE_SECONDS
        if earliest is not None:
            wait = min(wait, max((earliest - clock.utcnow()).total_seconds(), 0.0))
        self._stop.wait(max(wait, 0.1))

    def _claim_and_sync(self, candidates) -> bool:
        self.stats.busy = []
        for account_id, name in candidates:
            if self._stop.is_set():
                return True
            try:
                self._sync(account_id, name)
            except RunLocked:
                self.stats.busy.append(name)  # another worker holds it
                continue
            except _NoLongerDue:
                continue  # another worker has just synced it
            return True
        return False

    def _sync(self, account_id: int, name: str) -> None:
        started = time.monotonic()
        reporter = Reporter(interactive=False, quiet=self.options.quiet)
        try:
            outcome = sync_account(
                self.settings,
                self.engine,
                reporter,
                self.options,
                account=name,
                on_start=lambda: self._start(account_id),
                on_finish=lambda _id, outcome: self._file(account_id, outcome.exit_code, outcome.deferred_until),
            )
            code = outcome.exit_code
            detail = f"{sum(r.counts.inserted for r in outcome.results)} new"
            self.pinger.finish(code, f"account {name}: {run_summary(outcome.results)}")
        except (RunLocked, _NoLongerDue):
            raise
        except Exception as exc:  # one account's failure never stops the worker; it is filed and retried later
            log.error("account %r: %s", name, exc, exc_info=log.isEnabledFor(logging.DEBUG))
            code, detail = EXIT_FAILED, type(exc).__name__
            self._file(account_id, code)
            self.pinger.finish(code, f"account {name}: {detail}")
        (self.stats.synced if code == EXIT_OK else self.stats.failed).append(name)
        self.echo(f"{name}  {STATUS.get(code, 'failed')}  {detail}  ({time.monotonic() - started:.1f} s)")

    def _start(self, account_id: int) -> None:
        # Each account's sync is a run to the monitor, pinged as the run pings: a start once the
        # account is claimed and still due, then its outcome.
        _still_due(self.engine, account_id)
        self.pinger.start()

    def _file(self, account_id: int, code: int, deferred_until=None) -> None:
        # Under the account's lock (on_finish): a worker that takes the lock next sees the new
        # due time and skips the account, so it is synced once per due time. A run deferred by
        # the daily budget is due when the next day window opens, not sooner.
        finished = clock.utcnow()
        due = finished + self.interval
        if deferred_until is not None and deferred_until > due:
            due = deferred_until
        with self.engine.begin() as conn:
            accounts.set_outcome(conn, account_id, status=STATUS.get(code, "failed"), ran_at=finished, due_at=due)
