"""A run's live progress on a terminal: one rich progress bar per resource, with the records
fetched, the requests sent and left, and the time left at the pace the rate limit allows.

Requests left are estimated from how far back in time a resource's pages have reached: the
providers page a time window from its newest records down, and never say how many pages remain.
A whole history has no known start until its last page: its bar shows the date reached, and,
when the run could estimate where the history begins (sync/probe.py), the share covered and the
time left too. The time left is the slower of the pace measured and the resource's share of the
provider's rate limit.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Callable, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from configuration.logs import redact

# Fields of a raw record that say when it happened, as the providers write them.
_ISO_FIELDS = ("start", "created_at")  # WHOOP: ISO 8601 text
_EPOCH_FIELDS = ("date", "startdate")  # Withings: seconds since 1970 (activity's `date` is YYYY-MM-DD)


class LiveProgress:
    """One bar per resource, named `source resource` (and the account in a run of several)."""

    def __init__(self, stream: TextIO, *, monotonic: Callable[[], float] = time.monotonic):
        self.console = Console(file=stream, highlight=False)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=10),
            TextColumn("{task.fields[records]:,} records"),
            TextColumn("{task.completed:.0f} requests, {task.fields[left]}"),
            TextColumn("{task.fields[eta]}"),
            console=self.console,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.monotonic = monotonic
        self._tasks: dict[str, _Bar] = {}
        self._history: dict[str, tuple[datetime, int | None]] = {}  # source -> (probed start, requests/minute)
        self._started = False

    def history_start(self, source: str, start: datetime, per_minute: int | None = None) -> None:
        """Where `source`'s history probably begins (sync/probe.py), and the rate its requests
        may go at: a whole-history bar can then show its share done and its time left."""
        self._history[source] = (start, per_minute)

    def start(self, name: str, window, source: str | None = None) -> None:
        """A resource begins: its bar appears with nothing fetched yet."""
        if not self._started:
            self.progress.start()
            self._started = True
        task = self.progress.add_task(name, total=None, records=0, left="? left", eta="ETA ?")
        self._tasks[name] = _Bar(task, window, source or name.split()[0], self.monotonic())

    def page(self, name: str, records: int, requests: int, page_records: list | None) -> None:
        """A page was stored: the counts, and the estimate of what is left."""
        bar = self._tasks.get(name)
        if bar is None:
            return
        bar.saw(record_times(page_records or []))
        bar.requests = requests
        span = self._span(bar)
        share = covered_share(span, bar)
        total = None if share is None or share <= 0 or requests < 1 else max(requests, math.ceil(requests / share))
        bar.left = None if total is None else total - requests
        if total is not None:
            left = f"~{bar.left} left"
        elif bar.oldest_first:  # no start to count from: how far the pages have reached
            left = f"up to {bar.newest:%Y-%m-%d}"
        else:
            left = f"back to {bar.oldest:%Y-%m-%d}" if bar.oldest else "? left"
        eta = self._eta(bar, share) if total is not None else "ETA ?"
        self.progress.update(bar.task, completed=requests, total=total, records=records, left=left, eta=eta)

    def finish(self, name: str, status: str, records: int, requests: int) -> None:
        """A resource ended: its bar full, and its outcome when it is not "ok"."""
        bar = self._tasks.get(name)
        if bar is None:
            return
        bar.left, bar.done = 0, True
        outcome = "done" if status == "ok" else status.upper()
        self.progress.update(
            bar.task, completed=requests, total=max(requests, 1), records=records, left=outcome, eta=""
        )

    def print(self, text: str) -> None:
        """A line above the bars (a log record, a note), never torn by them."""
        self.console.print(redact(text), markup=False, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        if self._started:
            self.progress.stop()
            self._started = False

    def _span(self, bar: _Bar):
        """The bar's window, its start the probed history start when the window has none."""
        start = getattr(bar.window, "start", None)
        if start is None and bar.source in self._history:
            start = self._history[bar.source][0]
        end = getattr(bar.window, "end", None)
        return None if start is None or end is None else _Span(start, end)

    def _eta(self, bar: _Bar, share: float) -> str:
        """`42%, about 3 min left`: the share of the window covered, and the time left at the
        slower of the pace measured and the share of the rate limit this resource gets."""
        per_minute = self._history.get(bar.source, (None, None))[1]
        sharing = sum(1 for b in self._tasks.values() if b.source == bar.source and not b.done)
        seconds = seconds_left(bar.left, bar.requests, self.monotonic() - bar.began, per_minute, sharing)
        return f"{share:.0%}" + ("" if seconds is None else f", about {_minutes(seconds)} left")


