"""Explicit windows never create gaps: `--since` moves a cursor only when it reaches back to it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from sync.windows import lastupdate_window, time_window
from tests.helpers.etl import run_etl, sync_states, table_counts

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
WEEK = timedelta(days=7)


@pytest.mark.parametrize("strategy", [time_window, lastupdate_window])
def test_since_after_the_cursor_does_not_move_it(strategy):
    stored = NOW - timedelta(days=12)
    state = SimpleNamespace(window_end=stored, cursor=str(int(stored.timestamp())))
    gap = strategy(state, now=NOW, lookback=WEEK, since=NOW - timedelta(days=1), full=False)
    reaches_back = strategy(state, now=NOW, lookback=WEEK, since=NOW - timedelta(days=13), full=False)
    assert (gap.mode, gap.moves_cursor) == ("since", False)
    assert (reaches_back.mode, reaches_back.moves_cursor) == ("since", True)
    assert strategy(state, now=NOW, lookback=WEEK, since=None, full=True).moves_cursor
    assert strategy(state, now=NOW, lookback=WEEK, since=None, full=False).moves_cursor


@pytest.mark.parametrize("strategy", [time_window, lastupdate_window])
def test_since_on_a_never_synced_resource_records_no_cursor(strategy):
    window = strategy(None, now=NOW, lookback=WEEK, since=NOW - timedelta(days=1), full=False)
    assert not window.moves_cursor  # the next plain run still loads the whole history


def test_downtime_then_since_1d_then_a_plain_run_leaves_every_record(db_url, tmp_path, monkeypatch):
    """12 days off, one `--since 1d`, then the routine run: nothing the API holds is missing."""
    from configuration import clock
    from sandbox import SandboxServer

    with SandboxServer(days=40, seed=11, now=datetime.now(timezone.utc) - timedelta(days=20)) as sandbox:
        sandbox.app.whoop.set_rate_limit(10_000)
        for key, value in sandbox.environment().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("DATABASE_URL", db_url)
        monkeypatch.setattr(clock, "utcnow", lambda: sandbox.history.now)  # the ETL lives on the API's clock
        assert run_etl()[0] == 0
        before = sync_states(db_url)
        sandbox.advance_day(12)
        assert run_etl("--since", "1d")[0] == 0
        after_since = sync_states(db_url)
        assert {k: s.window_end for k, s in after_since.items()} == {k: s.window_end for k, s in before.items()}
        assert after_since["measures"].cursor == before["measures"].cursor
        assert run_etl()[0] == 0

        reference = f"sqlite:///{tmp_path / 'reference.db'}"
        for key, value in sandbox.environment().items():  # fresh seed tokens: the first ones rotated
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("DATABASE_URL", reference)
        assert run_etl("--full")[0] == 0
    counts, expected = table_counts(db_url), table_counts(reference)
    # The body measurement has no history in the API: the database that watched the 12 days holds
    # every value it saw, the one loaded once only the current value.
    assert counts.pop("whoop_body_measurement") >= expected.pop("whoop_body_measurement") == 1
    assert counts == expected
