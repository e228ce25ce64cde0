"""Which slice of history each resource fetches: full, explicit `--since`, or incremental."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sync_state import cursor_time

WHOOP_RESOURCES = ("cycles", "recovery", "sleep", "workout")
WITHINGS_RESOURCE = "measures"
_RELATIVE = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.IGNORECASE)
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime) -> datetime:
    """`7d`, `36h`, `2w`, `2025-01-01` or an ISO timestamp -> an aware UTC datetime."""
    match = _RELATIVE.match(text)
    if match:
        amount, unit = int(match.group(1)), _UNITS[match.group(2).lower()]
        return now - timedelta(**{unit: amount})
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"cannot read {text!r}: use a duration like 7d, 36h, 2w or a date like 2025-01-01"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    if parsed > now:
        raise ValueError(f"{text!r} is in the future")
    return parsed.astimezone(timezone.utc)


@dataclass(frozen=True)
class Window:
    """What to ask the API for. `start` None means the whole history."""

    start: datetime | None
    end: datetime
    mode: str  # "full", "since" or "incremental"

    def describe(self) -> str:
        start = "beginning" if self.start is None else self.start.strftime("%Y-%m-%d %H:%M")
        return f"{start} -> {self.end.strftime('%Y-%m-%d %H:%M')} UTC ({self.mode})"

    def brief(self) -> str:
        """A few characters for a summary table (the end is the run's start; `describe` has it all)."""
        if self.start is None:
            return "full history"
        return f"{'since' if self.mode == 'since' else 'from'} {self.start:%Y-%m-%d}"


def whoop_window(state, *, now: datetime, lookback: timedelta, since: datetime | None,
                 full: bool) -> Window:
    """WHOOP: from the end of the last successful window minus the lookback (late scores)."""
    if full or (since is None and (state is None or state.window_end is None)):
        return Window(None, now, "full")
    if since is not None:
        return Window(since, now, "since")
    # A machine that was off for a month: window_end is a month old, so nothing is skipped.
    return Window(state.window_end - lookback, now, "incremental")


def withings_window(state, *, now: datetime, lookback: timedelta, since: datetime | None,
                    full: bool) -> Window:
    """Withings: `lastupdate` = the stored `updatetime` cursor minus the lookback.

    `lastupdate` selects groups created *or modified* after it, so edited and back-dated
    weigh-ins come back (api_facts.md §2.6: a fixed date window misses them).
    """
    if full or (since is None and (state is None or not state.cursor)):
        return Window(None, now, "full")
    if since is not None:
        return Window(since, now, "since")
    cursor = cursor_time(state.cursor, now)
    if cursor is None:
        # A cursor stored by an older release from an absurd `updatetime` (10^20): fall back to
        # the last successful window, else the whole history, instead of failing every run.
        if state.window_end is None:
            return Window(None, now, "full")
        cursor = state.window_end
    return Window(min(cursor, now) - lookback, now, "incremental")
