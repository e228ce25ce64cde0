"""Fault injection (429, 5xx, dropped connections, Withings body errors, latency) and rate windows."""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import asdict, dataclass
from typing import Callable

FAULT_KINDS = (
    "rate_limit",
    "http_error",
    "drop",
    "withings_status",
    "latency",
    "repeat_token",
    "alternate_offset",
    "trickle",
)
RATE_LIMIT_STYLES = ("whoop", "no_remaining", "retry_after", "bare", "exhausted")


@dataclass
class FaultRule:
    """One fault for requests whose path starts with `path`.

    kind:
    - rate_limit: HTTP 429; `style` whoop (X-RateLimit-Remaining 0 and Reset=`reset`), no_remaining
      (Reset only), retry_after (Retry-After=`reset` only, as a proxy sends), bare (no header), or
      exhausted (the real answer, with Remaining 0 and Reset=`reset`, e.g. the daily 86400);
    - http_error: HTTP `status` (e.g. 503); drop: close the socket, no response;
    - withings_status: HTTP 200 with body status `status` (601/401/522/503...), and
      `wait_seconds` in the body when given (as Withings' 601 carries);
    - latency: `ms` extra before answering; trickle: the whole answer one byte every `ms`;
    - repeat_token: WHOOP pages keep naming the first next_token (paging never ends);
    - alternate_offset: Withings pages say more=1 with offsets 1, 2, 1, 2 ...
    It fires `times` times, or on each request with `probability` (seeded RNG), or on every
    request when neither is given.
    """

    kind: str
    path: str = "/"
    times: int | None = None
    probability: float | None = None
    status: int = 500
    reset: int = 1
    ms: int = 0
    style: str = "whoop"
    wait_seconds: int | None = None
    id: int = 0
    memo: str | None = None  # repeat_token: the next_token it keeps repeating; alternate_offset: a counter

    def as_dict(self) -> dict:
        """The rule as JSON-ready data."""
        return asdict(self)


class FaultInjector:
    """Holds the rules; thread-safe; the first matching rule that fires wins."""

    def __init__(self, seed: int = 0, latency_ms: int = 0) -> None:
        self.latency_ms = latency_ms
        self._rng = random.Random(f"faults:{seed}")
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._next_id = 1

    def add(self, kind: str, path: str = "/", **options) -> FaultRule:
        """Register a rule (see FaultRule for the options); returns it."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}")
        if options.get("style", "whoop") not in RATE_LIMIT_STYLES:
            raise ValueError(
                f"unknown rate_limit style {options['style']!r}; use one of {', '.join(RATE_LIMIT_STYLES)}"
            )
        with self._lock:
            rule = FaultRule(kind=kind, path=path, id=self._next_id, **options)
            self._next_id += 1
            self._rules.append(rule)
        return rule

    def reset(self) -> None:
        """Remove every rule (the global latency stays)."""
        with self._lock:
            self._rules = []

    def rules(self) -> list[dict]:
        """The active rules as dicts."""
        with self._lock:
            return [rule.as_dict() for rule in self._rules]

    def _fires(self, rule: FaultRule) -> bool:
        if rule.times is not None:
            if rule.times <= 0:
                return False
            if rule.probability is None or self._rng.random() < rule.probability:
                rule.times -= 1
                return True
            return False
        return rule.probability is None or self._rng.random() < rule.probability

    def pick(self, path: str) -> tuple[FaultRule | None, int]:
        """(the fault to apply or None, latency in ms) for one request."""
        latency, chosen = self.latency_ms, None
        with self._lock:
            for rule in self._rules:
                if not path.startswith(rule.path):
                    continue
                if rule.kind == "latency":
                    latency += rule.ms if self._fires(rule) else 0
                elif chosen is None and self._fires(rule):
                    chosen = rule
            self._rules = [r for r in self._rules if r.times is None or r.times > 0]
        return chosen, latency


class RateWindow:
    """Requests counted in fixed windows of clock time (how X-RateLimit-* are computed).

    One window serves every person of a provider: the real limits are per client app.
    """

    def __init__(self, limit: int, window: int, clock: Callable[[], float] = time.time) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._start, self._count = 0.0, 0
        self._lock = threading.Lock()

    def hit(self) -> tuple[bool, int, int]:
        """Count one request: (allowed, remaining, seconds until the window resets)."""
        with self._lock:
            now = self.clock()
            start = now - now % self.window
            if start != self._start:
                self._start, self._count = start, 0
            self._count += 1
            reset = max(1, math.ceil(start + self.window - now))
            return self._count <= self.limit, max(0, self.limit - self._count), reset
