"""`status` shows how much of WHOOP's daily budget every process has spent today."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from readers.status import collect_status, format_status
from storage import rate_budget

NOW = datetime(2026, 3, 10, 18, 5, tzinfo=timezone.utc)


def test_status_shows_todays_whoop_requests_against_the_budget(engine):
    assert "WHOOP today" not in format_status(collect_status(engine, NOW))  # nothing taken today
    rate_budget.take(engine, "whoop", rate_budget.DAY, 9500, NOW - timedelta(days=1))  # yesterday's
    for _ in range(3):
        rate_budget.take(engine, "whoop", rate_budget.DAY, 9500, NOW)
    status = collect_status(engine, NOW)
    assert status["whoop_today"] == {"used": 3, "budget": 9500, "declared_here": None, "server_spent_until": None}
    assert "WHOOP today: 3 of 9,500" in format_status(status).splitlines()
    rate_budget.exhaust(engine, "whoop", rate_budget.DAY, NOW, 9500)
    assert "WHOOP today: 9,500 of 9,500" in format_status(collect_status(engine, NOW))
