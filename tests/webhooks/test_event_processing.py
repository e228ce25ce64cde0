"""The processor driven by the sandbox's deliveries: each event fetches what it names and nothing more."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import func, insert, select

import models
from configuration import clock
from configuration.settings import get_settings
from sandbox import SandboxServer
from storage.engine import make_engine
from storage.inbound import InboundEvent, store_event
from sync import events, hooks
from sync.events import Processor
from tests.webhooks.conftest import WHOOP_USER, WITHINGS_USER, config, link_sandbox_users, running, stored
from tests.webhooks.test_receiver_role import receiver_url  # noqa: F401 - the fixture
from tests.webhooks.test_receiver_with_sandbox_deliveries import admin, settle, signed
from webhooks.receiver import create_app
from webhooks.sink import DatabaseSink


@dataclass
class World:
    """A sandbox pushing to a receiver over the test database, and a processor with the sandbox's apps."""

    sb: SandboxServer
    engine: object
    settings: object
    processor: Processor
    url: str

    def process(self) -> list:
        """Process until nothing is due; every Done."""
        done = []
        while batch := self.processor.process_due():
            done += batch
        return done

    def fetched(self, provider: str = "whoop") -> list[str]:
        """The data requests made (a token's refresh and its first profile read aside)."""
        skip = ("oauth", "/user/profile", "/v2/oauth2")
        return [
            r["path"]
            for r in self.sb.app.requests
            if r["provider"] == provider and not any(s in r["path"] for s in skip)
        ]

    def rows(self, table, **where) -> list:
        with self.engine.connect() as conn:
            query = select(table).where(*(table.c[k] == v for k, v in where.items()))
            return list(conn.execute(query))


@pytest.fixture
def world(db_url, monkeypatch):
    engine = make_engine(db_url)
    link_sandbox_users(engine)
    with SandboxServer(days=10, seed=7, now=datetime.now(timezone.utc) - timedelta(days=1)) as sb:
        for key, value in sb.environment().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("DATABASE_URL", db_url)
        settings = get_settings(read_dotenv=False)
        with running(create_app(config(), DatabaseSink(engine))) as url:
            sb.push.configure(
                whoop_url=f"{url}/webhooks/whoop",
                withings_url=f"{url}/webhooks/withings/{config().withings_path_secret}",
            )
            sb.push.configure(time_scale=0.0001)
            yield World(sb, engine, settings, Processor(settings, engine), url)
    engine.dispose()


def _rescored(world: World) -> int:
    """Rescore the newest day, deliver and process its events; its cycle id."""
    cycle_id = admin(world.sb, "rescore")["cycle_id"]
    settle(world.sb)
    world.sb.app.clear_requests()
    done = world.process()
    assert done and {d.outcome for d in done} == {"stored"}, done
    return cycle_id


def test_a_rescore_becomes_stored_rows_each_fetched_once(world):
    cycle_id = _rescored(world)
    history = world.sb.history_of()
    recovery = history.collections["recovery"].get(cycle_id)
    (row,) = world.rows(models.recovery, whoop_cycle_id=cycle_id)
    assert row.recovery_score == recovery["score"]["recovery_score"] and row.whoop_sleep_id == recovery["sleep_id"]
    (sleep,) = world.rows(models.sleep, whoop_id=recovery["sleep_id"])
    assert (
        sleep.sleep_performance_percentage
        == history.collections["sleep"].get(recovery["sleep_id"])["score"]["sleep_performance_percentage"]
    )
    assert world.rows(models.cycles, whoop_id=cycle_id)
    assert all(r.processed_at is not None and r.attempts == 1 for r in stored(world.engine))
    # Processing again (nothing is due) fetches nothing and changes nothing.
    world.sb.app.clear_requests()
    assert world.process() == [] and world.fetched() == []


