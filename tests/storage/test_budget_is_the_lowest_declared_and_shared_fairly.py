"""The stored daily budget is the lowest any host declares, `status` shows the one this host uses,
and a backfill spends at most its share of the day, leaving the rest to routine runs."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from api_clients.errors import DailyBudgetReached
from configuration import clock
from readers.status import collect_status, format_status
from storage import rate_budget
from sync import budget

NOW = datetime(2026, 3, 10, 18, 5, tzinfo=timezone.utc)
DAY = rate_budget.DAY


def test_the_lowest_declared_budget_is_stored_and_holds_for_every_host(engine):
    assert rate_budget.take(engine, "whoop", DAY, 5, NOW) == 1  # host A declares 5
    assert rate_budget.take(engine, "whoop", DAY, 3, NOW) == 2  # host B declares 3
    assert rate_budget.take(engine, "whoop", DAY, 5, NOW) == 3  # A again: the row keeps B's 3
    assert rate_budget.take(engine, "whoop", DAY, 5, NOW) is None  # 3 is spent, whoever asks
    with engine.connect() as conn:
        assert rate_budget.usage(conn, "whoop", DAY, NOW) == (3, 3)
    status = collect_status(engine, NOW, whoop_per_day=5)  # host A's status
    assert status["whoop_today"] == {"used": 3, "budget": 3, "declared_here": 5, "server_spent_until": None}
    assert (
        "WHOOP today: 3 of 3 (the lowest budget any host declares; this host's WHOOP_REQUESTS_PER_DAY is 5)"
        in format_status(status).splitlines()
    )
    assert "WHOOP today: 3 of 3" in format_status(collect_status(engine, NOW, whoop_per_day=3)).splitlines()


@pytest.mark.parametrize("block", [1, budget.SQLITE_BLOCK])
def test_a_backfill_takes_its_share_and_routine_runs_the_rest(engine, monkeypatch, block):
    if block > 1 and engine.dialect.name != "sqlite":
        pytest.skip("blocks are SQLite's (one process syncs at a time)")
    monkeypatch.setattr(clock, "utcnow", lambda: NOW)
    shared = budget.DbBudget(engine, "whoop", "WHOOP", per_day=10, block=block)

    def taken(backfill: bool) -> tuple[int, str]:
        granted = 0
        with budget.backfilling(backfill):
            while True:
                try:
                    shared.take(per_minute=1000, max_wait=0)
                except DailyBudgetReached as exc:
                    return granted, exc.reason
                granted += 1

    backfill, reason = taken(True)
    assert backfill == 8 and reason.startswith("WHOOP backfill share of the daily budget reached (8 of 8)")
    routine, reason = taken(False)
    assert routine == 2 and reason.startswith("WHOOP daily budget reached (10 of 10)")
    shared.release()
    with engine.connect() as conn:
        assert rate_budget.usage(conn, "whoop", DAY, NOW) == (10, 10)
