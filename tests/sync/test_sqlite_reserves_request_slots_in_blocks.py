"""On SQLite a process reserves its request slots in blocks and gives back what it did not use: the
counts stay exact and the windows are never overrun, with one write for many requests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from api_clients.errors import DailyBudgetReached
from api_clients.http import HttpClient
from configuration import clock
from storage import rate_budget
from storage.engine import make_engine
from storage.migrate import upgrade
from storage.rate_budget import DAY, MINUTE
from sync.budget import SQLITE_BLOCK, DbBudget, db_budget, give_back_unused

NOW = datetime(2026, 3, 10, 14, 20, 30, tzinfo=timezone.utc)
URL = "https://api.example.test/developer/v2/cycle"


@pytest.fixture
def sqlite_engine(tmp_path, monkeypatch):
    monkeypatch.setattr(clock, "utcnow", lambda: NOW)
    engine = make_engine(f"sqlite:///{tmp_path / 'budget.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


class _Client:
    """What `give_back_unused` reads of an API client: its HttpClient, which holds the budget."""

    def __init__(self, budget: DbBudget):
        self.http = HttpClient("whoop", per_minute=100, budget=budget)


def _usage(engine, kind: str, now: datetime = NOW):
    with engine.connect() as conn:
        return rate_budget.usage(conn, "whoop", kind, now)


def test_a_block_is_one_reservation_and_what_was_not_used_goes_back_at_the_end(sqlite_engine):
    budget = DbBudget(sqlite_engine, "whoop", "WHOOP", per_day=9500, block=5)
    for _ in range(3):
        assert budget.take(100, 300.0) == 0.0
    assert _usage(sqlite_engine, DAY) == (5, 9500)  # reserved while the run goes on
    assert _usage(sqlite_engine, MINUTE) == (5, 100)
    give_back_unused([_Client(budget)])
    assert _usage(sqlite_engine, DAY) == (3, 9500)  # what was sent, exactly, for `status`
    assert _usage(sqlite_engine, MINUTE) == (3, 100)
    give_back_unused([_Client(budget)])  # nothing held: nothing changes
    assert _usage(sqlite_engine, DAY) == (3, 9500)


def test_two_takers_in_blocks_get_exactly_the_daily_budget_between_them(sqlite_engine):
    first = DbBudget(sqlite_engine, "whoop", "WHOOP", per_day=7, block=5)
    second = DbBudget(sqlite_engine, "whoop", "WHOOP", per_day=7, block=5)  # another process, e.g. `connect`
    granted = 0
    for budget in (first, second, first, second, first, second, first, second, first):
        try:
            budget.take(100, 300.0)
            granted += 1
        except DailyBudgetReached as exc:
            assert exc.reason == "WHOOP daily budget reached (7 of 7): deferred to 00:00 UTC"
    assert granted == 7  # the second's block was cut to the 2 slots left; never one more
    give_back_unused([_Client(first), _Client(second)])
    assert _usage(sqlite_engine, DAY) == (7, 7)


def test_a_block_of_a_minute_gone_by_is_not_given_back_and_the_next_minute_reserves_anew(sqlite_engine, monkeypatch):
    budget = DbBudget(sqlite_engine, "whoop", "WHOOP", per_day=9500, block=5)
    budget.take(100, 300.0)
    later = NOW + timedelta(seconds=40)  # 14:21:10: the next minute window
    monkeypatch.setattr(clock, "utcnow", lambda: later)
    budget.take(100, 300.0)
    give_back_unused([_Client(budget)])
    assert _usage(sqlite_engine, MINUTE, NOW) == (5, 100)  # that window is over: its count stays
    assert _usage(sqlite_engine, MINUTE, later) == (1, 100)
    assert _usage(sqlite_engine, DAY) == (2, 9500)  # the day's block served both requests


def test_a_window_the_server_says_is_spent_drops_the_block_and_the_next_request_waits(sqlite_engine, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(clock, "utcnow", lambda: NOW + timedelta(seconds=sum(slept)))  # sleeping moves the clock
    budget = DbBudget(sqlite_engine, "whoop", "WHOOP", per_day=9500, block=5, sleep=slept.append)
    budget.take(100, 300.0)
    budget.exhausted(None)  # a 429 with no reset: this minute is spent for every process
    assert _usage(sqlite_engine, MINUTE) == (100, 100)
    waited = budget.take(100, 300.0)  # the 4 slots still reserved in that minute are not used
    assert 30 <= waited <= 30.5 and slept == [waited]
    monkeypatch.setattr(clock, "utcnow", lambda: NOW)  # back in the spent minute, to give back
    give_back_unused([_Client(budget)])
    assert _usage(sqlite_engine, MINUTE) == (100, 100)  # nothing given back into a spent window


def test_a_sqlite_database_reserves_in_blocks_and_postgresql_takes_slot_by_slot(sqlite_engine, pg_url):
    class Provider:
        name, requests_per_day = "whoop", 9500

    assert db_budget(sqlite_engine, Provider, "WHOOP").block == SQLITE_BLOCK > 1
    pg = make_engine(pg_url)
    try:
        assert db_budget(pg, Provider, "WHOOP").block == 1
        with pytest.raises(ValueError, match="SQLite only"):
            rate_budget.reserve(pg, "whoop", {DAY: 10}, NOW, 5)
    finally:
        pg.dispose()


def test_a_reservation_grants_what_is_left_and_a_give_back_never_goes_below_zero(sqlite_engine):
    assert rate_budget.reserve(sqlite_engine, "whoop", {DAY: 8, MINUTE: 100}, NOW, 5) == {DAY: 5, MINUTE: 5}
    assert rate_budget.reserve(sqlite_engine, "whoop", {DAY: 8, MINUTE: 100}, NOW, 5) == {DAY: 3, MINUTE: 5}
    assert rate_budget.reserve(sqlite_engine, "whoop", {DAY: 8}, NOW, 5) == {DAY: 0}
    rate_budget.give_back(sqlite_engine, "whoop", {DAY: (rate_budget.window_start(DAY, NOW), 20)})
    assert _usage(sqlite_engine, DAY) == (0, 8)


def test_a_routine_run_reserves_its_first_block_while_it_plans_at_the_rate_another_process_heard(sqlite_engine):
    earlier = NOW - timedelta(minutes=5)
    rate_budget.take_slots(sqlite_engine, "whoop", {MINUTE: 40}, earlier)  # a server said 40/min to another process
    budget = DbBudget(sqlite_engine, "whoop", "WHOOP", per_day=9500, block=5)
    budget.prepare(100, routine=True)
    assert _usage(sqlite_engine, DAY) == (5, 9500)  # reserved before any request
    assert _usage(sqlite_engine, MINUTE) == (5, 40)
    for _ in range(3):
        assert budget.take(100, 300.0, stated=False) == 0.0
    assert _usage(sqlite_engine, DAY) == (5, 9500)  # the three requests used the block: no new reservation
    give_back_unused([_Client(budget)])
    assert _usage(sqlite_engine, DAY) == (3, 9500)
    assert _usage(sqlite_engine, MINUTE) == (3, 40)


def test_a_backfill_alone_reserves_nothing_ahead_and_postgresql_never_does(sqlite_engine, pg_url):
    DbBudget(sqlite_engine, "whoop", "WHOOP", per_day=9500, block=5).prepare(100, routine=False)
    assert _usage(sqlite_engine, DAY) is None and _usage(sqlite_engine, MINUTE) is None
    pg = make_engine(pg_url)
    try:
        with pg.connect() as conn:
            before = rate_budget.usage(conn, "whoop", DAY, NOW)
        DbBudget(pg, "whoop", "WHOOP", per_day=9500).prepare(100, routine=True)  # each request takes its slot
        with pg.connect() as conn:
            assert rate_budget.usage(conn, "whoop", DAY, NOW) == before
    finally:
        pg.dispose()
