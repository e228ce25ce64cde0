"""Durable first, fast always: a commit that outlives the deadline is answered 503 (the sender
retries), never 200; once the database catches up, the retry is stored once. Sequenced by
events: the tests never measure time."""

from __future__ import annotations

import threading

import requests

from sandbox import SandboxServer
from storage.engine import make_engine
from tests.webhooks.conftest import config, count, running
from tests.webhooks.test_receiver_with_sandbox_deliveries import admin, settle, signed
from webhooks.receiver import create_app
from webhooks.sink import DatabaseSink, Outcome

EVENT = {"user_id": 10129, "id": "5a298ba0-d922-4c4e-9498-aaec7ebaff6e", "type": "sleep.updated", "trace_id": "tr-1"}


class _StuckDatabase:
    """A sink whose commits wait until the test releases them (a database under a long lock)."""

    def __init__(self, sink: DatabaseSink) -> None:
        self.sink = sink
        self.entered = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()
        self.outcomes: list[Outcome] = []

    def accept(self, event) -> Outcome:
        self.entered.set()
        self.release.wait()
        outcome = self.sink.accept(event)
        self.outcomes.append(outcome)
        self.finished.set()
        return outcome


def test_a_stuck_commit_is_answered_503_in_time_and_the_retry_is_stored_once(receiver, db_url):
    engine = make_engine(db_url)
    stuck = _StuckDatabase(DatabaseSink(engine))
    app = create_app(config(whoop_deadline=0.05), stuck)
    with running(app) as url:
        body, headers = signed(EVENT)
        answer = requests.post(f"{url}/webhooks/whoop", data=body, headers=headers, timeout=30)
        # The answer came while the commit was still held: the receiver did not wait for it.
        assert stuck.entered.is_set() and not stuck.release.is_set()
        assert answer.status_code == 503 and "Retry-After" in answer.headers
        stuck.release.set()
        assert stuck.finished.wait(30)
        assert stuck.outcomes == [Outcome.STORED] and count(engine) == 1
        body, headers = signed(EVENT)  # WHOOP's retry: the same trace_id
        assert requests.post(f"{url}/webhooks/whoop", data=body, headers=headers, timeout=30).status_code == 200
    assert stuck.outcomes == [Outcome.STORED, Outcome.DUPLICATE] and count(engine) == 1
    engine.dispose()


def test_slow_apis_do_not_slow_the_receiver_it_never_calls_them(pushing, receiver):
    pushing.add_fault("latency", "/", ms=60_000, times=1000)  # every API call would take a minute
    pushing.clear_requests()
    admin(pushing, "advance")
    log = settle(pushing)
    assert log and all(entry["status"] == 200 for entry in log)
    assert count(receiver.engine) == len(log)
    assert pushing.requests == []  # nothing on the request path asked WHOOP or Withings anything


def test_the_sandbox_retries_a_503_until_the_stuck_database_has_the_event(receiver, db_url):
    engine = make_engine(db_url)
    stuck = _StuckDatabase(DatabaseSink(engine))
    with running(create_app(config(whoop_deadline=0.05), stuck)) as url:
        with SandboxServer(days=10, seed=7) as sb:
            sb.push.configure(whoop_url=f"{url}/webhooks/whoop", time_scale=0.0001)
            admin(sb, "rescore")
            assert sb.push.wait_logged(1, 30)  # the first delivery was answered while the commit was held
            stuck.release.set()
            log = settle(sb)
    whoop = [entry for entry in log if entry["provider"] == "whoop"]
    assert whoop[0]["status"] == 503
    traces = {entry["event"]["trace_id"] for entry in whoop}
    assert {entry["event"]["trace_id"] for entry in whoop if entry["status"] == 200} == traces
    assert count(engine) == len(traces)
    engine.dispose()
