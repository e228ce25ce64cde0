"""The sandbox pushes: signed WHOOP webhooks and Withings notifications to configured URLs, with faults.

Off until a target is set (`sb.push.configure(whoop_url=..., withings_url=...)`, admin `POST
/_sandbox/push`). Every admin call that changes data then delivers what changed
(sandbox/push_events.py) from a background thread, as the real services do after the fact.
A delivery that fails (WHOOP: not 2xx; Withings: 400 or above; or no answer) is retried on the
provider's schedule, each delay multiplied by `time_scale` so tests retry in milliseconds.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlencode

from .auth import WHOOP_CLIENT_SECRET
from .push_events import PushEvent

# WHOOP: "retries 5 times over about an hour" (developer.whoop.com/docs/developing/webhooks); the
# spacing is not documented, so this one is ours.
WHOOP_RETRY_DELAYS = (60.0, 120.0, 300.0, 900.0, 2400.0)
# Withings' notification overview: +10 s, +1 min, +1 h, +4 h after the first attempt.
WITHINGS_RETRY_DELAYS = (10.0, 60.0, 3600.0, 14400.0)
PUSH_FAULTS = ("duplicate", "reorder", "bad_signature", "stale_timestamp", "drop")
STALE_MS = 10 * 60 * 1000  # a stale timestamp: ten minutes old, twice the receiver's tolerance
WRONG_SECRET = "not-the-client-secret"


@dataclass
class _Delivery:
    event: PushEvent
    url: str
    fault: str | None = None
    attempt: int = 0


@dataclass
class PushFault:
    """A fault applied to the next `times` deliveries (of `provider`, or of both when None)."""

    kind: str
    times: int = 1
    provider: str | None = None

    def as_dict(self) -> dict:
        return {"kind": self.kind, "times": self.times, "provider": self.provider}


@dataclass
class Pusher:
    """Delivers events to the receivers; `log` records every attempt (and every dropped delivery)."""

    whoop_url: str | None = None
    withings_url: str | None = None
    time_scale: float = 1.0
    timeout: float = 5.0
    clock_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    log: list[dict] = field(default_factory=list)
    subscriptions: list[dict] = field(default_factory=list)  # {person, callbackurl, appli}

    def __post_init__(self) -> None:
        self._faults: list[PushFault] = []
        self._queue: list[tuple[float, int, _Delivery]] = []
        self._order = itertools.count()
        self._busy = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def enabled(self) -> bool:
        return bool(self.whoop_url or self.withings_url or self.subscriptions)

    def configure(self, whoop_url=None, withings_url=None, time_scale=None) -> dict:
        """Set the targets (an empty string turns one off) and the retry time scale."""
        with self._cond:
            if whoop_url is not None:
                self.whoop_url = whoop_url or None
            if withings_url is not None:
                self.withings_url = withings_url or None
            if time_scale is not None:
                self.time_scale = float(time_scale)
            return self.state()

    def add_fault(self, kind: str, times: int = 1, provider: str | None = None) -> PushFault:
        """Apply `kind` (PUSH_FAULTS) to the next `times` deliveries."""
        if kind not in PUSH_FAULTS:
            raise ValueError(f"unknown push fault {kind!r}; known: {', '.join(PUSH_FAULTS)}")
        fault = PushFault(kind, int(times), provider or None)
        with self._cond:
            self._faults.append(fault)
        return fault

    def state(self) -> dict:
        """Targets, pending faults, subscriptions and how many deliveries are in flight."""
        with self._cond:
            return {
                "whoop_url": self.whoop_url,
                "withings_url": self.withings_url,
                "time_scale": self.time_scale,
                "faults": [fault.as_dict() for fault in self._faults],
                "subscriptions": list(self.subscriptions),
                "pending": len(self._queue) + self._busy,
            }

    def _take_fault(self, provider: str) -> str | None:
        for fault in self._faults:
            if fault.provider in (None, provider) and fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                return fault.kind
        return None

    def _targets(self, event: PushEvent) -> list[str]:
        if event.provider == "whoop":
            return [self.whoop_url] if self.whoop_url else []
        appli = int(event.fields["appli"])
        urls = [s["callbackurl"] for s in self.subscriptions if s["person"] == event.person and s["appli"] == appli]
        return urls or ([self.withings_url] if self.withings_url else [])

    def deliver(self, events: list[PushEvent]) -> None:
        """Queue `events` for delivery now, with the faults asked for."""
        with self._cond:
            planned = [_Delivery(e, url, self._take_fault(e.provider)) for e in events for url in self._targets(e)]
            if any(d.fault == "reorder" for d in planned):
                planned.reverse()
            for delivery in planned:
                if delivery.fault == "drop":
                    self.log.append(self._entry(delivery, status=None, outcome="dropped"))
                    continue
                copies = 2 if delivery.fault == "duplicate" else 1
                for _ in range(copies):
                    self._schedule(_Delivery(delivery.event, delivery.url, delivery.fault), 0.0)
            self._start()

    def _schedule(self, delivery: _Delivery, delay: float) -> None:
        heapq.heappush(self._queue, (time.monotonic() + delay, next(self._order), delivery))
        self._cond.notify_all()

    def _start(self) -> None:
        if self._thread is None and self._queue:
            self._thread = threading.Thread(target=self._run, name="sandbox-push", daemon=True)
            self._thread.start()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is queued or in flight (retries included); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)

    def wait_logged(self, entries: int, timeout: float = 10.0) -> bool:
        """Wait until the log holds `entries` attempts (or drops); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.log) >= entries, timeout)

    def close(self) -> None:
        """Stop the delivery thread; what is still queued is not sent."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._queue or self._queue[0][0] > time.monotonic()):
                    wait = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._cond.wait(wait)
                if self._closed:
                    return
                _, _, delivery = heapq.heappop(self._queue)
                self._busy += 1
            try:
                self._attempt(delivery)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _attempt(self, delivery: _Delivery) -> None:
        status = _post(*self._request(delivery), self.timeout)
        provider = delivery.event.provider
        ok = status is not None and (200 <= status < 300 if provider == "whoop" else status < 400)
        delays = WHOOP_RETRY_DELAYS if provider == "whoop" else WITHINGS_RETRY_DELAYS
        retry = not ok and delivery.attempt < len(delays)
        with self._cond:
            outcome = "delivered" if ok else "retrying" if retry else "gave_up"
            self.log.append(self._entry(delivery, status=status, outcome=outcome))
            if retry:
                delay = delays[delivery.attempt] * self.time_scale
                self._schedule(_Delivery(delivery.event, delivery.url, delivery.fault, delivery.attempt + 1), delay)

    def _request(self, delivery: _Delivery) -> tuple[str, bytes, dict[str, str]]:
        event = delivery.event
        if event.provider == "withings":
            return delivery.url, urlencode(event.fields).encode(), {"Content-Type": "application/x-www-form-urlencoded"}
        body = json.dumps(event.fields, separators=(",", ":")).encode()
        stamp = str(self.clock_ms() - (STALE_MS if delivery.fault == "stale_timestamp" else 0))
        key = WRONG_SECRET if delivery.fault == "bad_signature" else WHOOP_CLIENT_SECRET
        signature = base64.b64encode(hmac.new(key.encode(), stamp.encode() + body, hashlib.sha256).digest()).decode()
        headers = {
            "Content-Type": "application/json",
            "X-WHOOP-Signature": signature,
            "X-WHOOP-Signature-Timestamp": stamp,
        }
        return delivery.url, body, headers

    def _entry(self, delivery: _Delivery, status: int | None, outcome: str) -> dict:
        return {
            "provider": delivery.event.provider,
            "person": delivery.event.person,
            "event": dict(delivery.event.fields),
            "attempt": delivery.attempt,
            "fault": delivery.fault,
            "status": status,
            "outcome": outcome,
        }


def _status(request: urllib.request.Request, timeout: float) -> int | None:
    """The receiver's status for `request`, or None when it gave no answer in time."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int | None:
    """POST a delivery; the receiver's status, or None."""
    return _status(urllib.request.Request(url, data=body, headers=headers, method="POST"), timeout)


def check_callback(url: str, timeout: float = 5.0) -> int | None:
    """HEAD `url`, as Withings does before it accepts a subscription; the status, or None."""
    return _status(urllib.request.Request(url, method="HEAD"), timeout)
