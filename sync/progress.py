"""A run's live progress on a terminal: one rich progress bar per resource, with the records
fetched, the requests sent and left, and the time left at the pace the rate limit allows.

Requests left are estimated from how far back in time a resource's pages have reached: the
providers page a time window from its newest records down, and never say how many pages remain.
A whole history has no known start until its last page, so its bar shows the date reached
instead of a count. The pace is the one measured, which is the pace the shared rate limit grants.
"""

from __future__ import annotations

import logging
import math
from datetime import date, datetime, timezone
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from configuration.logs import redact

# Fields of a raw record that say when it happened, as the providers write them.
_ISO_FIELDS = ("start", "created_at")  # WHOOP: ISO 8601 text
_EPOCH_FIELDS = ("date", "startdate")  # Withings: seconds since 1970 (activity's `date` is YYYY-MM-DD)


class LiveProgress:
    """One bar per resource, named `source resource` (and the account in a run of several)."""

    def __init__(self, stream: TextIO):
        self.console = Console(file=stream, highlight=False)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=10),
            TextColumn("{task.fields[records]:,} records"),
            TextColumn("{task.completed:.0f} requests, {task.fields[left]}"),
            TextColumn("ETA"),
            TimeRemainingColumn(compact=True),
            console=self.console,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._tasks: dict[str, tuple[TaskID, object]] = {}
        self._started = False

    def start(self, name: str, window) -> None:
        """A resource begins: its bar appears with nothing fetched yet."""
        if not self._started:
            self.progress.start()
            self._started = True
        task = self.progress.add_task(name, total=None, records=0, left="? left", reached_at=None)
        self._tasks[name] = (task, window)

    def page(self, name: str, records: int, requests: int, page_records: list | None) -> None:
        """A page was stored: the counts, and the estimate of what is left."""
        if name not in self._tasks:
            return
        task, window = self._tasks[name]
        reached = oldest_time(page_records or [])
        previous = self.progress.tasks[self._index(task)].fields.get("reached_at")
        if reached is None or (previous is not None and previous < reached):
            reached = previous
        total = estimated_requests(window, reached, requests)
        if total is not None:
            left = f"~{max(0, total - requests)} left"
        else:  # no start to count towards: how far back the pages have reached
            left = f"back to {reached:%Y-%m-%d}" if reached else "? left"
        self.progress.update(task, completed=requests, total=total, records=records, left=left, reached_at=reached)

    def finish(self, name: str, status: str, records: int, requests: int) -> None:
        """A resource ended: its bar full, and its outcome when it is not "ok"."""
        if name not in self._tasks:
            return
        task, _ = self._tasks[name]
        outcome = "done" if status == "ok" else status.upper()
        self.progress.update(task, completed=requests, total=max(requests, 1), records=records, left=outcome)

    def print(self, text: str) -> None:
        """A line above the bars (a log record, a note), never torn by them."""
        self.console.print(redact(text), markup=False, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        if self._started:
            self.progress.stop()
            self._started = False

    def _index(self, task: TaskID) -> int:
        return next(i for i, t in enumerate(self.progress.tasks) if t.id == task)


def estimated_requests(window, reached: datetime | None, requests: int) -> int | None:
    """All the requests a resource will send, from the share of its window its pages covered; None
    while that share cannot be known (a whole history, or no dated record yet)."""
    start, end = getattr(window, "start", None), getattr(window, "end", None)
    if start is None or end is None or reached is None or requests < 1:
        return None
    span = (end - start).total_seconds()
    covered = (end - max(reached, start)).total_seconds()
    if span <= 0 or covered <= 0:
        return None
    return max(requests, math.ceil(requests * span / covered))


def oldest_time(records: list) -> datetime | None:
    """The earliest time among the records' own dates (UTC), or None when none carries one."""
    times = [t for t in map(_record_time, records) if t is not None]
    return min(times) if times else None


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
