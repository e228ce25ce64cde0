"""`worker --until-idle` ends after a bounded wait on due accounts another process keeps holding, naming them."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from configuration.settings import get_settings
from storage import accounts
from sync import worker as workers
from sync.lock import account_lock
from sync.run import RunOptions


def test_until_idle_ends_naming_the_accounts_that_stay_held(etl_env, engine, monkeypatch, caplog):
    if engine.dialect.name != "postgresql":
        pytest.skip("workers need PostgreSQL; SQLite runs one process")
    monkeypatch.setattr(workers, "BUSY_POLL_SECONDS", 0.0)
    monkeypatch.setattr(workers, "UNTIL_IDLE_BUSY_POLLS", 3)
    with engine.connect() as conn:
        held = accounts.require(conn, "default")
    loop = workers.Worker(
        get_settings(), engine, RunOptions(), interval=timedelta(hours=1), until_idle=True, echo=lambda _l: None
    )
    codes: list[int] = []
    # A reader, a stuck run or anyone else holding the account's advisory lock for ever.
    with account_lock(engine, held, name="default"):
        runner = threading.Thread(target=lambda: codes.append(loop.run()), daemon=True)
        runner.start()
        runner.join(120)  # a bound for the test itself: the worker decides by its looks, not by time
    assert codes == [75]
    assert loop.stats.skipped_busy == 3 and loop.stats.busy == ["default"]
    assert "still held by another process after 3 looks, left for later: default" in caplog.text
