"""Which slice of history each resource fetches: full, explicit `--since`, or incremental."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from configuration.settings import parse_duration
from mapping.fields import EARLIEST_DATE as EARLIEST_DATA
from storage.sync_state import cursor_time

# A window reaching further back than this is a backfill (a month offline, `--since 1y`); a
# routine run reads the lookback (7 days by default) and a little more.
BACKFILL_AFTER = timedelta(days=30)
# A resumed backfill reads again this much after where it stopped: the API's `start`/`end`
# filter may use another time of a record than the one the stop was noted by (a recovery's).
RESUME_OVERLAP = timedelta(days=1)


def parse_since(text: str, now: datetime) -> datetime:
    """`7d`, `36h`, `2w`, `2025-01-01` or an ISO timestamp -> an aware UTC datetime."""
    duration = parse_duration(text)
    if duration is not None:
        return now - duration
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"cannot read {text!r}: use a duration like 7d, 36h, 2w or a date like 2025-01-01") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    if parsed > now:
        raise ValueError(f"{text!r} is in the future")
    return parsed.astimezone(timezone.utc)


def since_option(ctx, param, value: str | None) -> datetime | None:
    """The click callback of every `--since` option: None, or an aware UTC datetime."""
    import click

    from configuration import clock

    if value is None:
        return None
    try:
        return parse_since(value, clock.utcnow())
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@dataclass(frozen=True)
class Window:
    """What to ask the API for. `start` None means the whole history."""

    start: datetime | None
    end: datetime
    mode: str  # "full", "since", "incremental" or "resume" (what a backfill the daily budget stopped has left)
    # Where the stored cursor stood when an explicit `--since` window was planned (None: no cursor).
    anchor: datetime | None = None
    # Where the stored window ends once this one succeeds, when not at `end`: a resumed
    # backfill reads only what it had not reached, and then covers the window it began.
    settles: datetime | None = None

    def is_backfill(self, now: datetime) -> bool:
        """Whether this window reads history a routine run does not (a first load, `--full`, a
        resumed backfill, or a start more than BACKFILL_AFTER back): it gets a backfill's share
        of a daily budget (sync/budget.py)."""
        return self.mode in ("full", "resume") or self.start is None or now - self.start > BACKFILL_AFTER

    @property
    def moves_cursor(self) -> bool:
        """Whether a success may move the stored cursor to this window's end.

        An explicit `--since` window that starts after the stored cursor leaves a gap between
        them: moving the cursor would make the next plain run skip that gap for ever. Such a
        window is loaded, and the cursor stays where it was (README, "Explicit windows").
        """
        if self.mode != "since":
            return True
        return self.anchor is not None and self.start is not None and self.start <= self.anchor

    def describe(self) -> str:
        start = "beginning" if self.start is None else self.start.strftime("%Y-%m-%d %H:%M")
        return f"{start} -> {self.end.strftime('%Y-%m-%d %H:%M')} UTC ({self.mode})"

    def brief(self) -> str:
        """A few characters for a summary table (the end is the run's start; `describe` has it all)."""
        if self.start is None:
            return "full history"
        return f"{'since' if self.mode == 'since' else 'from'} {self.start:%Y-%m-%d}"


def page_cap(window: Window, records_per_day: int, page_size: int) -> int:
    """At most this many pages can hold the window's records: a server that pages past it loops.

    Generous on purpose (WHOOP records a handful of records a day, a scale a few groups): the cap
    exists to end a loop, not to second-guess a real history. A full window counts from 2010.
    """
    start = window.start or EARLIEST_DATA
    days = max(1, (window.end - start).days + 2)
    return -(-days * records_per_day // page_size) + 10


def time_window(state, *, now: datetime, lookback: timedelta, since: datetime | None, full: bool) -> Window:
    """A time window: from the end of the last successful window minus the lookback (late scores)."""
    resume = None if full or since is not None or state is None else getattr(state, "resume_before", None)
    if resume is not None:  # a backfill the daily budget stopped: only what it had not reached
        start = None if state.window_end is None else state.window_end - lookback
        if start is None or start < resume:
            return Window(start, resume, "resume", settles=state.resume_end)
    if full or (since is None and (state is None or state.window_end is None)):
        return Window(None, now, "full")
    if since is not None:
        return Window(since, now, "since", anchor=state.window_end if state is not None else None)
    # A machine that was off for a month: window_end is a month old, so nothing is skipped.
    return Window(state.window_end - lookback, now, "incremental")


def lastupdate_window(state, *, now: datetime, lookback: timedelta, since: datetime | None, full: bool) -> Window:
    """A `lastupdate` cursor: the stored `updatetime` minus the lookback.

    `lastupdate` selects groups created *or modified* after it, so edited and back-dated
    weigh-ins come back (docs/API_NOTES.md, Withings "getmeas": a fixed date window misses them).
    """
    if full or (since is None and (state is None or not state.cursor)):
        return Window(None, now, "full")
    cursor = cursor_time(state.cursor, now) if state is not None and state.cursor else None
    if since is not None:
        return Window(since, now, "since", anchor=cursor)
    if cursor is None:
        # A cursor stored by an older release from an absurd `updatetime` (10^20): fall back to
        # the last successful window, else the whole history, instead of failing every run.
        if state.window_end is None:
            return Window(None, now, "full")
        cursor = state.window_end
    return Window(min(cursor, now) - lookback, now, "incremental")


# A series resource (Withings sleep series, intraday) whose account has never had a sample asks
# only this much on a routine run: whether the device that records them has begun to.
SERIES_PROBE = timedelta(hours=24)


def series_window(state, *, now: datetime, lookback: timedelta, since: datetime | None, full: bool) -> Window:
    """A time window for a series read in 24-hour calls (sync.resources.WithingsSeries).

    As `time_window`, but an account whose stored cursor (its newest sample) is empty has no
    watch or sleep monitor recording: its routine run reads the last 24 hours only, one call,
    instead of the whole lookback (8 calls) every run.
    """
    window = time_window(state, now=now, lookback=lookback, since=since, full=full)
    if window.mode == "incremental" and not getattr(state, "cursor", None):
        return Window(now - SERIES_PROBE, now, "incremental")
    return window
