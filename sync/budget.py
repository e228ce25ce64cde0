"""The API clients' shared budget, kept in the database: every process of the install takes its
requests from one per-minute window per provider and from WHOOP's daily budget.

The clients' own limiter still paces the threads of one process; this makes processes share
(docs/SCALE.md, section 5). The windows come from `configuration.clock`, which tests control.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Callable

from sqlalchemy.engine import Engine

from api_clients.errors import DailyBudgetReached, RateLimited, format_wait
from configuration import clock
from storage import rate_budget
from storage.rate_budget import DAY, MINUTE

log = logging.getLogger(__name__)
MINUTE_SECONDS = 60.0
RESET_SLACK_SECONDS = 5.0
JITTER_SECONDS = 0.5  # processes waiting for the same minute do not all ask at its first instant


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
    ):
        self.engine, self.provider, self.label = engine, provider, label
        self.per_day, self.sleep = per_day, sleep
        self.per_minute = 0  # the last rate the client paced at: what an exhausted minute is set to

    def __repr__(self) -> str:
        return f"DbBudget({self.provider!r}, per_day={self.per_day})"

    def take(self, per_minute: int, max_wait: float) -> float:
        """Take a slot of today's budget and of this minute (waiting for the next minute when
        this one is full), both in one statement; the seconds waited."""
        self.per_minute, waited = per_minute, 0.0
        day_taken = self.per_day is None
        while True:
            now = clock.utcnow()
            budgets = {MINUTE: per_minute, **({} if day_taken else {DAY: self.per_day})}
            granted = rate_budget.take_slots(self.engine, self.provider, budgets, now)
            if not day_taken:
                if granted[DAY] is None:
                    self._day_spent(now)
                day_taken = True  # kept while this request waits for a minute slot
            if granted[MINUTE] is not None:
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

    def exhausted(self, reset: float | None) -> None:
        """The server said a window is spent: mark it spent for every process (a reset beyond a
        minute is the day's, when this provider has a daily budget; a shorter one, this minute's
        when it lasts about as long as the minute has left)."""
        now = clock.utcnow()
        if self.per_day is not None and reset is not None and reset > MINUTE_SECONDS:
            log.warning("%s: the server says the daily limit is spent; every process stops for today", self.provider)
            rate_budget.exhaust(self.engine, self.provider, DAY, now, self.per_day)
        elif self.per_minute and self._reaches_the_minutes_end(reset, now):
            rate_budget.exhaust(self.engine, self.provider, MINUTE, now, self.per_minute)

    @staticmethod
    def _reaches_the_minutes_end(reset: float | None, now) -> bool:
        # The shared minute is marked spent only as far as the server's reset reaches: a 429 that
        # resets in a second (a burst, another app's window) must not hold every process back
        # until the minute ends. The slack absorbs a few seconds of skew between the two clocks.
        left = (rate_budget.next_window(MINUTE, now) - now).total_seconds()
        return reset is None or reset + RESET_SLACK_SECONDS >= left

    def _day_spent(self, now) -> None:
        with self.engine.connect() as conn:
            used, budget = rate_budget.usage(conn, self.provider, DAY, now) or (self.per_day, self.per_day)
        raise DailyBudgetReached(self.provider, self.label, used, budget, rate_budget.next_window(DAY, now))


def db_budget(engine: Engine, provider_settings, label: str) -> DbBudget:
    """The shared budget of one provider from its settings (WHOOP: WHOOP_REQUESTS_PER_DAY)."""
    return DbBudget(engine, provider_settings.name, label, per_day=provider_settings.requests_per_day)
