"""The API clients' shared budget, kept in the database: every process of the install takes its
requests from one per-minute window per provider and from WHOOP's daily budget.

The clients' own limiter still paces the threads of one process; this makes processes share
(docs/SCALE.md). The windows come from `configuration.clock`, which tests control.

On SQLite the slots are reserved in blocks and what a run did not use goes back when it ends
(`DbBudget.release`): only one process syncs a SQLite file at a time (sync/lock.py), so nobody else waits
for them, and a slot of its own per request would be a write transaction queued behind the writer's
(docs/BENCHMARKS.md has the figure). On PostgreSQL, where workers run side
by side, each request takes its own slot: a block held by one worker would starve the others.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from typing import Callable, Iterator

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from api_clients.errors import DailyBudgetReached, RateLimited, ServerLimitReached, format_wait
from configuration import clock
from storage import rate_budget
from storage.engine import reading
from storage.rate_budget import DAY, MINUTE

log = logging.getLogger(__name__)
MINUTE_SECONDS = 60.0
RESET_SLACK_SECONDS = 5.0
JITTER_SECONDS = 0.5  # processes waiting for the same minute do not all ask at its first instant
# Slots a SQLite client reserves at once: 23 reservations for a 10-year first load, one per provider a day.
SQLITE_BLOCK = 25
# The share of the day's budget a backfill may spend: the rest is kept for routine runs, so one
# account's `--full` (or a first load) never makes every other account wait for 00:00 UTC.
BACKFILL_SHARE = 0.8
_backfill = threading.local()  # whether the requests of this thread are a backfill's


@contextmanager
def backfilling(active: bool) -> Iterator[None]:
    """The requests this thread sends in the block are a backfill's (`active`) or a routine run's."""
    before = getattr(_backfill, "active", False)
    _backfill.active = active
    try:
        yield
    finally:
        _backfill.active = before


def _share() -> dict[str, float]:
    return {DAY: BACKFILL_SHARE} if getattr(_backfill, "active", False) else {}


class DbBudget:
    """`take()` before each request: a slot of the day's budget (DailyBudgetReached when it is
    spent) and of the shared minute window (waiting for the next one when it is full)."""

    def __init__(
        self,
        engine: Engine,
        provider: str,
        label: str,
        *,
        per_day: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        block: int = 1,
    ):
        self.engine, self.provider, self.label = engine, provider, label
        self.per_day, self.sleep, self.block = per_day, sleep, block
        self.per_minute = 0  # the last rate the client paced at: what an exhausted minute is set to
        # (kind, share): [window start, reserved slots not used yet] (block > 1)
        self._held: dict[tuple[str, float], list] = {}
        self._holding = threading.Lock()  # the client's threads share one reservation
        self._heard: int | None = None  # the rate a server last named to any process (_heard_rate)
        self._hearing = threading.Lock()  # the client's threads read it once between them

    def __repr__(self) -> str:
        return f"DbBudget({self.provider!r}, per_day={self.per_day})"

    def take(self, per_minute: int, max_wait: float, stated: bool = True) -> float:
        """Take a slot of today's budget and of this minute (waiting for the next minute when
        this one is full), both at once; the seconds waited. Until a server has named its limit
        to this process (`stated`), the rate another process last heard stands in for the
        configured one, so a second run never idles below the speed the first one was allowed."""
        if not stated:
            per_minute = self._heard_rate(per_minute)
        self.per_minute, waited = per_minute, 0.0
        day_taken = self.per_day is None
        while True:
            now = clock.utcnow()
            budgets = {MINUTE: per_minute, **({} if day_taken else {DAY: self.per_day})}
            granted = self._grant(budgets, now)
            if not day_taken:
                if not granted[DAY]:
                    self._day_spent(now, _share().get(DAY, 1.0))
                day_taken = True  # kept while this request waits for a minute slot
            if granted[MINUTE]:
                return waited
            delay = (rate_budget.next_window(MINUTE, now) - now).total_seconds() + random.uniform(0, JITTER_SECONDS)
            if waited + delay > max_wait:
                raise RateLimited(
                    self.provider,
                    f"the shared minute window is full; next one in {format_wait(delay)} "
                    f"(waiting at most {max_wait:.0f} s)",
                    429,
                    retry_after=delay,
                )
            if not waited:  # one line per wait, not one per retry
                log.info(
                    "%s: shared rate limit (%d requests/minute): waiting %s",
                    self.provider,
                    per_minute,
                    format_wait(delay),
                )
            self.sleep(delay)
            waited += delay

    def _heard_rate(self, configured: int) -> int:
        """The per-minute budget the latest minute window was taken with, else `configured`; read once."""
        with self._hearing:
            if self._heard is None:
                with reading(self.engine) as conn:
                    self._heard = rate_budget.latest_minute_budget(conn, self.provider) or configured
        return self._heard

    def _grant(self, budgets: dict[str, int], now) -> dict[str, bool]:
        """One slot of each window in `budgets`: {kind: granted}."""
        share = _share()
        if self.block == 1:
            taken = rate_budget.take_slots(self.engine, self.provider, budgets, now, share)
            return {kind: used is not None for kind, used in taken.items()}
        with self._holding:
            held = self._hold(budgets, now, share)
            granted = {}
            for kind in budgets:
                slots = self._held[held[kind]]
                granted[kind] = slots[1] > 0
                if granted[kind]:
                    slots[1] -= 1
            return granted

    def _hold(self, budgets: dict[str, int], now, share: dict[str, float]) -> dict[str, tuple[str, float]]:
        """Reserve a block of each window in `budgets` that holds no slot of its current window
        (the caller holds `_holding`); the keys of `_held` the windows' blocks are kept under.

        A backfill's slots and a routine run's are reserved and held apart, so that slots a
        routine request reserved are never spent past the backfill's share, and a routine block
        never takes more than the routine part of the day."""
        starts = {kind: rate_budget.window_start(kind, now) for kind in budgets}
        held = {kind: (kind, share.get(kind, 1.0)) for kind in budgets}
        wanted = {
            kind: budget
            for kind, budget in budgets.items()
            if self._held.get(held[kind], [None, 0])[0] != starts[kind] or not self._held[held[kind]][1]
        }
        if wanted:  # a slot of a window gone by was counted in that window: nothing to return
            reserved = rate_budget.reserve(self.engine, self.provider, wanted, now, self._block(wanted, share), share)
            self._held.update({held[kind]: [starts[kind], slots] for kind, slots in reserved.items()})
        return held

    def prepare(self, per_minute: int, *, routine: bool) -> None:
        """Before a run's fetch threads start: read the rate another process last heard and, on
        SQLite, reserve a routine run's first block (`routine`: the run has routine requests).
        The first requests then go out without a transaction on every thread, where each one
        would queue for SQLite's write lock and for the interpreter's behind the others."""
        per_minute = self._heard_rate(per_minute)
        if routine and self.block > 1:
            budgets = {MINUTE: per_minute, **({} if self.per_day is None else {DAY: self.per_day})}
            with self._holding:
                self._hold(budgets, clock.utcnow(), {})

    def _block(self, wanted: dict[str, int], share: dict[str, float]) -> int:
        """How many slots to reserve at once: a routine block of the day stays within the part of
        the day a backfill leaves (so a small budget is not all reserved by one routine request)."""
        if DAY in wanted and DAY not in share:
            return max(1, min(self.block, int(wanted[DAY] * (1 - BACKFILL_SHARE))))
        return self.block

    def release(self) -> None:
        """Give back the reserved slots nobody used (the run has ended); the next request reserves anew."""
        with self._holding:
            now = clock.utcnow()
            unused: dict[str, tuple] = {}
            for (kind, _share_of), (start, slots) in self._held.items():
                if slots and start == rate_budget.window_start(kind, now):
                    unused[kind] = (start, unused.get(kind, (start, 0))[1] + slots)
            self._held.clear()
        if unused:
            rate_budget.give_back(self.engine, self.provider, unused)

    def exhausted(self, reset: float | None) -> None:
        """The server said a window is spent: mark it spent for every process (a reset beyond a
        minute is the day's, when this provider has a daily budget; a shorter one, this minute's
        when it lasts about as long as the minute has left)."""
        now = clock.utcnow()
        if self.per_day is not None and reset is not None and reset > MINUTE_SECONDS:
            log.warning(
                "%s: the server says its daily limit is spent until %s UTC; every process stops for today",
                self.provider,
                f"{now + timedelta(seconds=reset):%Y-%m-%d %H:%M}",
            )
            self._drop(DAY)
            rate_budget.server_spent(self.engine, self.provider, now, reset, self.per_day)
        elif self.per_minute and self._reaches_the_minutes_end(reset, now):
            self._drop(MINUTE)
            rate_budget.exhaust(self.engine, self.provider, MINUTE, now, self.per_minute)

    def _drop(self, kind: str) -> None:
        # The server says the window is spent: what is still reserved in it is not used, nor given back.
        with self._holding:
            for key in [key for key in self._held if key[0] == kind]:
                del self._held[key]

    @staticmethod
    def _reaches_the_minutes_end(reset: float | None, now) -> bool:
        # The shared minute is marked spent only as far as the server's reset reaches: a 429 that
        # resets in a second (a burst, another app's window) must not hold every process back
        # until the minute ends. The slack absorbs a few seconds of skew between the two clocks.
        left = (rate_budget.next_window(MINUTE, now) - now).total_seconds()
        return reset is None or reset + RESET_SLACK_SECONDS >= left

    def _day_spent(self, now, share: float = 1.0) -> None:
        with self.engine.connect() as conn:
            used, budget = rate_budget.usage(conn, self.provider, DAY, now) or (self.per_day, self.per_day)
            said = rate_budget.server_said(conn, self.provider, now)
        if said is not None:  # the server's word, not our count: its reset, and what we really used
            raise ServerLimitReached(self.provider, self.label, used, budget, said[0])
        if share < 1:  # a backfill's share is spent; routine runs still have the rest of the day
            label, budget = f"{self.label} backfill share of the", int(min(budget, self.per_day) * share)
            raise DailyBudgetReached(self.provider, label, used, budget, rate_budget.next_window(DAY, now))
        raise DailyBudgetReached(self.provider, self.label, used, budget, rate_budget.next_window(DAY, now))


def db_budget(engine: Engine, provider_settings, label: str) -> DbBudget:
    """The shared budget of one provider from its settings (WHOOP: WHOOP_REQUESTS_PER_DAY), in
    blocks on SQLite (see the top of this module)."""
    block = SQLITE_BLOCK if engine.dialect.name == "sqlite" else 1
    return DbBudget(engine, provider_settings.name, label, per_day=provider_settings.requests_per_day, block=block)


def give_back_unused(clients) -> None:
    """At the end of a run: give back what the clients' budgets reserved and did not use. A
    failure leaves those slots counted as spent (the day is never overrun) and is logged; it never
    fails the run."""
    held = (getattr(getattr(client, "http", None), "budget", None) for client in clients)
    for budget in {id(b): b for b in held if isinstance(b, DbBudget)}.values():
        try:
            budget.release()
        except SQLAlchemyError as exc:
            log.warning("%s: could not give back unused request slots: %s", budget.provider, str(exc).splitlines()[0])
