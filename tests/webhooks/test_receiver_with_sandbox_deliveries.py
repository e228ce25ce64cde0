"""The receiver driven by the sandbox's signed deliveries: what it stores, refuses and stores once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time

import requests
from sqlalchemy.exc import OperationalError

from sandbox import WHOOP_CLIENT_SECRET, SandboxServer
from storage.engine import make_engine
from tests.webhooks.conftest import PATH_SECRET, WHOOP_USER, WITHINGS_USER, count, running, stored
from webhooks.receiver import create_app
from webhooks.sink import DatabaseSink


def admin(sb: SandboxServer, action: str, **params) -> dict:
    """Change the sandbox's data through its admin API (which is what pushes)."""
    response = requests.post(f"{sb.url}/_sandbox/{action}", params=params, timeout=10)
    response.raise_for_status()
    return response.json()


def settle(sb: SandboxServer) -> list[dict]:
    """Wait until every delivery (retries included) is done; the delivery log."""
    assert sb.push.wait_idle(30)
    return sb.push.log


def signed(body: dict, secret: str = WHOOP_CLIENT_SECRET, at_ms: int | None = None) -> tuple[bytes, dict]:
    """A WHOOP webhook body and its headers, signed independently of the code under test."""
    raw = json.dumps(body).encode()
    stamp = str(at_ms if at_ms is not None else int(time.time() * 1000))
    digest = hmac.new(secret.encode(), stamp.encode() + raw, hashlib.sha256).digest()
    return raw, {
        "X-WHOOP-Signature": base64.b64encode(digest).decode(),
        "X-WHOOP-Signature-Timestamp": stamp,
        "Content-Type": "application/json",
    }


def test_a_scored_day_becomes_stored_whoop_and_withings_events(pushing, receiver):
    admin(pushing, "advance")
    log = settle(pushing)
    assert log and all(entry["outcome"] == "delivered" and entry["status"] == 200 for entry in log)
    rows = stored(receiver.engine)
    assert len(rows) == len(log)
    whoop = [row for row in rows if row.provider == "whoop"]
    assert {row.event_type for row in whoop} >= {"sleep.updated", "recovery.updated"}
    assert all(row.user_id == WHOOP_USER and row.dedupe_key == f"whoop:{row.trace_id}" for row in whoop)
    sent = {entry["event"]["trace_id"]: entry["event"] for entry in log if entry["provider"] == "whoop"}
    for row in whoop:
        assert json.loads(row.payload) == sent[row.trace_id]
        assert row.object_id == sent[row.trace_id]["id"] and row.processed_at is None and row.attempts == 0


def test_a_recovery_event_names_the_sleeps_uuid_not_the_cycle(pushing, receiver):
    cycle_id = admin(pushing, "rescore")["cycle_id"]
    settle(pushing)
    recovery = pushing.history.collections["recovery"].get(cycle_id)
    rows = [row for row in stored(receiver.engine) if row.event_type == "recovery.updated"]
    assert [row.object_id for row in rows] == [recovery["sleep_id"]]
    assert str(cycle_id) not in {row.object_id for row in rows}


def test_a_weigh_in_becomes_a_stored_withings_notification(pushing, receiver):
    grpid = admin(pushing, "weigh-in", kg=81.2)["grpid"]
    settle(pushing)
    group = next(g for g in pushing.history.groups if g["grpid"] == grpid)
    (row,) = [row for row in stored(receiver.engine) if row.provider == "withings"]
    assert (row.user_id, row.appli, row.startdate, row.enddate) == (WITHINGS_USER, 1, group["date"], group["date"])
    assert row.dedupe_key == f"withings:{WITHINGS_USER}:1:{group['date']}:{group['date']}"


def test_an_activity_edit_notifies_its_day(pushing, receiver):
    day = pushing.history.last_day.isoformat()
    admin(pushing, "edit-activity", date=day, steps=12345)
    settle(pushing)
    (row,) = stored(receiver.engine)
    assert (row.appli, row.enddate - row.startdate) == (16, 86399)


def test_bad_signatures_are_refused_retried_and_store_nothing(pushing, receiver):
    pushing.push.add_fault("bad_signature", times=1000, provider="whoop")
    admin(pushing, "rescore")
    log = settle(pushing)
    assert log and {entry["status"] for entry in log} == {401}
    first_tries = [entry for entry in log if entry["attempt"] == 0]
    # WHOOP retries each failed delivery 5 times, then gives up.
    assert len(log) == 6 * len(first_tries) and {e["outcome"] for e in log if e["attempt"] == 5} == {"gave_up"}
    assert count(receiver.engine) == 0


def test_stale_timestamps_are_refused_and_store_nothing(pushing, receiver):
    pushing.push.add_fault("stale_timestamp", times=1000, provider="whoop")
    admin(pushing, "rescore")
    assert {entry["status"] for entry in settle(pushing)} == {401}
    assert count(receiver.engine) == 0


def test_a_wrong_withings_secret_gets_404_and_stores_nothing(pushing, receiver):
    wrong = receiver.withings_url[:-1] + ("B" if receiver.withings_url[-1] != "B" else "C")
    pushing.push.configure(withings_url=wrong)
    admin(pushing, "weigh-in", kg=80.0)
    assert {entry["status"] for entry in settle(pushing)} == {404}
    assert requests.head(wrong, timeout=5).status_code == 404
    assert requests.head(receiver.withings_url, timeout=5).status_code == 200
    assert count(receiver.engine) == 0