def test_the_recovery_event_is_followed_from_its_sleeps_uuid_to_the_cycle(world):
    cycle_id = admin(world.sb, "rescore")["cycle_id"]
    settle(world.sb)
    sleep_id = world.sb.history_of().collections["recovery"].get(cycle_id)["sleep_id"]
    with world.engine.begin() as conn:  # only the recovery event: what it alone fetches
        conn.execute(
            models.inbound_event.update()
            .where(models.inbound_event.c.event_type != "recovery.updated")
            .values(processed_at=clock.utcnow())
        )
    world.sb.app.clear_requests()
    (done,) = world.process()
    assert done.outcome == "stored"
    assert world.fetched() == [
        f"/developer/v2/activity/sleep/{sleep_id}",
        f"/developer/v2/cycle/{cycle_id}",
        f"/developer/v2/cycle/{cycle_id}/recovery",
    ]
    assert world.rows(models.recovery, whoop_cycle_id=cycle_id, whoop_sleep_id=sleep_id)


def test_duplicate_deliveries_fetch_once(world):
    requests.post(f"{world.sb.url}/_sandbox/push-fault", params={"kind": "duplicate", "times": 50}, timeout=10)
    admin(world.sb, "weigh-in", kg=82.4)
    log = settle(world.sb)
    assert len([e for e in log if e["provider"] == "withings"]) >= 2  # delivered twice
    world.sb.app.clear_requests()
    (done,) = world.process()
    assert done.outcome == "stored"
    assert len([p for p in world.fetched("withings") if p == "/measure"]) == 1


def test_a_weigh_in_becomes_a_weight_row(world):
    grpid = admin(world.sb, "weigh-in", kg=77.7)["grpid"]
    settle(world.sb)
    world.process()
    (row,) = world.rows(models.withings_weight, grpid=grpid)
    assert row.weight_kg == pytest.approx(77.7) and row.user_id == WITHINGS_USER


def test_an_activity_edit_loads_its_day(world):
    day = (world.sb.history_of().now - timedelta(days=2)).date()
    admin(world.sb, "edit-activity", date=day.isoformat(), steps=12345)
    settle(world.sb)
    world.sb.app.clear_requests()
    (done,) = world.process()
    assert done.outcome == "stored"
    (request,) = [r for r in world.sb.app.requests if r["path"] == "/v2/measure"]
    sent = {**request["query"], **request["form"]}
    assert sent["action"] == "getactivity" and sent["startdateymd"] <= day.isoformat() <= sent["enddateymd"]
    (row,) = [r for r in world.rows(models.withings_activity) if r.date == day]
    assert row.steps == 12345


def test_a_deleted_recovery_marks_only_the_recovery(world):
    cycle_id = _rescored(world)
    admin(world.sb, "delete", collection="recovery", id=cycle_id)
    settle(world.sb)
    world.sb.app.clear_requests()
    (done,) = world.process()
    assert done.outcome == "deleted"
    (recovery,) = world.rows(models.recovery, whoop_cycle_id=cycle_id)
    (sleep,) = world.rows(models.sleep, whoop_id=recovery.whoop_sleep_id)
    assert recovery.deleted_at is not None and sleep.deleted_at is None
    assert world.fetched() == []  # a deletion fetches nothing


def test_a_deleted_sleep_marks_only_the_sleep(world):
    cycle_id = _rescored(world)
    (recovery,) = world.rows(models.recovery, whoop_cycle_id=cycle_id)
    body = {"user_id": WHOOP_USER, "id": recovery.whoop_sleep_id, "type": "sleep.deleted", "trace_id": "t-sleep-del"}
    raw, headers = signed(body)
    assert requests.post(f"{world.url}/webhooks/whoop", data=raw, headers=headers, timeout=10).status_code == 200
    (done,) = world.process()
    assert done.outcome == "deleted"
    (sleep,) = world.rows(models.sleep, whoop_id=recovery.whoop_sleep_id)
    (recovery,) = world.rows(models.recovery, whoop_cycle_id=cycle_id)
    assert sleep.deleted_at is not None and recovery.deleted_at is None


