"""Shared HTTP plumbing: total deadlines, bounded retries with backoff and jitter, shared rate limits."""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Protocol

import requests

from api_clients.deadline import Watchdog, deadline_session
from api_clients.errors import RateLimited, TransientError, format_wait
from configuration.version import __version__

log = logging.getLogger(__name__)
RETRY_STATUSES = {500, 502, 503, 504}
DEFAULT_RESET_SECONDS = 60.0  # a 429 that names no reset: wait a rate-limit minute
DEFAULT_MAX_WAIT = 300.0  # the wait budget of one request (RATE_LIMIT_MAX_WAIT_SECONDS)
DEADLINE_FACTOR = 4  # a request's total deadline, in read timeouts, unless given
MAX_RATE_WAITS = 10  # rate-limit answers one request accepts before giving up
USER_AGENT = f"whoop-data-platform/{__version__}"
TRANSPORT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


@dataclass
class Retry:
    """An attempt that should be repeated: why, and whether the server limited our rate."""

    reason: str
    rate_limited: bool = False
    wait: float | None = None  # seconds the server asked for


Check = Callable[[requests.Response], "Retry | None"]


class Budget(Protocol):
    """Request slots shared beyond this process (sync/budget.py counts them in the database).

    The client stays free of storage: it asks for a slot before every attempt and passes on
    what the server said about its limits; the budget decides how that is shared.
    """

    def take(self, per_minute: int, max_wait: float, stated: bool = True) -> float:
        """Wait for a slot (at most `max_wait` s, else RateLimited); the seconds waited.
        DailyBudgetReached when the day's budget is spent. `stated`: a server named `per_minute`
        (else it is the configured rate, and the budget may know better from another process)."""

    def exhausted(self, reset: float | None) -> None:
        """The server said a window is spent; `reset` is its wait in seconds (None: unsaid)."""


class RateLimiter:
    """At most `per_minute` requests in any 60 s, shared by every thread of one provider.

    A 429, a Withings 601 or `X-RateLimit-Remaining: 0` blocks every thread until the reset
    (docs/API_NOTES.md, WHOOP "Rate limits"); a reset beyond the wait budget fails at once.
    """

    ANNOUNCE_SECONDS = 5.0  # a wait this long is logged once, so a long backfill never looks stuck

    def __init__(
        self,
        per_minute: int,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        name: str = "api",
        max_wait: float = DEFAULT_MAX_WAIT,
    ):
        self.per_minute, self.name, self.max_wait = per_minute, name, max_wait
        self.stated = False  # whether a server has named the limit (X-RateLimit-Limit) in this process
        self.clock, self.sleep = clock, sleep
        self._sent: deque[float] = deque()
        self._blocked_until, self._blocked_by = 0.0, ""
        self._announced_until = 0.0
        self._lock = threading.Lock()

    def acquire(self, spent: float = 0.0) -> float:
        """Wait for a slot; returns the seconds waited. RateLimited when the block outlasts the budget."""
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                while self._sent and now - self._sent[0] >= 60:
                    self._sent.popleft()
                blocked = self._blocked_until - now
                if blocked > self.max_wait - spent - waited:
                    raise RateLimited(
                        self.name,
                        f"rate limit: next window in {format_wait(blocked)} "
                        f"({self._blocked_by}; waiting at most {self.max_wait:.0f} s)",
                        429,
                        retry_after=blocked,
                    )
                pace = 60 - (now - self._sent[0]) if len(self._sent) >= self.per_minute else 0
                delay = max(blocked, pace)
                if delay <= 0:
                    self._sent.append(now)
                    return waited
                if delay >= self.ANNOUNCE_SECONDS and now >= self._announced_until:
                    self._announced_until = now + delay  # one line per wait, not one per thread
                    if blocked >= pace:
                        log.info("%s: rate limit (%s): waiting %s", self.name, self._blocked_by, format_wait(delay))
                    else:
                        log.info(
                            "%s: rate limit (%d requests/minute): waiting %.0fs", self.name, self.per_minute, delay
                        )
            self.sleep(delay)
            waited += delay

    def block(self, seconds: float, reason: str) -> None:
        """Hold every thread back for `seconds` (the server said the window is spent)."""
        with self._lock:
            until = self.clock() + max(0.0, seconds)
            if until > self._blocked_until:
                self._blocked_until, self._blocked_by = until, reason

    def server_limit(self, header: str | None) -> None:
        """Pace at the per-minute limit the server states in `X-RateLimit-Limit`.

        WHOOP writes it as "100, 100;window=60, 10000;window=86400" (docs/API_NOTES.md, WHOOP
        "Rate limits"): the `window=60` entry is the per-minute quota. An app granted more, or a
        local server that allows more, is then used at the speed it announces, and one allowing
        less is never overrun. A header that cannot be read changes nothing.
        """
        stated = _per_minute(header)
        if stated is None:
            return
        self.stated = True
        if stated != self.per_minute:
            with self._lock:
                log.debug("%s: the server states %d requests/minute", self.name, stated)
                self.per_minute = stated

    def server_says(self, remaining: str | None, reset: str | None) -> None:
        """Adopt `X-RateLimit-Remaining: 0` with its `X-RateLimit-Reset` for every thread."""
        try:
            left = int(remaining)
            reset_s = float(reset) if reset not in (None, "") else DEFAULT_RESET_SECONDS
        except (TypeError, ValueError):
            return
        if left <= 0 and math.isfinite(reset_s):
            self.block(reset_s, "X-RateLimit-Remaining: 0")


