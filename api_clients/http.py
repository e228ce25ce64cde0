"""Shared HTTP plumbing: timeouts, bounded retries with backoff and jitter, rate-limit pacing."""
from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from typing import Callable

import requests

from api_clients.errors import RateLimited, TransientError

log = logging.getLogger(__name__)
RETRY_STATUSES = {500, 502, 503, 504}
DEFAULT_RESET_SECONDS = 60.0


class RateLimiter:
    """At most `per_minute` requests in any 60 s, shared by every thread of one client.

    The server's own view wins when it says less is left: `X-RateLimit-Remaining` 0 blocks
    everyone until `X-RateLimit-Reset` (api_facts.md §1.5).
    """

    ANNOUNCE_SECONDS = 5.0  # a wait this long is logged once, so a long backfill never looks stuck

    def __init__(self, per_minute: int, clock: Callable[[], float], sleep: Callable[[float], None],
                 name: str = "api"):
        self.per_minute, self.name = per_minute, name
        self.clock, self.sleep = clock, sleep
        self._sent: deque[float] = deque()
        self._blocked_until = 0.0
        self._announced_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a slot; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                while self._sent and now - self._sent[0] >= 60:
                    self._sent.popleft()
                delay = max(self._blocked_until - now,
                            60 - (now - self._sent[0]) if len(self._sent) >= self.per_minute else 0)
                if delay <= 0:
                    self._sent.append(now)
                    return waited
                if delay >= self.ANNOUNCE_SECONDS and now >= self._announced_until:
                    self._announced_until = now + delay  # one line per wait, not one per thread
                    log.info("%s: rate limit (%d requests/minute): waiting %.0fs", self.name,
                             self.per_minute, delay)
            self.sleep(delay)
            waited += delay

    def server_says(self, remaining: str | None, reset: str | None) -> None:
        """Adopt the server's remaining/reset headers when it has less left than we think."""
        try:
            left, reset_s = int(remaining), float(reset or DEFAULT_RESET_SECONDS)
        except (TypeError, ValueError):
            return
        if left <= 0:
            with self._lock:
                self._blocked_until = max(self._blocked_until, self.clock() + reset_s)


class HttpClient:
    """requests with a timeout on every call, retries on 5xx and dropped connections, 429 waits."""

    def __init__(self, provider: str, *, timeout: float = 30.0, per_minute: int = 100, max_retries: int = 5,
                 max_wait: float = 600.0, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self.provider = provider
        self.timeout, self.max_retries, self.max_wait = timeout, max_retries, max_wait
        self.sleep, self.clock = sleep, clock
        self.limiter = RateLimiter(per_minute, clock, sleep, provider)
        self._shared_session = session
        self._local = threading.local()  # a requests.Session is not thread-safe: one per thread

    def _session(self) -> requests.Session:
        if self._shared_session is not None:
            return self._shared_session
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
            self._local.session.headers["User-Agent"] = "whoop-data-platform/1.1.1"
        return self._local.session

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter: 1, 2, 4, 8 ... s (capped at 60 s)."""
        return random.uniform(0.5, 1.0) * min(60.0, 2.0 ** attempt)

    def request(self, method: str, url: str, **kwargs) -> requests.Response:
        """One logical request; retried on transient failures within the wait budget."""
        waited, attempt = 0.0, 0
        while True:
            waited += self.limiter.acquire()
            try:
                response = self._session().request(method, url, timeout=self.timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                reason, delay = f"{type(exc).__name__} on {_path(url)}", self.backoff(attempt)
            else:
                self.limiter.server_says(response.headers.get("X-RateLimit-Remaining"),
                                         response.headers.get("X-RateLimit-Reset"))
                if response.status_code == 429:
                    reason = f"HTTP 429 on {_path(url)}"
                    delay = _reset_seconds(response) + random.uniform(0, 1)
                    attempt -= 1  # waiting out a rate limit is not a failed attempt
                elif response.status_code in RETRY_STATUSES:
                    reason, delay = f"HTTP {response.status_code} on {_path(url)}", self.backoff(attempt)
                else:
                    return response
            attempt += 1
            if attempt > self.max_retries or waited + delay > self.max_wait:
                error = RateLimited if reason.startswith("HTTP 429") else TransientError
                raise error(self.provider, f"{reason}; gave up after {attempt} attempts and {waited:.0f}s")
            log.warning("%s: %s; retrying in %.1fs", self.provider, reason, delay)
            self.sleep(delay)
            waited += delay


def _reset_seconds(response: requests.Response) -> float:
    # WHOOP documents X-RateLimit-Reset (seconds to the window's reset), not Retry-After (§1.5).
    for header in ("X-RateLimit-Reset", "Retry-After"):
        try:
            return max(0.0, float(response.headers[header]))
        except (KeyError, ValueError):
            continue
    return DEFAULT_RESET_SECONDS


def _path(url: str) -> str:
    """The URL without its query (queries can carry codes; logs must not)."""
    return url.split("?", 1)[0]