def test_a_deleted_workout_marks_only_that_workout(world):
    admin(world.sb, "advance", days=4)
    settle(world.sb)
    world.process()
    workouts = world.rows(models.workout)
    assert len(workouts) >= 2, "four days of seed 7 hold workouts"
    gone = workouts[0]
    admin(world.sb, "delete", collection="workout", id=gone.whoop_id)
    settle(world.sb)
    assert [d.outcome for d in world.process()] == ["deleted"]
    marked = {r.whoop_id for r in world.rows(models.workout) if r.deleted_at is not None}
    assert marked == {gone.whoop_id}


def test_an_updated_record_the_api_no_longer_has_is_marked_deleted(world):
    cycle_id = _rescored(world)
    (recovery,) = world.rows(models.recovery, whoop_cycle_id=cycle_id)
    world.sb.app.delete_record("sleep", recovery.whoop_sleep_id)  # not pushed: the update comes late
    body = {"user_id": WHOOP_USER, "id": recovery.whoop_sleep_id, "type": "sleep.updated", "trace_id": "t-late"}
    raw, headers = signed(body)
    requests.post(f"{world.url}/webhooks/whoop", data=raw, headers=headers, timeout=10).raise_for_status()
    assert [d.outcome for d in world.process()] == ["gone"]
    (sleep,) = world.rows(models.sleep, whoop_id=recovery.whoop_sleep_id)
    assert sleep.deleted_at is not None


def test_a_failing_fetch_is_retried_with_backoff_then_quarantined_and_kept(world, monkeypatch):
    admin(world.sb, "weigh-in", kg=80.1)
    settle(world.sb)
    requests.post(
        f"{world.sb.url}/_sandbox/fault", params={"kind": "http_error", "path": "/measure", "status": 400}, timeout=10
    )
    now = [datetime.now(timezone.utc)]
    monkeypatch.setattr(clock, "utcnow", lambda: now[0])
    processor = Processor(world.settings, world.engine, max_attempts=3)
    outcomes = []
    for _ in range(3):
        outcomes += [d.outcome for d in processor.process_due()]
        assert processor.process_due() == []  # not due again before its backoff
        now[0] += events.BACKOFF_MAX
    assert outcomes == ["retry", "retry", "quarantined"]
    (event,) = stored(world.engine)
    assert event.attempts == 3 and event.outcome == "quarantined" and "400" in event.last_error
    (held,) = world.rows(models.quarantine, resource=events.QUARANTINE_RESOURCE)
    assert held.record_key == f"event={event.id}" and held.source == "withings" and "3 times" in held.reason
    assert json.loads(held.payload)["appli"] == 1
    # Once the API answers again, `quarantine retry` queues the event and it is stored.
    requests.post(f"{world.sb.url}/_sandbox/reset-faults", timeout=10)
    from click.testing import CliRunner

    import etl

    result = CliRunner().invoke(etl.cli, ["quarantine", "retry", str(held.id)])
    assert result.exit_code == 0 and "withings event queued again (1)" in result.output, result.output
    assert [d.outcome for d in processor.process_due()] == ["stored"]
    assert world.rows(models.withings_weight) and not world.rows(models.quarantine)