def test_oversized_bodies_are_refused_while_read_and_store_nothing(receiver):
    body, headers = signed({"user_id": WHOOP_USER, "id": "x", "type": "sleep.updated", "trace_id": "t" * 10})
    huge = body[:-1] + b', "pad": "' + b"a" * (65 * 1024) + b'"}'
    assert requests.post(receiver.whoop_url, data=huge, headers=headers, timeout=10).status_code == 413

    def chunks():  # no Content-Length: the cap holds while the body streams in
        for _ in range(100):
            yield b"a" * 1024

    assert requests.post(receiver.whoop_url, data=chunks(), headers=headers, timeout=10).status_code == 413
    form = b"userid=3141592&appli=1&pad=" + b"a" * (65 * 1024)
    assert requests.post(receiver.withings_url, data=form, timeout=10).status_code == 413
    assert count(receiver.engine) == 0


def test_duplicate_deliveries_store_once(pushing, receiver):
    pushing.push.add_fault("duplicate", times=1000)
    admin(pushing, "advance")
    log = settle(pushing)
    assert all(entry["status"] == 200 for entry in log)
    assert count(receiver.engine) == len(log) // 2 == len({json.dumps(e["event"], sort_keys=True) for e in log})


def test_reordered_deliveries_are_all_stored(pushing, receiver):
    pushing.push.add_fault("reorder")
    admin(pushing, "advance")
    log = settle(pushing)
    assert count(receiver.engine) == len(log)


def test_a_dropped_delivery_stores_nothing_and_the_rest_arrive(pushing, receiver):
    pushing.push.add_fault("drop", provider="whoop")
    admin(pushing, "advance")
    log = settle(pushing)
    dropped = [entry for entry in log if entry["outcome"] == "dropped"]
    assert len(dropped) == 1 and dropped[0]["status"] is None
    traces = {row.trace_id for row in stored(receiver.engine)}
    assert dropped[0]["event"]["trace_id"] not in traces
    assert count(receiver.engine) == len(log) - 1


class _FailingFirst:
    """A sink whose database is down for the first `failures` events."""

    def __init__(self, sink: DatabaseSink, failures: int) -> None:
        self.sink, self.failures = sink, failures

    def accept(self, event):
        if self.failures > 0:
            self.failures -= 1
            raise OperationalError("INSERT", {}, Exception("the database is restarting"))
        return self.sink.accept(event)


def test_a_failing_receiver_is_retried_until_the_event_is_stored(receiver, db_url):
    engine = make_engine(db_url)
    with running(create_app(receiver.config, _FailingFirst(DatabaseSink(engine), failures=2))) as url:
        with SandboxServer(days=10, seed=7) as sb:
            sb.push.configure(whoop_url=f"{url}/webhooks/whoop", time_scale=0.0001)
            admin(sb, "rescore")
            log = settle(sb)
    assert [entry["status"] for entry in log[:2]] == [503, 503]
    retried = [entry for entry in log if entry["attempt"] > 0]
    assert retried and all(entry["status"] == 200 for entry in retried)
    assert count(engine) == len({entry["event"]["trace_id"] for entry in log})
    engine.dispose()


def test_an_unknown_user_gets_200_a_log_line_and_no_row(receiver, caplog):
    caplog.set_level(logging.INFO, logger="webhooks")
    body, headers = signed({"user_id": 424242, "id": "a1", "type": "workout.deleted", "trace_id": "t-unknown"})
    answer = requests.post(receiver.whoop_url, data=body, headers=headers, timeout=10)
    known, known_headers = signed({"user_id": WHOOP_USER, "id": "a1", "type": "workout.deleted", "trace_id": "t-1"})
    assert requests.post(receiver.whoop_url, data=known, headers=known_headers, timeout=10).text == answer.text
    assert answer.status_code == 200
    assert any("424242" in record.getMessage() and "no account" in record.getMessage() for record in caplog.records)
    assert [row.trace_id for row in stored(receiver.engine)] == ["t-1"]


def test_subscribing_heads_the_callback_first(pushing, receiver):
    token = requests.post(
        f"{pushing.url}/v2/oauth2",
        data={
            "action": "requesttoken",
            "grant_type": "refresh_token",
            "client_id": pushing.withings_credentials.client_id,
            "client_secret": pushing.withings_credentials.client_secret,
            "refresh_token": pushing.mint_refresh_token("withings"),
        },
        timeout=10,
    ).json()["body"]["access_token"]
    auth = {"Authorization": f"Bearer {token}"}

    def notify(**form) -> dict:
        return requests.post(f"{pushing.url}/notify", data=form, headers=auth, timeout=10).json()

    wrong = receiver.withings_url.replace(PATH_SECRET, "not-the-secret-at-all-0123456789")
    assert notify(action="subscribe", callbackurl=wrong, appli="1")["status"] != 0
    assert notify(action="subscribe", callbackurl=receiver.withings_url, appli="1")["status"] == 0
    profiles = notify(action="list")["body"]["profiles"]
    assert [(p["appli"], p["callbackurl"]) for p in profiles] == [(1, receiver.withings_url)]
    pushing.push.configure(withings_url="")  # only the subscription routes it now
    admin(pushing, "weigh-in", kg=79.5)
    settle(pushing)
    assert [row.appli for row in stored(receiver.engine)] == [1]