@dataclass
class _Bar:
    task: TaskID
    window: object
    source: str
    began: float  # the monotonic clock when the resource started
    oldest: datetime | None = None  # the oldest and newest record times seen so far
    newest: datetime | None = None
    first_newest: datetime | None = None  # the newest time of the first dated page
    # The pages come oldest first: a later page brought records newer than the first page's.
    # WHOOP and getmeas page newest first; the order of other lists is not documented.
    oldest_first: bool = False
    requests: int = 0
    left: int | None = None  # requests left, when they can be estimated
    done: bool = False

    def saw(self, times: list[datetime]) -> None:
        """The record times of one more page."""
        if not times:
            return
        low, high = min(times), max(times)
        self.oldest = low if self.oldest is None else min(self.oldest, low)
        self.newest = high if self.newest is None else max(self.newest, high)
        if self.first_newest is None:
            self.first_newest = high
        elif high > self.first_newest:
            self.oldest_first = True


@dataclass(frozen=True)
class _Span:
    start: datetime
    end: datetime


def covered_share(span, bar: _Bar) -> float | None:
    """The share of `span` the pages have covered: from its end back to the oldest record seen, or
    from its start up to the newest when the pages come oldest first. None: nothing to go on."""
    if span is None or bar.oldest is None:
        return None
    whole = (span.end - span.start).total_seconds()
    if whole <= 0:
        return None
    if bar.oldest_first:
        covered = (min(bar.newest, span.end) - span.start).total_seconds()
    else:
        covered = (span.end - max(bar.oldest, span.start)).total_seconds()
    return min(1.0, max(0.0, covered / whole))


def seconds_left(left: int | None, sent: int, elapsed: float, per_minute: int | None, sharing: int = 1) -> float | None:
    """Seconds until `left` more requests are sent: at the pace measured so far (`sent` in
    `elapsed` seconds), and never faster than this resource's share of `per_minute` (the
    provider's resources in progress, `sharing`, split its rate limit). None: nothing to go on."""
    if left is None:
        return None
    paced = left * elapsed / sent if sent > 0 and elapsed > 0 else None
    limited = left * max(1, sharing) * 60.0 / per_minute if per_minute else None
    candidates = [s for s in (paced, limited) if s is not None]
    return max(candidates) if candidates else None


def _minutes(seconds: float) -> str:
    """`1 min` at the least (a rounder number than seconds for an estimate), `N min`, `N h M min`."""
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def record_times(records: list) -> list[datetime]:
    """The records' own dates (UTC), where they carry one."""
    return [t for t in map(_record_time, records) if t is not None]


def _record_time(record) -> datetime | None:
    if not isinstance(record, dict):
        return None
    for field in _ISO_FIELDS:
        value = record.get(field)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    for field in _EPOCH_FIELDS:
        value = record.get(field)
        if isinstance(value, int) and value > 0:
            return datetime.fromtimestamp(value, timezone.utc)
        if isinstance(value, str):
            try:
                day = date.fromisoformat(value)
            except ValueError:
                continue
            return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return None


class RouteLogLines(logging.Filter):
    """On a terminal handler while the bars are drawn: the log line is printed above them instead."""

    def __init__(self, live: LiveProgress, handler: logging.Handler):
        super().__init__()
        self.live, self.handler = live, handler

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.live._started:
            return True
        if record.levelno < self.handler.level:
            return False
        self.live.print(self.handler.format(record))
        return False
