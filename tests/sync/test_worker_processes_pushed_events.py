"""`worker` processes the pushed events `serve` stored, beside its accounts, and tells the listeners."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

import models
from configuration import clock
from configuration.settings import get_settings
from storage import accounts
from storage.inbound import InboundEvent, store_event
from sync import hooks
from sync import worker as workers
from sync.run import RunOptions

WITHINGS_USER = 3141592


class _Ear:
    """A listener that hears in/out-of-bed events (what the MQTT publisher hears)."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, bool]] = []
        self.event = threading.Event()

    def factory(self, settings, engine, *, long_lived: bool = False):
        return self

    def bed_changed(self, engine, account: str, in_bed: bool, at) -> None:
        self.heard.append((account, in_bed))
        self.event.set()

    def account_synced(self, engine, account: str) -> None: ...

    def account_removed(self, engine, account: str) -> None: ...

    def close(self) -> None: ...


def test_a_worker_processes_a_stored_event_while_it_waits_for_due_accounts(engine, monkeypatch):
    if engine.dialect.name != "postgresql":
        pytest.skip("workers need PostgreSQL; SQLite runs one process")
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        account_id = accounts.ensure(conn)
        accounts.link(conn, account_id, "withings", WITHINGS_USER)
        accounts.set_outcome(
            conn, account_id, status="ok", ran_at=clock.utcnow(), due_at=clock.utcnow() + timedelta(days=1)
        )
    ear = _Ear()
    hooks.install(ear.factory)
    loop = workers.Worker(
        get_settings(read_dotenv=False), engine, RunOptions(), interval=timedelta(hours=1), echo=lambda _l: None
    )
    runner = threading.Thread(target=loop.run, daemon=True)
    try:
        runner.start()
        form = {"userid": WITHINGS_USER, "appli": 50, "date": "1765100000"}
        event = InboundEvent("withings", "withings:bed:1", WITHINGS_USER, form, appli=50)
        assert store_event(engine, event, clock.utcnow())
        assert ear.event.wait(30), "the worker's processor never told of the bed event"
    finally:
        loop.stop()
        runner.join(30)
        hooks.uninstall(ear.factory)
    assert ear.heard == [("default", True)] and not loop.stats.synced  # no account was due
    with engine.connect() as conn:
        (row,) = conn.execute(select(models.inbound_event)).all()
        assert row.outcome == "in_bed" and row.processed_at is not None
        assert conn.execute(select(models.withings_bed_event.c.in_bed)).scalar() is True
