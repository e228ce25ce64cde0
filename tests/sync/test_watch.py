"""`etl.py watch`: cycles against the sandbox, picks up a new weigh-in, stops cleanly on SIGTERM.

Every wait here is for an event: a line the watch prints, or a request reaching the sandbox.
"""

from __future__ import annotations

import os
import time

import pytest

from sync import resources
from sync.watch import Schedule, check_budget
from tests.helpers.api import requests_served
from tests.helpers.etl import table_counts
from tests.helpers.etl_process import EtlProcess


class Watch(EtlProcess):
    """`python etl.py watch` in a subprocess, its output lines collected as they come.

    `verbose` adds the debug lines, among them the one a lock's taker prints when it starts
    waiting for another run (sync.lock)."""

    def __init__(self, env: dict, *args: str, verbose: bool = False):
        super().__init__(env, *(["--verbose"] if verbose else []), "watch", *args)

    def _seen(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    def wait_for(self, text: str, count: int = 1, timeout: float = 60) -> None:
        """Return once `count` lines hold `text`; fail when the watch ends first, or after `timeout`."""
        self.wait_until(lambda: self._seen(text) >= count, repr(text), timeout)


@pytest.fixture
def watch_env(etl_env):
    return {**os.environ, "WHOOP_PLATFORM_NO_DOTENV": "1"}


def test_two_cycles_pick_up_a_new_weighin_and_sigterm_exits_0(watch_env, db_url, sandbox):
    watch = Watch(watch_env, "--poll-withings", "10")
    try:
        watch.wait_for("watch: reconcile of")
        assert any("requests a day" in line and line.startswith("watch: whoop") for line in watch.lines)
        before = table_counts(db_url)["withings_weight"]
        sandbox.app.add_weigh_in(71.3)
        watch.wait_for("watch: poll of withings")
        assert "withings measures +1/" in "".join(watch.lines)
        assert table_counts(db_url)["withings_weight"] == before + 1
    finally:
        code = watch.terminate()
    assert code == 0, "".join(watch.lines)
    assert "watch: stopped" in "".join(watch.lines) and "Traceback" not in "".join(watch.lines)


def test_sigterm_in_the_middle_of_a_cycle_stops_between_pages(watch_env, sandbox):
    sandbox.app.faults.latency_ms = 400  # a full load of 60 days: many pages, each slow
    data = ("/developer/v2/cycle", "/developer/v2/recovery", "/developer/v2/activity/", "/measure")
    mid_cycle = requests_served(sandbox, 3, data)  # a cycle is under way
    watch = Watch(watch_env)
    try:
        assert mid_cycle.wait(timeout=60), "".join(watch.lines)
    finally:
        started = time.monotonic()
        code = watch.terminate()
    assert code == 0 and time.monotonic() - started < 10, "".join(watch.lines)
    assert "watch: stopped" in "".join(watch.lines)


def test_a_schedule_over_the_daily_budget_is_refused():
    assert Schedule().requests_per_day("whoop") < 400 and Schedule().requests_per_day("withings") < 1500
    greedy = Schedule(poll_seconds={"whoop": 10.0, "withings": 90.0})
    with pytest.raises(ValueError, match="over half its daily limit"):
        check_budget(greedy, ["whoop"])
    assert "no daily limit documented" in check_budget(greedy, ["withings"])[0]


def test_a_cycle_waits_for_the_run_lock_so_cron_and_watch_never_write_at_once(watch_env, db_url):
    from storage.engine import make_engine
    from sync.lock import run_lock
    from tests.helpers.etl import sync_states

    engine = make_engine(db_url)
    try:
        with run_lock(engine):  # a cron run in progress
            watch = Watch(watch_env, "--cycles", "1", verbose=True)
            watch.wait_for("is held by another run: waiting")  # the cycle waits for the lock...
            assert sync_states(db_url) == {}  # ...having written nothing
        assert watch.proc.wait(timeout=60) == 0, "".join(watch.lines)
    finally:
        engine.dispose()
        if watch.proc.poll() is None:
            watch.terminate()
    assert len(sync_states(db_url)) == len(resources.RESOURCES)


@pytest.fixture
def two_accounts(db_url, monkeypatch):
    from tests.helpers.accounts import sync_two_accounts, two_people

    with two_people() as sb:
        sync_two_accounts(sb, db_url, monkeypatch)
        yield {**os.environ, "WHOOP_PLATFORM_NO_DOTENV": "1"}


def test_watch_cycles_every_account_and_one_held_account_never_stops_the_other(two_accounts, db_url):
    from sqlalchemy import select

    from models import SyncState
    from storage import accounts
    from storage.engine import make_engine
    from sync.lock import account_lock

    engine = make_engine(db_url)
    with engine.connect() as conn:
        alice = accounts.require(conn, "alice")
        # Every resource but the WHOOP profile, which is read at most weekly (its `read_every`).
        synced = dict(
            conn.execute(select(SyncState.id, SyncState.last_attempt_at).where(SyncState.resource != "profile")).all()
        )
    try:
        # A run of alice in progress: on PostgreSQL bob's cycle goes on meanwhile; on SQLite
        # (one writing process at a time) nothing is held here and both cycle at once.
        with account_lock(engine, alice):
            watch = Watch(two_accounts, "--cycles", "1", verbose=True)
            watch.wait_for("(account bob)")
            assert "for 2 accounts" in "".join(watch.lines)
            if engine.dialect.name == "postgresql":
                watch.wait_for("account alice's lock is held by another run: waiting")
                assert "(account alice)" not in "".join(watch.lines)
        assert watch.proc.wait(timeout=90) == 0, "".join(watch.lines)
        assert "reconcile of whoop, withings (account alice)" in "".join(watch.lines)
        with engine.connect() as conn:
            after = dict(conn.execute(select(SyncState.id, SyncState.last_attempt_at)).all())
        assert all(after[key] > synced[key] for key in synced)  # every resource of both accounts
        only = Watch(two_accounts, "--cycles", "1", "--account", "bob")
        assert only.proc.wait(timeout=90) == 0, "".join(only.lines)
        assert "(account bob)" in "".join(only.lines) and "(account alice)" not in "".join(only.lines)
        unknown = Watch(two_accounts, "--account", "carol")
        assert unknown.proc.wait(timeout=30) == 2 and "alice, bob" in "".join(unknown.lines)
    finally:
        engine.dispose()