_LIMITERS: dict[tuple, RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def shared_limiter(
    provider: str,
    per_minute: int,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    max_wait: float = DEFAULT_MAX_WAIT,
) -> RateLimiter:
    """The process's one limiter of `provider`: the limit is the app's, not a client's, so every
    client of the process (each account has its own) takes its slots from the same window. Keyed
    by the clock and the sleep too, so a test's fake clock gets a limiter of its own."""
    key = (provider, clock, sleep)
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(key)
        if limiter is None:
            limiter = _LIMITERS[key] = RateLimiter(per_minute, clock, sleep, provider, max_wait)
        else:  # the latest client's settings win (one process has one configuration)
            limiter.per_minute, limiter.max_wait = per_minute, max_wait
        return limiter


def reset_limiters() -> None:
    """Forget every shared limiter (tests: each starts with empty windows)."""
    with _LIMITERS_LOCK:
        _LIMITERS.clear()


class HttpClient:
    """requests with a total deadline per call, retries on 5xx and dropped connections, shared rate limits."""

    def __init__(
        self,
        provider: str,
        *,
        timeout: float = 30.0,
        per_minute: int = 100,
        max_retries: int = 5,
        max_wait: float = DEFAULT_MAX_WAIT,
        deadline: float | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        budget: Budget | None = None,
    ):
        self.provider = provider
        self.budget = budget  # None: this process's limiter alone paces
        self.timeout, self.max_retries, self.max_wait = timeout, max_retries, max_wait
        self.deadline = deadline or timeout * DEADLINE_FACTOR
        self.sleep, self.clock = sleep, clock
        self.limiter = shared_limiter(provider, per_minute, clock, sleep, max_wait)
        self._shared_session = session
        self._local = threading.local()  # a requests.Session is not thread-safe: one per thread

    def _session(self) -> requests.Session:
        if self._shared_session is not None:
            return self._shared_session
        if not hasattr(self._local, "session"):
            self._local.session = deadline_session(USER_AGENT)
        return self._local.session

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter: 1, 2, 4, 8 ... s (capped at 60 s)."""
        return random.uniform(0.5, 1.0) * min(60.0, 2.0**attempt)

    def request(self, method: str, url: str, *, check: Check | None = None, **kwargs) -> requests.Response:
        """One logical request, retried within the budgets; `check` may ask to retry a 200 (Withings)."""
        waited, failures, rate_waits = 0.0, 0, 0
        while True:
            if self.budget is not None:  # the app's limits, shared with every process using the database
                waited += self.budget.take(self.limiter.per_minute, self.max_wait - waited, self.limiter.stated)
            waited += self.limiter.acquire(spent=waited)
            outcome = self._attempt(method, url, check, kwargs)
            if isinstance(outcome, requests.Response):
                return outcome
            if outcome.rate_limited:
                rate_waits += 1
                if rate_waits > MAX_RATE_WAITS:
                    raise RateLimited(self.provider, f"{outcome.reason}; still limited after {rate_waits} waits")
                if self.budget is not None:
                    self.budget.exhausted(outcome.wait)
                wait = max(1.0, DEFAULT_RESET_SECONDS if outcome.wait is None else outcome.wait)
                log.warning(
                    "%s: %s; every %s request waits %s", self.provider, outcome.reason, self.provider, format_wait(wait)
                )
                self.limiter.block(wait + random.uniform(0, 1), outcome.reason)
                continue
            delay = self.backoff(failures)
            failures += 1
            if failures > self.max_retries or waited + delay > self.max_wait:
                raise TransientError(
                    self.provider, f"{outcome.reason}; gave up after {failures} attempts and {waited:.0f} s"
                )
            log.warning("%s: %s; retrying in %.1f s", self.provider, outcome.reason, delay)
            self.sleep(delay)
            waited += delay

    def _attempt(self, method: str, url: str, check: Check | None, kwargs: dict) -> requests.Response | Retry:
        watchdog = Watchdog(self.deadline)
        try:
            with watchdog:
                response = self._session().request(method, url, timeout=self.timeout, **kwargs)
        except TRANSPORT_ERRORS as exc:
            if watchdog.fired:
                return Retry(f"no complete answer within the {self.deadline:.0f} s deadline on {_path(url)}")
            return Retry(f"{type(exc).__name__} on {_path(url)}")
        self.limiter.server_limit(response.headers.get("X-RateLimit-Limit"))
        remaining, reset = response.headers.get("X-RateLimit-Remaining"), response.headers.get("X-RateLimit-Reset")
        self.limiter.server_says(remaining, reset)
        if self.budget is not None and response.status_code != 429:
            _spent_beyond_the_minute(self.budget, remaining, reset)
        if response.status_code == 429:
            return Retry(f"HTTP 429 on {_path(url)}", rate_limited=True, wait=_reset_seconds(response))
        if response.status_code in RETRY_STATUSES:
            return Retry(f"HTTP {response.status_code} on {_path(url)}")
        return (check(response) if check else None) or response


def _spent_beyond_the_minute(budget: Budget, remaining: str | None, reset: str | None) -> None:
    # No request left until a reset beyond this minute: the daily window is spent (WHOOP's headers
    # speak of the window nearest to exhaustion, docs/API_NOTES.md, WHOOP "Rate limits").
    try:
        left, reset_s = int(remaining), float(reset)
    except (TypeError, ValueError):
        return
    if left <= 0 and math.isfinite(reset_s) and reset_s > DEFAULT_RESET_SECONDS:
        budget.exhausted(reset_s)


def _reset_seconds(response: requests.Response) -> float | None:
    # WHOOP documents X-RateLimit-Reset (seconds to the window's reset); proxies and gateways send
    # Retry-After (RFC 9110 §10.2.3, seconds or an HTTP date; only seconds are read here).
    for header in ("X-RateLimit-Reset", "Retry-After"):
        try:
            return max(0.0, float(response.headers[header]))
        except (KeyError, ValueError):
            continue
    return None


def _per_minute(header: str | None) -> int | None:
    """The per-minute quota in an `X-RateLimit-Limit` value, or None."""
    if not header:
        return None
    for entry in header.split(","):
        quota, _, params = entry.strip().partition(";")
        if params.replace(" ", "") == "window=60" and quota.strip().isdigit():
            return int(quota) or None
    return None


def _path(url: str) -> str:
    """The URL without its query (queries can carry codes; logs must not)."""
    return url.split("?", 1)[0]