def test_backoff_doubles_to_an_hour():
    assert [events.backoff(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert events.backoff(50) == events.BACKOFF_MAX


def _notify(world: World, **form) -> None:
    url = f"{world.url}/webhooks/withings/{config().withings_path_secret}"
    requests.post(url, data={"userid": str(WITHINGS_USER), **form}, timeout=10).raise_for_status()


def test_in_and_out_of_bed_are_stored_once_each(world):
    _notify(world, appli="50", date="1765100000")
    _notify(world, appli="51", date="1765128000")
    assert [d.outcome for d in world.process()] == ["in_bed", "out_of_bed"]
    beds = world.rows(models.withings_bed_event)
    assert [(b.in_bed, int(b.event_at.timestamp())) for b in beds] == [(True, 1765100000), (False, 1765128000)]
    assert world.fetched("withings") == []


def test_an_unlink_marks_the_account_for_a_re_connect(world):
    from readers.health import check

    _notify(world, appli="46", action="unlink")
    assert [d.outcome for d in world.process()] == ["reconnect"]
    report = check(world.engine, world.settings, clock.utcnow())
    assert any(p["kind"] == "reconnect" and p["source"] == "withings" for p in report["problems"]), report["problems"]


def test_an_event_of_a_user_no_account_holds_is_ignored_with_a_log_line(world, caplog):
    event = InboundEvent("whoop", "whoop:stray", 999, {"id": "x"}, event_type="sleep.updated", object_id="x")
    store_event(world.engine, event, clock.utcnow())
    with caplog.at_level("INFO", logger="etl.events"):
        assert [d.outcome for d in world.process()] == ["ignored"]
    assert "no account holds" in caplog.text and world.fetched() == []


def test_two_processors_never_process_one_event_twice(world):
    admin(world.sb, "advance", days=3)
    settle(world.sb)
    total = len(stored(world.engine))
    assert total >= 6
    world.sb.app.clear_requests()
    results: list[list] = [[], []]

    def drain(index: int) -> None:
        processor = Processor(world.settings, world.engine, batch=2)
        while batch := processor.process_due():
            results[index] += batch

    threads = [threading.Thread(target=drain, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    ids = [d.event_id for side in results for d in side]
    assert sorted(ids) == sorted(r.id for r in stored(world.engine)) and len(set(ids)) == total
    assert all(r.attempts == 1 and r.processed_at is not None for r in stored(world.engine))


def test_serve_processes_in_process_while_it_answers(world):
    sink = DatabaseSink(world.engine)
    with events.processing(world.settings, world.engine) as processor, running(create_app(config(), sink)) as url:
        sink.on_stored = processor.wake
        world.sb.push.configure(withings_url=f"{url}/webhooks/withings/{config().withings_path_secret}")
        grpid = admin(world.sb, "weigh-in", kg=75.5)["grpid"]
        assert processor.wait_processed(1, 30)
    assert world.rows(models.withings_weight, grpid=grpid)


def test_serve_answers_at_once_while_its_processor_waits_on_a_slow_api(world):
    sink = DatabaseSink(world.engine)
    # Every API answer takes longer than the receiver's deadline for WHOOP (0.8 s).
    requests.post(f"{world.sb.url}/_sandbox/latency", params={"ms": 1000}, timeout=10).raise_for_status()
    with events.processing(world.settings, world.engine) as processor, running(create_app(config(), sink)) as url:
        sink.on_stored = processor.wake
        world.sb.push.configure(
            whoop_url=f"{url}/webhooks/whoop", withings_url=f"{url}/webhooks/withings/{config().withings_path_secret}"
        )
        admin(world.sb, "rescore")
        admin(world.sb, "weigh-in", kg=79.0)  # delivered while the rescore's fetches are still waiting
        log = settle(world.sb)
        # Every delivery was answered 200 the first time: the fetches held nothing the receiver needs.
        assert log and all(entry["status"] == 200 and entry["attempt"] == 0 for entry in log), log
        assert processor.wait_processed(len(log), 120)
    assert {row.outcome for row in stored(world.engine)} == {"stored"}


def test_in_bed_is_published_to_mqtt(world, monkeypatch, tmp_path):
    from publish.listener import open_listener
    from tests.helpers.mosquitto import Subscriber, broker

    with broker(tmp_path) as port:
        monkeypatch.setenv("MQTT_URL", f"mqtt://127.0.0.1:{port}")
        settings = get_settings(read_dotenv=False)
        seen = Subscriber(port)
        installed = open_listener in hooks._factories
        hooks.install(open_listener)
        try:
            with hooks.listening(settings, world.engine, long_lived=True):
                _notify(world, appli="50", date="1765100000")
                assert [d.outcome for d in Processor(settings, world.engine).process_due()] == ["in_bed"]
                messages = seen.wait_for(lambda ms: any(t.endswith("/default/in_bed") and p for t, p, _ in ms))
        finally:
            seen.close()
            if not installed:
                hooks.uninstall(open_listener)
    state = next(json.loads(p) for t, p, _ in messages if t.endswith("/default/in_bed") and p)
    config_topic = next(json.loads(p) for t, p, _ in messages if t.endswith("/in_bed/config") and p)
    assert state["state"] == "ON" and state["attributes"]["since"].startswith("2025-12-07")
    assert config_topic["device_class"] == "occupancy" and config_topic["name"] == "In bed"


def test_a_pushed_bed_row_belongs_to_the_account_purge(world):
    from sync.admin import purged_tables

    assert models.withings_bed_event in purged_tables()["withings"]
    with world.engine.begin() as conn:
        conn.execute(
            insert(models.withings_bed_event).values(
                user_id=WITHINGS_USER, in_bed=True, event_at=clock.utcnow(), received_at=clock.utcnow()
            )
        )
        assert conn.execute(select(func.count()).select_from(models.withings_bed_event)).scalar() == 1


def test_a_recovery_event_without_a_recovery_still_loads_its_sleep_and_cycle(world):
    cycle_id = admin(world.sb, "rescore")["cycle_id"]
    settle(world.sb)
    sleep_id = world.sb.history_of().collections["recovery"].get(cycle_id)["sleep_id"]
    with world.engine.begin() as conn:
        conn.execute(models.inbound_event.update().values(processed_at=clock.utcnow()))
    world.sb.app.delete_record("recovery", cycle_id)  # not pushed: the recovery is not (yet) there
    body = {"user_id": WHOOP_USER, "id": sleep_id, "type": "recovery.updated", "trace_id": "t-unscored"}
    raw, headers = signed(body)
    requests.post(f"{world.url}/webhooks/whoop", data=raw, headers=headers, timeout=10).raise_for_status()
    assert [d.outcome for d in world.process()] == ["stored"]
    assert world.rows(models.sleep, whoop_id=sleep_id) and world.rows(models.cycles, whoop_id=cycle_id)
    assert not world.rows(models.recovery, whoop_cycle_id=cycle_id)


def test_a_processor_under_the_receiver_role_stops_with_one_clear_line(receiver_url, caplog):  # noqa: F811
    engine = make_engine(receiver_url)
    try:
        with caplog.at_level("ERROR", logger="etl.events"):
            Processor(get_settings(read_dotenv=False), engine).run(threading.Event(), "whoop")  # returns by itself
    finally:
        engine.dispose()
    assert caplog.text.count("run `serve --no-process` with it") == 1


def test_a_batch_gone_slow_gives_back_what_it_did_not_reach_before_its_lease_ends(world, monkeypatch):
    for kg in (70.0, 70.5, 71.0):
        admin(world.sb, "weigh-in", kg=kg)
    settle(world.sb)
    now = [datetime.now(timezone.utc)]
    monkeypatch.setattr(clock, "utcnow", lambda: now[0])
    processor = Processor(world.settings, world.engine)
    one = processor._one

    def slow(batch, event):  # each event takes most of the lease (a spent minute limit)
        now[0] += events.LEASE * 0.6
        return one(batch, event)

    monkeypatch.setattr(processor, "_one", slow)
    assert [d.outcome for d in processor.process_due()] == ["stored"]
    waiting = [r for r in stored(world.engine) if r.processed_at is None]
    assert len(waiting) == 2 and all(r.attempts == 0 and r.next_attempt_at <= now[0] for r in waiting)
    assert [d.outcome for d in processor.process_due()] == ["stored"]  # due again at once


def test_an_ecg_notification_is_done_as_ignored_and_fetches_nothing(world, caplog):
    _notify(world, appli="54", startdate="1765100000", enddate="1765100030")
    world.sb.app.clear_requests()
    with caplog.at_level("INFO", logger="etl.events"):
        assert [d.outcome for d in world.process()] == ["ignored"]
    (row,) = stored(world.engine)
    assert row.processed_at is not None and row.last_error == "not a category this release processes"
    assert world.fetched("withings") == [] and "appli 54: nothing to fetch" in caplog.text
