"""Where a provider's history begins, estimated with a few requests, for a first load's progress.

A whole history is paged newest first with no count of what is left, so its progress bar cannot
show a share or a time left. Only when the bars are drawn (a terminal), the run asks first:
WHOOP, by bisecting the cycle collection with `limit=1` windows (at most PROBE_REQUESTS requests);
Withings, with one `getdevice` call (the earliest `first_session_date` of the devices). The
requests go through the client, so they count in the shared request budget like any other. A
probe that fails costs the display its estimate, never the run.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Callable

from mapping.fields import EARLIEST_DATE
from sync import resources
from sync.budget import backfilling

log = logging.getLogger(__name__)
PROBE_REQUESTS = 12  # WHOOP: 2010 to today is about 6,000 days; 12 halvings narrow it to about 1.5 days
PRECISION = timedelta(days=1)  # stop bisecting once the first record is known to the day


def bisect_first(
    newest_in: Callable[[datetime, datetime], datetime | None],
    low: datetime,
    high: datetime,
    max_requests: int = PROBE_REQUESTS,
) -> datetime | None:
    """The earliest start of a newest-first collection, within PRECISION when the requests allow.

    `newest_in(start, end)` is one request: the start of the newest record in [start, end), or
    None. A record found also bounds the earliest from above, so each answer halves the span or
    better. None: nothing was found in any window asked (no history, or one too short to find).
    """
    found = None
    for _ in range(max_requests):
        if high - low <= PRECISION:
            break
        middle = low + (high - low) / 2
        newest = newest_in(low, middle)
        if newest is None:
            low = middle
        else:
            found = high = max(low, min(newest, middle))
    return found if found is not None else (low if low > EARLIEST_DATE else None)


def whoop_history_start(client, now: datetime) -> datetime | None:
    """The start of the oldest WHOOP cycle, by bisection (at most PROBE_REQUESTS requests)."""

    cycles = resources.get("whoop", "cycles")  # the collection every WHOOP day has, as declared

    def newest_in(start: datetime, end: datetime) -> datetime | None:
        record = client.newest_record(cycles.path, start, end, scope=cycles.scope, what=cycles.what)
        return _iso(record.get("start")) if record else None

    return bisect_first(newest_in, EARLIEST_DATE, now)


def withings_history_start(client, now: datetime) -> datetime | None:
    """The earliest first session of the Withings devices (one getdevice request)."""
    firsts = [d.get("first_session_date") for d in client.devices() if isinstance(d, dict)]
    seconds = [s for s in firsts if isinstance(s, (int, float)) and s > 0]
    if not seconds:
        return None
    return max(EARLIEST_DATE, min(datetime.fromtimestamp(min(seconds), timezone.utc), now))


PROBES = {"whoop": whoop_history_start, "withings": withings_history_start}


def history_start(source: str, client, now: datetime) -> datetime | None:
    """Where `source`'s history probably begins, or None when it cannot be told; never raises."""
    probe = PROBES.get(source)
    if probe is None:
        return None
    try:
        return probe(client, now)
    except Exception as exc:  # the display loses its estimate; the run goes on and meets any real error itself
        log.debug("%s: could not estimate where the history begins: %s", source, exc)
        return None


def probe_history(reporter, jobs, now: datetime) -> None:
    """Before a run whose bars are drawn: for each provider with a whole history to read, tell
    the reporter where the history probably begins and the rate its requests may go at."""
    if not getattr(reporter, "draws_progress", False):
        return
    clients = {job.source: job.client for job in jobs if job.window.start is None}
    for source, client in clients.items():
        with backfilling(True):  # the probe is part of the first load: a backfill's share of the day
            start = history_start(source, client, now)
        if start is not None:
            limiter = getattr(getattr(client, "http", None), "limiter", None)
            reporter.history_start(source, start, getattr(limiter, "per_minute", None))


def _iso(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
