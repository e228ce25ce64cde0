"""A delivery the sandbox drops is fetched by `watch`'s daily sweep: push live stops the polls, not the net.

The watch loop runs for real (sync/watch.py `Watcher.run`) on a fake monotonic clock: each wait
it asks for moves the clock instead of sleeping, so a day of its cadence passes in a moment.
"""

from __future__ import annotations

import threading
import types

import pytest
from sqlalchemy import select

import models
from configuration.settings import get_settings
from sync import watch as watch_module
from sync.cadence import SWEEP_SECONDS
from sync.watch import Schedule, Watcher, watched_accounts
from tests.webhooks.conftest import stored
from tests.webhooks.test_event_processing import world  # noqa: F401 - the fixture
from tests.webhooks.test_receiver_with_sandbox_deliveries import admin, settle


class FakeDay(threading.Event):
    """The watch's stop event and clock: `wait(seconds)` moves the clock, and runs `between` once,
    at the first wait after the first cycle (the change whose delivery is dropped)."""

    def __init__(self, between) -> None:
        super().__init__()
        self.now, self.between, self.waits = 1000.0, between, 0

    def monotonic(self) -> float:
        return self.now

    def wait(self, timeout=None) -> bool:
        self.waits += 1
        if self.between is not None:
            self.between, change = None, self.between
            change()
        self.now += timeout or 0.0
        if self.waits > 10_000:  # a loop that never reaches its sweep fails instead of hanging
            self.set()
        return self.is_set()


def _recovery_score(engine, cycle_id: int):
    with engine.connect() as conn:
        return conn.execute(
            select(models.recovery.c.recovery_score).where(models.recovery.c.whoop_cycle_id == cycle_id)
        ).scalar()


def test_a_dropped_delivery_is_caught_by_the_daily_sweep(world, monkeypatch):  # noqa: F811
    monkeypatch.setenv("PUSH_PROVIDERS", "whoop")
    settings = get_settings(read_dotenv=False)
    # Push has been working: a day's events were delivered and processed, so watch relies on it.
    admin(world.sb, "advance")
    settle(world.sb)
    assert world.process() and stored(world.engine)
    changed: dict = {}

    def dropped_rescore() -> None:
        world.sb.push.add_fault("drop", times=1000, provider="whoop")
        earlier = len(world.sb.push.log)
        changed["cycle"] = admin(world.sb, "rescore")["cycle_id"]
        log = settle(world.sb)[earlier:]
        assert log and {entry["outcome"] for entry in log} == {"dropped"}
        assert world.process() == []  # nothing arrived, so nothing is fetched
        changed["before"] = _recovery_score(world.engine, changed["cycle"])

    day = FakeDay(dropped_rescore)
    monkeypatch.setattr(watch_module, "time", types.SimpleNamespace(monotonic=day.monotonic, sleep=lambda _s: None))
    (account,) = watched_accounts(world.engine, settings)
    watcher = Watcher(settings, world.engine, Schedule(), day, max_cycles=2, account=account)
    cycles: list[tuple[str, float]] = []
    real_cycle = watcher._cycle

    def cycle(plan, kind):
        cycles.append((kind, day.now))
        return real_cycle(plan, kind)

    monkeypatch.setattr(watcher, "_cycle", cycle)
    watcher.open(["whoop"])
    assert watcher.run() == 0
    assert not day.is_set(), "the watch never reached its daily sweep"
    # The start's reconciliation, then no poll for a day (push is live), then the sweep.
    assert [kind for kind, _at in cycles] == ["reconcile", "reconcile"]
    assert cycles[1][1] - cycles[0][1] == pytest.approx(SWEEP_SECONDS)
    history = world.sb.history_of()
    wanted = history.collections["recovery"].get(changed["cycle"])["score"]["recovery_score"]
    assert changed["before"] != wanted  # the dropped rescore was not stored by push
    assert _recovery_score(world.engine, changed["cycle"]) == wanted
