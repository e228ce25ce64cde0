"""`watch` with push: no polls and a daily sweep while events come, the usual cadence once they stop.

Days of the watch's timetable (sync/cadence.py) run here on a fake clock: each step asks what is
due, records it as run, and jumps to the next wake-up, as the loop does between its waits.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import OperationalError

from configuration.push import push_live
from storage import accounts
from storage.engine import make_engine
from storage.inbound import InboundEvent, store_event
from sync import resources
from sync.cadence import EVENT_REQUESTS_PER_DAY, PUSH_RECHECK_SECONDS, SWEEP_SECONDS, Timing
from sync.watch import Schedule, Watcher

HOUR = 3600.0
START = datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc)


@dataclass(frozen=True)
class PushSettings:
    push_providers: tuple[str, ...] = ("whoop",)
    push_silent_after: timedelta = timedelta(hours=26)


WHOOP_PUSH = PushSettings()


def simulate(hours: float, events: list[float], settings=WHOOP_PUSH, sources=("whoop", "withings")) -> list:
    """(hour, kind, sources) of every cycle a watch starting at hour 0 runs; `events` are the hours
    WHOOP events came. A cycle takes one second of the fake clock."""
    timing, now, cycles = Timing(Schedule()), 0.0, []
    recheck = PUSH_RECHECK_SECONDS if settings.push_providers else None
    while now < hours * HOUR:
        wall = START + timedelta(seconds=now)
        last = max((START + timedelta(hours=h) for h in events if START + timedelta(hours=h) <= wall), default=None)
        live = {s: push_live(s, settings, last if s == "whoop" else None, wall) for s in sources}
        due = timing.due(sources, live, now)
        if due is not None:
            cycles.append((now / HOUR, *due))
            timing.ran(*due, now)
            now += 1.0
        now += timing.wait(sources, live, now, recheck)
    return cycles


def of(cycles, kind: str, source: str = "whoop") -> list[float]:
    return [hour for hour, k, sources in cycles if k == kind and source in sources]


def requests(cycles, source: str = "whoop") -> int:
    """Pages the cycles ask for: one per resource a cycle reads (a 7-day lookback is one page)."""
    polled, declared = len(resources.polled(source)), len(resources.of_source(source))
    return len(of(cycles, "poll", source)) * polled + len(of(cycles, "reconcile", source)) * declared


def test_without_push_whoop_is_polled_every_ten_minutes_and_reconciled_every_six_hours():
    cycles = simulate(24, events=[], settings=PushSettings(push_providers=()))
    assert of(cycles, "reconcile") == [0.0, 6.0, 12.0, 18.0]
    assert len(of(cycles, "poll")) == 24 * 6 - 4  # the reconciliations read what a poll would
    # 140 polls of a page per polled resource and 4 reconciliations of one per declared resource;
    # the plan adds 24 refreshes and counts a poll at each reconciliation
    polled, declared = len(resources.polled("whoop")), len(resources.of_source("whoop"))
    assert requests(cycles) == 140 * polled + 4 * declared <= Schedule().requests_per_day("whoop") - 24


def test_while_events_come_whoop_is_not_polled_and_swept_once_a_day():
    events = [h + 0.5 for h in range(-1, 72, 5)]  # an event every five hours
    cycles = simulate(72, events)
    assert of(cycles, "poll") == []
    assert of(cycles, "reconcile") == [0.0, 24.0, 48.0]  # the sweep: nothing stays missing over a day
    assert len(of(cycles, "poll", "withings")) > 24 * 40  # Withings, push not relied on, polls as usual
    normal = requests(simulate(24, events=[], settings=PushSettings(push_providers=())))
    assert requests(simulate(24, events)) * 5 <= normal  # at most a fifth (here 5 against 300)


def test_when_events_stop_polling_returns_by_itself_within_a_recheck():
    events = [-1.0, 2.0, 7.0]  # the last event at hour 7: silent from hour 33
    cycles = simulate(40, events)
    silent_at = 7 + 26
    assert of(cycles, "poll") and min(of(cycles, "poll")) > silent_at
    back = min(hour for hour, _kind, sources in cycles if "whoop" in sources and hour > 24)
    assert silent_at < back <= silent_at + PUSH_RECHECK_SECONDS / HOUR
    # the sweep of hour 24 is over six hours old by then: the first cycle back reconciles, and
    # the six-hourly reconciliations go on from there
    assert [h for h in of(cycles, "reconcile") if h > 24] == [back, back + 6]
    reads = [hour for hour, _kind, sources in cycles if "whoop" in sources and hour >= back]
    assert all(
        0 < b - a <= 600 / HOUR + 1e-3 for a, b in zip(reads, reads[1:], strict=False)
    )  # every ten minutes again


def test_events_that_start_again_stop_the_polls_at_the_next_wake_up():
    events = [30.0, 35.0]  # none for the first day, then push comes (back)
    cycles = simulate(48, events)
    polls = of(cycles, "poll")
    assert polls and max(polls) < 30 + 600 / HOUR + PUSH_RECHECK_SECONDS / HOUR
    sweeps = of(cycles, "reconcile")
    assert all(b - a <= SWEEP_SECONDS / HOUR for a, b in zip(sweeps, sweeps[1:], strict=False))


def test_the_watch_reads_each_providers_last_event_for_its_own_account(db_url, monkeypatch):
    from configuration.settings import get_settings

    monkeypatch.setenv("PUSH_PROVIDERS", "whoop,withings")
    engine = make_engine(db_url)
    with engine.begin() as conn:
        alice, bob = accounts.ensure(conn, "alice"), accounts.ensure(conn, "bob")
        accounts.link(conn, alice, "whoop", 11)
        accounts.link(conn, bob, "whoop", 22)
        accounts.link(conn, alice, "withings", 33)
    now = datetime.now(timezone.utc)
    event = InboundEvent(provider="whoop", dedupe_key="whoop:t1", user_id=11, payload={}, trace_id="t1")
    store_event(engine, event, now - timedelta(hours=1))
    old = InboundEvent(provider="withings", dedupe_key="withings:33:1:0:1", user_id=33, payload={}, appli=1)
    store_event(engine, old, now - timedelta(hours=30))
    settings = get_settings(read_dotenv=False)

    def live(name: str, account_id: int) -> dict:
        watcher = Watcher(settings, engine, Schedule(), threading.Event(), account=(name, account_id))
        watcher.clients = {"whoop": None, "withings": None}
        return watcher._push_live()

    try:
        assert live("alice", alice) == {"whoop": True, "withings": False}  # Withings silent for 30 h
        assert live("bob", bob) == {"whoop": False, "withings": False}  # alice's events are not bob's
        watcher = Watcher(settings, engine, Schedule(), threading.Event(), account=("alice", alice))
        watcher.clients = {"whoop": None, "withings": None}
        assert watcher._push_live() == {"whoop": True, "withings": False}

        def gone(*_args):
            raise OperationalError("SELECT", {}, Exception("server closed the connection"))

        monkeypatch.setattr("storage.subscriptions.last_events", gone)
        assert watcher._push_live() == {"whoop": True, "withings": False}  # the last answer, not a crash
    finally:
        engine.dispose()


def test_the_budget_plans_push_at_its_own_cost_so_one_app_watches_hundreds():
    from sync.watch import check_budget

    schedule = Schedule()
    assert schedule.requests_per_day("whoop", push=True) * 5 <= schedule.requests_per_day("whoop")
    with pytest.raises(ValueError, match="over half its daily limit"):
        check_budget(schedule, ["whoop"], 200)  # polling 200 people: over 60,000 a day
    (line,) = check_budget(schedule, ["whoop"], 200, push=("whoop",))
    each = schedule.requests_per_day("whoop", push=True)  # a sweep of each resource and the events' own
    assert each == len(resources.of_source("whoop")) + EVENT_REQUESTS_PER_DAY["whoop"]
    assert f"about {200 * each:,} requests a day for 200 accounts" in line and "sweep every 24 h" in line
    assert f"({200 * schedule.requests_per_day('whoop'):,} a day)" in line  # what a silent push would bring back


def test_a_watch_relying_on_push_says_so_and_its_first_cycle_reconciles(etl_env, db_url):
    import os

    from sqlalchemy import select

    from models import push_subscription
    from tests.sync.test_watch import Watch

    callback = "https://push.example.org/webhooks/withings/Xq3vT9mKp2Lw8Zr5Nb7Yc4Hd6Jf1Gs0A"
    etl_env.app.push.subscriptions.append({"person": 0, "callbackurl": callback, "appli": 1})
    env = {**os.environ, "WHOOP_PLATFORM_NO_DOTENV": "1", "PUSH_PROVIDERS": "whoop,withings"}
    watch = Watch(env, "--cycles", "1")
    assert watch.proc.wait(timeout=90) == 0, "".join(watch.lines)
    text = "".join(watch.lines)
    each = Schedule().requests_per_day("whoop", push=True)
    assert f"watch: whoop: about {each} requests a day" in text and "push relied on (PUSH_PROVIDERS)" in text
    assert "watch: reconcile of whoop, withings" in text and "Traceback" not in text
    engine = make_engine(db_url)
    try:  # the sweep listed the Withings subscriptions, for `status --check`
        with engine.connect() as conn:
            stored = conn.execute(select(push_subscription.c.appli, push_subscription.c.callback)).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in stored] == [(1, callback.replace("Xq3vT9mKp2Lw8Zr5Nb7Yc4Hd6Jf1Gs0A", "Xq3v…"))]
