"""Window arithmetic: full on the first run, lookback afterwards, explicit --since."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from sync.windows import lastupdate_window, parse_since, time_window

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
WEEK = timedelta(days=7)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("7d", NOW - timedelta(days=7)),
        ("36h", NOW - timedelta(hours=36)),
        ("2w", NOW - timedelta(weeks=2)),
        (" 3D ", NOW - timedelta(days=3)),
        ("2025-01-01", datetime(2025, 1, 1, tzinfo=timezone.utc)),
        ("2025-01-01T06:00:00+02:00", datetime(2025, 1, 1, 4, tzinfo=timezone.utc)),
    ],
)
def test_parse_since(text, expected):
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["", "7", "d7", "-3d", "yesterday", "2099-01-01", "2025-13-01"])
def test_parse_since_rejects(text):
    with pytest.raises(ValueError):
        parse_since(text, NOW)


def test_whoop_first_run_is_full_history():
    window = time_window(None, now=NOW, lookback=WEEK, since=None, full=False)
    assert (window.start, window.end, window.mode) == (None, NOW, "full")


def test_whoop_incremental_starts_a_lookback_before_the_last_window_end():
    state = SimpleNamespace(window_end=NOW - timedelta(days=1))
    window = time_window(state, now=NOW, lookback=WEEK, since=None, full=False)
    assert window.start == NOW - timedelta(days=8)
    assert window.mode == "incremental"


def test_whoop_month_off_covers_the_gap():
    state = SimpleNamespace(window_end=NOW - timedelta(days=31))
    assert time_window(state, now=NOW, lookback=WEEK, since=None, full=False).start == NOW - timedelta(days=38)


def test_since_and_full_override_state():
    state = SimpleNamespace(window_end=NOW, cursor=str(int(NOW.timestamp())))
    since = NOW - timedelta(days=2)
    assert time_window(state, now=NOW, lookback=WEEK, since=since, full=False).start == since
    assert lastupdate_window(state, now=NOW, lookback=WEEK, since=since, full=False).start == since
    assert time_window(state, now=NOW, lookback=WEEK, since=None, full=True).start is None


def test_withings_uses_the_updatetime_cursor_minus_lookback():
    cursor = NOW - timedelta(hours=20)
    state = SimpleNamespace(cursor=str(int(cursor.timestamp())), window_end=NOW)
    window = lastupdate_window(state, now=NOW, lookback=WEEK, since=None, full=False)
    assert window.start == cursor - WEEK
    assert (
        lastupdate_window(SimpleNamespace(cursor=None), now=NOW, lookback=WEEK, since=None, full=False).mode == "full"
    )
