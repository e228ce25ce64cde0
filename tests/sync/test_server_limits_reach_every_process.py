"""The database-backed budget behind the HTTP clients: what one process is told, every process obeys."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from api_clients.errors import DailyBudgetReached, RateLimited, ServerLimitReached
from api_clients.http import HttpClient, reset_limiters
from configuration import clock
from readers.status import collect_status, format_status
from storage import rate_budget
from storage.rate_budget import DAY, MINUTE
from sync.budget import DbBudget

NOW = datetime(2026, 3, 10, 14, 20, 30, tzinfo=timezone.utc)
URL = "https://api.example.test/developer/v2/cycle"


class FakeTime:
    """One clock for the database windows (utcnow) and the client's limiter (monotonic); sleeping moves both."""

    def __init__(self, now: datetime):
        self.now, self.slept = now, []
        self.seconds = 0.0  # kept as a float: a datetime rounds a sleep to microseconds, and the
        # limiter, which sleeps exactly until its block ends, would then never get there

    def utcnow(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.seconds += seconds
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def fake_time(monkeypatch) -> FakeTime:
    time = FakeTime(NOW)
    monkeypatch.setattr(clock, "utcnow", time.utcnow)
    return time


def _client(engine, time: FakeTime, *, per_day: int | None = 9500, max_wait: float = 300.0) -> HttpClient:
    budget = DbBudget(engine, "whoop", "WHOOP", per_day=per_day, sleep=time.sleep)
    return HttpClient("whoop", per_minute=100, max_wait=max_wait, sleep=time.sleep, clock=time.monotonic, budget=budget)


def test_a_429_exhausts_the_shared_minute_window_and_another_process_waits_for_the_next(engine, mock, fake_time):
    mock.get(URL, status=429, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "29"})  # at 14:20:30
    told = _client(engine, fake_time, max_wait=10)  # too short to wait for the next minute: it gives up
    with pytest.raises(RateLimited, match="shared minute window is full"):
        told.request("GET", URL)
    with engine.connect() as conn:
        assert rate_budget.usage(conn, "whoop", MINUTE, NOW) == (100, 100)  # 1 taken, then set to the budget

    assert fake_time.slept == []  # it never waited: the next minute was beyond its wait budget
    other = DbBudget(engine, "whoop", "WHOOP", per_day=9500, sleep=fake_time.sleep)  # another process
    waited = other.take(100, 300.0)
    assert 30 <= waited <= 30.5 and fake_time.slept == [waited]  # until 14:21:00, plus a little jitter
    with engine.connect() as conn:
        assert rate_budget.usage(conn, "whoop", MINUTE, NOW + timedelta(minutes=1)) == (1, 100)
        # The day counts the first request, the retry that gave up (its slot is spent: counting one
        # too many is safe, one too few is not) and the other process's.
        assert rate_budget.usage(conn, "whoop", DAY, NOW) == (3, 9500)


def test_the_daily_budget_ends_the_requests_before_one_is_sent(engine, mock, fake_time):
    mock.get(URL, json={"records": []})
    mock.get(URL, json={"records": []})
    client = _client(engine, fake_time, per_day=2)
    client.request("GET", URL)
    client.request("GET", URL)
    with pytest.raises(DailyBudgetReached) as raised:
        client.request("GET", URL)  # a third call would reach the server: the strict mock would fail it
    assert raised.value.reason == "WHOOP daily budget reached (2 of 2): deferred to 00:00 UTC"
    assert raised.value.until == datetime(2026, 3, 11, tzinfo=timezone.utc)
    fake_time.now += timedelta(hours=10)  # 00:20 the next day: a fresh day window
    mock.get(URL, json={"records": []})
    client.request("GET", URL)


def test_no_request_left_until_a_day_away_is_the_servers_word_for_every_process(engine, mock, fake_time):
    mock.get(URL, json={"records": []}, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "86400"})
    _client(engine, fake_time).request("GET", URL)
    with pytest.raises(ServerLimitReached) as raised:
        _client(engine, fake_time).request("GET", URL)  # another process: nothing is sent
    assert raised.value.reason == (
        "WHOOP says its daily limit is spent (X-RateLimit-Remaining: 0; 1 of our 9,500 requests used "
        "today): deferred to its reset at 2026-03-11 14:20 UTC"
    )
    assert raised.value.until == NOW + timedelta(days=1)
    status = collect_status(engine, NOW)
    assert status["whoop_today"] == {
        "used": 1,
        "budget": 9500,
        "declared_here": None,
        "server_spent_until": NOW + timedelta(days=1),
    }
    assert (
        "WHOOP today: 1 of 9,500 (WHOOP says its daily limit is spent until 2026-03-11 14:20 UTC)"
        in format_status(status).splitlines()
    )


def test_a_429_with_a_reset_beyond_the_minute_spends_the_day(engine, mock, fake_time):
    mock.get(URL, status=429, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "34170"})
    with pytest.raises(ServerLimitReached):
        _client(engine, fake_time).request("GET", URL)  # told once, then stopped before a second try
    with engine.connect() as conn:
        assert rate_budget.usage(conn, "whoop", DAY, NOW) == (1, 9500)  # what we sent, not the server's mark
        # The stopped try's minute slot went with its refused day slot (one statement takes both).
        assert rate_budget.usage(conn, "whoop", MINUTE, NOW) == (2, 100)


def test_a_429_that_resets_before_the_minute_ends_holds_back_only_the_process_told(engine, mock, fake_time):
    mock.get(URL, status=429, headers={"X-RateLimit-Reset": "2"})  # 28 s before the shared minute ends
    mock.get(URL, json={"records": []})
    _client(engine, fake_time).request("GET", URL)
    assert 2 <= sum(fake_time.slept) <= 3  # its own limiter waited out the reset, plus jitter
    with engine.connect() as conn:
        assert rate_budget.usage(conn, "whoop", MINUTE, NOW) == (2, 100)  # not marked spent


def test_without_a_daily_budget_only_the_minute_is_shared(engine, mock, fake_time):
    mock.get(URL, status=429, headers={"X-RateLimit-Reset": "30"})  # e.g. Withings: no daily cap
    mock.get(URL, json={"records": []})
    _client(engine, fake_time, per_day=None).request("GET", URL)
    with engine.connect() as conn:
        assert rate_budget.usage(conn, "whoop", DAY, NOW) is None
        assert rate_budget.usage(conn, "whoop", MINUTE, NOW) == (100, 100)


def test_a_new_process_paces_at_the_rate_a_server_named_to_another_before_it_hears_one_itself(engine, mock, fake_time):
    for _ in range(150):  # an earlier run, told 3000 a minute by its server, sent 150 this minute
        rate_budget.take(engine, "whoop", MINUTE, 3000, NOW)
    reset_limiters()  # a new process: its own limiter, configured at 100 a minute
    mock.get(URL, json={"records": []}, headers={"X-RateLimit-Limit": "3000, 3000;window=60"})
    _client(engine, fake_time).request("GET", URL)
    assert fake_time.slept == []  # no wait for the next minute: 3000 was named, not 100
    with engine.connect() as conn:
        assert rate_budget.usage(conn, "whoop", MINUTE, NOW) == (151, 3000)


def test_before_any_server_named_a_rate_the_configured_one_holds(engine, fake_time):
    for _ in range(100):
        rate_budget.take(engine, "whoop", MINUTE, 100, NOW)
    budget = DbBudget(engine, "whoop", "WHOOP", per_day=None, sleep=fake_time.sleep)
    waited = budget.take(100, 300.0, stated=False)
    assert 30 <= waited <= 30.5  # the minute is full at the configured 100: wait for the next one
