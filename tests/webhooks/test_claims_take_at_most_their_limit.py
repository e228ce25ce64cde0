"""A processor claims at most its batch of due events, on SQLite and on PostgreSQL, so that the
others (watch, worker, another serve) find the rest."""

from __future__ import annotations

from datetime import timedelta

from configuration import clock
from storage import event_queue
from storage.engine import make_engine
from storage.inbound import InboundEvent, store_event
from tests.webhooks.conftest import WHOOP_USER, link_sandbox_users


def test_a_claim_takes_its_limit_oldest_first_and_the_next_claim_the_rest(db_url):
    engine = make_engine(db_url)
    link_sandbox_users(engine)
    now = clock.utcnow()
    for n in range(5):
        body = {"user_id": WHOOP_USER, "id": f"s{n}", "type": "sleep.updated", "trace_id": f"t{n}"}
        event = InboundEvent("whoop", f"whoop:t{n}", WHOOP_USER, body, event_type="sleep.updated", object_id=f"s{n}")
        assert store_event(engine, event, now)
    lease = timedelta(minutes=5)
    first = event_queue.claim(engine, now, 2, lease)
    second = event_queue.claim(engine, now, 2, lease)
    third = event_queue.claim(engine, now, 2, lease)
    assert [len(first), len(second), len(third)] == [2, 2, 1]
    ids = [e.id for e in first + second + third]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert event_queue.claim(engine, now, 2, lease) == []  # all held until their lease ends
    engine.dispose()
