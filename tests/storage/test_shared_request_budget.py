"""The `rate_budget` upsert: exactly `budget` slots per window, on both databases and under concurrency."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from models import RateBudget
from storage import rate_budget
from storage.engine import make_engine
from storage.rate_budget import DAY, MINUTE

NOW = datetime(2026, 3, 10, 23, 59, 30, tzinfo=timezone.utc)


def _rows(engine) -> list[tuple]:
    table = RateBudget.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(table).order_by(table.c.window_kind, table.c.window_start)).all()
    return [(r.provider, r.window_kind, r.window_start, r.used, r.budget) for r in rows]


def test_a_window_grants_exactly_its_budget_then_none_and_the_next_window_starts_afresh(engine):
    assert [rate_budget.take(engine, "whoop", DAY, 3, NOW) for _ in range(5)] == [1, 2, 3, None, None]
    tomorrow = NOW + timedelta(seconds=31)  # 00:00:01 the next day: a new day window
    assert rate_budget.take(engine, "whoop", DAY, 3, tomorrow) == 1
    assert rate_budget.take(engine, "withings", DAY, 3, NOW) == 1  # per provider
    with engine.connect() as conn:
        assert rate_budget.usage(conn, "whoop", DAY, NOW) == (3, 3)
        assert rate_budget.usage(conn, "whoop", DAY, tomorrow) == (1, 3)
        assert rate_budget.usage(conn, "whoop", MINUTE, NOW) is None


def test_windows_are_fixed_utc_minutes_and_days():
    assert rate_budget.window_start(MINUTE, NOW) == datetime(2026, 3, 10, 23, 59, tzinfo=timezone.utc)
    assert rate_budget.next_window(MINUTE, NOW) == datetime(2026, 3, 11, 0, 0, tzinfo=timezone.utc)
    assert rate_budget.next_window(DAY, NOW) == datetime(2026, 3, 11, tzinfo=timezone.utc)
    later_elsewhere = NOW.astimezone(timezone(timedelta(hours=-5)))  # the same instant in UTC-5
    assert rate_budget.window_start(DAY, later_elsewhere) == datetime(2026, 3, 10, tzinfo=timezone.utc)


def test_exhausting_a_window_stops_every_taker_until_the_next_one(engine):
    assert rate_budget.take(engine, "whoop", MINUTE, 100, NOW) == 1
    rate_budget.exhaust(engine, "whoop", MINUTE, NOW, 100)  # the server said 429
    assert rate_budget.take(engine, "whoop", MINUTE, 100, NOW) is None
    assert rate_budget.take(engine, "whoop", MINUTE, 100, NOW + timedelta(seconds=30)) == 1
    rate_budget.exhaust(engine, "whoop", DAY, NOW, 9500)  # a window nobody took from yet
    assert rate_budget.take(engine, "whoop", DAY, 9500, NOW) is None
    with engine.connect() as conn:
        assert rate_budget.usage(conn, "whoop", DAY, NOW) == (9500, 9500)


def test_a_new_day_window_deletes_the_windows_older_than_two_days(engine):
    for days_ago in (4, 3, 2, 1):
        rate_budget.take(engine, "whoop", MINUTE, 100, NOW - timedelta(days=days_ago))
        rate_budget.take(engine, "whoop", DAY, 10, NOW - timedelta(days=days_ago))
    rate_budget.take(engine, "whoop", MINUTE, 100, NOW)
    assert len(_rows(engine)) == 7  # a minute window opening deletes nothing; day 1 deleted day 4's
    rate_budget.take(engine, "whoop", DAY, 10, NOW)
    kept = {(kind, start.date()) for _, kind, start, _, _ in _rows(engine)}
    days = {(NOW - timedelta(days=n)).date() for n in (2, 1, 0)}
    assert kept == {(kind, day) for kind in (DAY, MINUTE) for day in days}


def test_concurrent_takers_on_postgresql_get_exactly_the_budget_between_them(pg_url):
    engines = [make_engine(pg_url, pool_size=1) for _ in range(8)]
    for engine in engines[:1]:
        with engine.begin() as conn:
            conn.execute(RateBudget.__table__.delete())
    granted: list[int] = []
    lock, start = threading.Lock(), threading.Barrier(len(engines))

    def taker(engine) -> None:
        start.wait()
        for _ in range(40):
            used = rate_budget.take(engine, "whoop", DAY, 100, NOW)
            if used is not None:
                with lock:
                    granted.append(used)

    threads = [threading.Thread(target=taker, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert sorted(granted) == list(range(1, 101))  # 320 tries, 100 slots, each granted once
        with engines[0].connect() as conn:
            assert rate_budget.usage(conn, "whoop", DAY, NOW) == (100, 100)
    finally:
        for engine in engines:
            engine.dispose()
