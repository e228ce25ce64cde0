"""`python etl.py watch`: keep syncing until stopped, with cheap polls often and the full lookback now and then.

One process, one engine and one client per provider and account for its whole life, so start-up
is paid once and each provider's per-minute rate limiter spans every cycle. Each account's cycle
takes the locks any run of that account takes (sync/lock.py: the lock file on SQLite, the
account's advisory lock on PostgreSQL), so a cron run and `watch` never write one account at
once, while on PostgreSQL the accounts' cycles overlap (one thread per account).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from api_clients.errors import classify_error
from api_clients.providers import client_class
from configuration import clock
from configuration.accounts import DEFAULT_ACCOUNT
from configuration.exits import EXIT_FAILED, EXIT_OK, EXIT_RECONNECT
from sync import hooks, resources
from sync.budget import give_back_unused
from sync.cadence import EVENT_REQUESTS_PER_DAY, PUSH_RECHECK_SECONDS, SWEEP_SECONDS, Timing
from sync.events import processing
from sync.healthcheck import Pinger, run_summary
from sync.lock import RunLocked, account_lock, process_lock
from sync.plan import open_client, resource_jobs
from sync.runner import Runner

log = logging.getLogger("etl.watch")

# Each client class holds its provider's limits (rate a minute, daily budget, token lifetime).
# Withings documents no daily figure, so its poll stays far below its per-minute rate x 1,440.
HEADROOM = 0.5  # watch never plans more than half a daily limit: runs, `connect` and retries share it
LOCK_WAIT_SECONDS = 30.0  # a cron run holding the lock: wait this long, else skip this cycle


@dataclass(frozen=True)
class Schedule:
    """How often each provider is polled and the reconciliation interval.

    A poll reads only what changes within minutes (the declarations' `poll_lookback`): Withings'
    `lastupdate` cursor (one request), WHOOP's recovery and sleep scores. The rest waits for the
    reconciliation."""

    poll_seconds: dict[str, float] = field(
        default_factory=lambda: {source: client_class(source).poll_seconds for source in resources.SOURCES}
    )
    reconcile_seconds: float = 6 * 3600.0

    def requests_per_day(self, source: str, push: bool = False) -> int:
        """Planned requests a day: one page per polled resource, per declared resource on reconciling,
        plus one token refresh per token lifetime (a busy lookback can add pages; the rate limiters
        still hold). With `push` live: the daily sweep and what the events fetch (sync/cadence.py)."""
        if push:
            sweeps = 86_400 / max(self.reconcile_seconds, SWEEP_SECONDS) * len(resources.of_source(source))
            return round(sweeps + EVENT_REQUESTS_PER_DAY[source])
        polls = 86_400 / self.poll_seconds[source] * len(resources.polled(source))
        reconciles = 86_400 / self.reconcile_seconds * len(resources.of_source(source))
        refreshes = timedelta(days=1) / client_class(source).token_lifetime
        return round(polls + reconciles + refreshes)


def check_budget(schedule: Schedule, sources, accounts: int = 1, push=()) -> list[str]:
    """One line per provider: requests a day it will use for `accounts` accounts (a daily limit is
    the app's, shared by all); ValueError when over a daily limit's headroom. A provider in `push`
    is planned at its push cost: should its push fall silent, polling comes back under the daily
    budget every process shares (sync/budget.py), which defers runs rather than overrun the limit."""
    lines = []
    for source in sources:
        client = client_class(source)
        pushed = source in push
        planned, limit = schedule.requests_per_day(source, pushed) * accounts, client.daily_limit
        if limit is not None and planned > limit * HEADROOM:
            raise ValueError(
                f"{source}: {planned:,} requests a day planned, over half its daily limit of {limit:,}: poll less often"
            )
        allowed = f"limit {limit:,}/day" if limit else f"no daily limit documented; {client.requests_per_minute}/min"
        many = f" for {accounts} accounts" if accounts != 1 else ""
        pace = (
            f"polls every {schedule.poll_seconds[source]:g} s, reconciles every {schedule.reconcile_seconds / 3600:g} h"
        )
        if pushed:
            polling = schedule.requests_per_day(source) * accounts
            pace = (
                f"push relied on (PUSH_PROVIDERS): while an account's events come, no polls and a sweep every "
                f"{SWEEP_SECONDS / 3600:g} h; without them {pace} ({polling:,} a day)"
            )
        lines.append(f"{source}: about {planned:,} requests a day{many} ({allowed}); {pace}")
    return lines


@contextmanager
def stop_on_signals(stop: threading.Event):
    """SIGTERM and SIGINT set `stop`; the runner finishes the page in hand and returns."""
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class Watcher:
    """One account's loop: whatever poll or reconciliation is due, each cycle under the account's
    locks, until `stop`."""

    def __init__(
        self,
        settings,
        engine,
        schedule: Schedule,
        stop: threading.Event,
        *,
        max_cycles: int | None = None,
        pinger: Pinger | None = None,
        account: tuple[str, int | None] = (DEFAULT_ACCOUNT, None),
        named: bool = False,
    ):
        from storage.tokens import DbTokenStore
        from sync.report import Reporter

        # (name, id); the id is None only for a database with no account row (the lock is then the file's).
        self.account, self.account_id = account
        self.named = named  # several accounts: each log line names its own
        self.settings, self.engine, self.store = settings, engine, DbTokenStore(engine, self.account)
        self.schedule, self.stop, self.max_cycles = schedule, stop, max_cycles
        self.pinger = pinger or Pinger(None)
        self.reporter = Reporter(interactive=False, quiet=True)  # failures only; one line per cycle here
        self.clients: dict[str, tuple] = {}
        self.reconnect = False
        self._was_live: dict[str, bool] = {}

    def open(self, sources) -> None:
        """One client per provider for the whole watch; a provider that cannot start is logged and left out."""
        for source in sources:
            try:
                self.clients[source] = open_client(self.settings, self.store, source, self.engine)
            except Exception as exc:
                message, reconnect = classify_error(exc, self.account)
                self.reconnect |= reconnect
                log.error("watch: %s cannot start%s: %s", source, self._whose(), message)

    def run(self) -> int:
        """Cycle until stopped; 0 after a signal, 3 once every provider needs re-connecting."""
        timing, cycles = Timing(self.schedule), 0
        recheck = PUSH_RECHECK_SECONDS if self.settings.push_providers else None
        while self.clients and not self.stop.is_set():
            now, live = time.monotonic(), self._push_live()
            due = timing.due(self.clients, live, now)
            if due is not None and self._cycle(self._plan(*due), due[0]):
                timing.ran(*due, now)
                cycles += 1
                if self.max_cycles is not None and cycles >= self.max_cycles:
                    break
            self.stop.wait(timing.wait(self.clients, live, time.monotonic(), recheck))
        if not self.clients:
            return EXIT_RECONNECT if self.reconnect else EXIT_FAILED
        return EXIT_OK

    def _plan(self, kind: str, sources) -> dict:
        """The resources of a cycle: every declared one over the lookback, or the polled ones."""
        if kind == "reconcile":
            lookback = timedelta(days=self.settings.lookback_days)
            return {s: [(r, lookback) for r in resources.of_source(s)] for s in sources}
        return {s: [(r, r.poll_lookback) for r in resources.polled(s)] for s in sources}

    def _push_live(self) -> dict[str, bool]:
        """source -> whether its push is relied on and its last event for this account is recent."""
        if not self.settings.push_providers:
            return {}
        from sqlalchemy.exc import SQLAlchemyError

        from configuration.push import push_live
        from storage.subscriptions import last_events

        try:
            with self.engine.connect() as conn:
                last = last_events(conn, self.account_id)
        except SQLAlchemyError as exc:  # the database is away for a moment: keep the last answer
            log.warning("watch: cannot read the last push events%s: %s", self._whose(), type(exc).__name__)
            return dict(self._was_live)
        now = clock.utcnow()
        live = {s: push_live(s, self.settings, last.get(s), now) for s in self.clients}
        for source, is_live in live.items():
            if is_live != self._was_live.get(source, False):
                state = "live: polls stop, a sweep a day" if is_live else "not live: polling as usual"
                log.info("watch: %s push %s%s", source, state, self._whose())
        self._was_live = live
        return live

    def _cycle(self, plan: dict, kind: str) -> bool:
        """One run of the planned resources under the run lock; False when another run holds it."""
        started = time.monotonic()
        try:
            with self._locks():
                if kind == "reconcile":
                    self.pinger.start()
                jobs, now = [], clock.utcnow()
                for source, planned in plan.items():
                    client, user_id = self.clients[source]
                    for resource, lookback in planned:
                        jobs += resource_jobs(self.engine, client, user_id, (resource,), now=now, lookback=lookback)
                runner = Runner(
                    self.engine,
                    self.reporter,
                    stop=self.stop,
                    max_fetchers=self.settings.fetch_concurrency or None,
                    account=self.account,
                )
                try:
                    results = runner.run(jobs)
                finally:  # between cycles another process may sync: it finds no slot held for nothing
                    give_back_unused(client for client, _user in self.clients.values())
        except RunLocked:
            log.info("watch: another run holds the lock%s; trying again shortly", self._whose())
            time.sleep(1.0)
            return False
        self._log(kind, results, time.monotonic() - started)
        # One ping per reconciliation, none per poll: a monitor's period is then the reconcile
        # interval (6 h by default), not 90 s. A cycle cut short by a stop signal reports nothing.
        if kind == "reconcile" and not self.stop.is_set():
            failed = any(r.status not in ("ok", "skipped", "deferred") for r in results)
            self.pinger.finish(EXIT_FAILED if failed else EXIT_OK, run_summary(results))
        # Home Assistant hears of every reconciliation, and of a poll that brought something new.
        if kind == "reconcile" or any(r.counts.inserted or r.counts.updated for r in results):
            hooks.account_synced(self.engine, self.account)
        if kind == "reconcile" and "withings" in plan and "withings" in self.settings.push_providers:
            self._relist_subscriptions()
        return True

    def _relist_subscriptions(self) -> None:
        """Store the account's Withings subscriptions as listed now; a failure is one warning."""
        from sync.subscriptions import relist

        try:
            relist(self.engine, self.clients["withings"][0], self.account_id, self.settings.withings_webhook_secret)
        except Exception as exc:  # the sweep's data is committed; the next sweep lists again
            log.warning("watch: withings subscriptions not listed%s: %s", self._whose(), classify_error(exc)[0])

    @contextmanager
    def _locks(self):
        """SQLite: the database's lock file (one process writes at a time, as any run). PostgreSQL:
        the account's lock (a run of another account, or another account's cycle, goes on)."""
        with process_lock(self.engine, LOCK_WAIT_SECONDS):
            if self.account_id is None:
                yield
                return
            with account_lock(self.engine, self.account_id, LOCK_WAIT_SECONDS, name=self.account):
                yield

    def _whose(self) -> str:
        return f" (account {self.account})" if self.named else ""

    def _log(self, kind: str, results: list, seconds: float) -> None:
        for result in results:
            if result.reconnect and result.source in self.clients:
                self.reconnect = True
                log.error("watch: %s stops until re-connected%s: %s", result.source, self._whose(), result.error)
                del self.clients[result.source]
        changed = [
            f"{r.source} {r.resource} +{r.counts.inserted}/~{r.counts.updated}"
            for r in results
            if r.counts.inserted or r.counts.updated
        ]
        log.info(
            "watch: %s of %s%s in %.1fs: %s",
            kind,
            ", ".join(sorted({r.source for r in results})),
            self._whose(),
            seconds,
            ", ".join(changed) or "no change",
        )


def watched_accounts(engine, settings, names=()) -> list[tuple[str, int | None]]:
    """(name, id) of the accounts to watch, as the account policy decides (UnknownAccount for a
    name that does not exist); the id is None for a database with no account yet."""
    from storage import account_policy

    with engine.connect() as conn:
        return [(scope.name, scope.id) for scope in account_policy.to_watch(conn, names, settings=settings)]


def run_watch(
    settings,
    engine,
    sources,
    schedule: Schedule,
    *,
    echo=print,
    max_cycles=None,
    pinger: Pinger | None = None,
    accounts=(),
) -> int:
    """`etl.py watch`: print the budget, open the clients once, cycle until SIGTERM/SIGINT (exit 0).

    One loop per account, each in a thread of its own; one account that must re-connect stops
    alone, and the watch exits non-zero only once every account has stopped."""
    chosen = watched_accounts(engine, settings, accounts)
    for line in check_budget(schedule, sources, len(chosen), settings.push_providers):
        echo(f"watch: {line}")
    named = len(chosen) > 1 or chosen[0][0] != DEFAULT_ACCOUNT
    stop = threading.Event()
    # signals reach the main thread only: it waits for the others
    # Pushed events (serve stores them) are processed on a thread beside the polls.
    with stop_on_signals(stop), hooks.listening(settings, engine, long_lived=True), processing(settings, engine):
        watchers = [
            Watcher(
                settings,
                engine,
                schedule,
                stop,
                max_cycles=max_cycles,
                pinger=pinger,
                account=(name, account_id),
                named=named,
            )
            for name, account_id in chosen
        ]
        for watcher in watchers:
            watcher.open(sources)
        codes = _run_all(watchers, stop)
    log.info("watch: stopped")
    return max(codes) if all(codes) else EXIT_OK


def _run_all(watchers: list[Watcher], stop: threading.Event) -> list[int]:
    """Each watcher's exit code; one watcher runs in this thread, several in threads of their own."""
    if len(watchers) == 1:
        return [watchers[0].run()]
    codes = [0] * len(watchers)

    def run(index: int) -> None:
        codes[index] = watchers[index].run()

    threads = [threading.Thread(target=run, args=(i,), name=f"watch-{w.account}") for i, w in enumerate(watchers)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        # join() with a timeout: the main thread stays free to run the signal handlers.
        for thread in threads:
            thread.join(timeout=0.5)
    return codes
