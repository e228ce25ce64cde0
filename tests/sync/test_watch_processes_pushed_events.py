"""`watch` processes the pushed events `serve` stored, on a thread beside its polls."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

import models
from configuration import clock
from storage.engine import make_engine
from storage.inbound import InboundEvent, store_event
from tests.sync.test_watch import Watch


@pytest.fixture
def watch_env(etl_env):
    return {**os.environ, "WHOOP_PLATFORM_NO_DOTENV": "1"}


def test_watch_stores_an_in_bed_event_while_it_polls(watch_env, db_url, sandbox):
    userid = int(sandbox.app.people.identity(0).withings_userid)
    watch = Watch(watch_env, "--poll-withings", "10")
    engine = make_engine(db_url)
    try:
        watch.wait_for("watch: reconcile of")  # the first cycle linked the account's users
        form = {"userid": userid, "appli": 50, "date": "1765100000"}
        assert store_event(engine, InboundEvent("withings", "withings:bed:w", userid, form, appli=50), clock.utcnow())
        watch.wait_for("in_bed")
        with engine.connect() as conn:
            assert conn.execute(select(models.withings_bed_event.c.user_id)).scalar() == userid
    finally:
        code = watch.terminate()
        engine.dispose()
    assert code == 0, "".join(watch.lines)
