"""Per-client rate limiting: a token bucket per address, the number of addresses bounded."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable

DEFAULT_PER_MINUTE = 300  # WHOOP delivers every member's events from a few addresses: room for bursts
MAX_CLIENTS = 10_000  # buckets kept; the least recently seen is forgotten (it starts full again)


class RateLimiter:
    """`per_minute` requests a minute per client, in bursts of up to `per_minute`."""

    def __init__(self, per_minute: int = DEFAULT_PER_MINUTE, monotonic: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError(f"the rate limit must be at least 1 request a minute, not {per_minute}")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._monotonic = monotonic
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait_for(self, client: str) -> float:
        """0 when `client` may go on (its token is taken), else the seconds until it may."""
        now = self._monotonic()
        with self._lock:
            tokens, then = self._buckets.pop(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - then) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
            while len(self._buckets) > MAX_CLIENTS:
                self._buckets.popitem(last=False)
        return 0.0 if allowed else (1.0 - tokens) / self.rate
