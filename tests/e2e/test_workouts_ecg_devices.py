"""Withings workouts, ECG recordings and devices, and the WHOOP profile, end to end against the
sandbox on SQLite and PostgreSQL: stored exactly, a re-run writes nothing, edits and deletions
reconciled, the ECG signal round-trips, devices explain quiet data, and a resource no device
can produce costs no request."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

import models
from configuration import clock
from mapping.ecg import decode_signal
from readers.health import check
from readers.status import collect_status, format_status
from sandbox.timeutil import unix
from sandbox.withings_heart import recording_on, signal_of
from sandbox.withings_workouts import workouts_between
from storage.engine import make_engine
from tests.helpers.etl import by_resource, run_etl, sync_states, table_counts

NEW = ("workouts", "ecg", "devices", "profile")


def _rows(db_url, table, *where) -> list:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(select(table).where(*where)).all()
    engine.dispose()
    return rows


def _served_workouts(sandbox) -> list[dict]:
    history = sandbox.history
    return workouts_between(history.person, history.first_day, history.last_day)


def _served_recordings(sandbox) -> list[tuple]:
    history = sandbox.history
    days = (history.first_day + timedelta(days=n) for n in range((history.last_day - history.first_day).days + 1))
    return [(day, r) for day in days if (r := recording_on(history.person, day))]


def test_first_run_stores_each_exactly_and_a_rerun_writes_nothing(etl_env, db_url):
    code, summary, err = run_etl()
    assert code == 0, err
    results = by_resource(summary)
    assert all(results[name]["status"] == "ok" for name in NEW), summary

    served = _served_workouts(etl_env)
    stored = {r.withings_id: r for r in _rows(db_url, models.withings_workout)}
    assert set(stored) == {w["id"] for w in served}
    for workout in served:
        row = stored[workout["id"]]
        assert row.category_name == {1: "Walk", 2: "Run", 6: "Bicycling", 7: "Swimming"}.get(
            workout["category"], row.category_name
        )
        assert row.calories_kcal == workout["data"]["calories"]
        assert row.hr_average == workout["data"]["hr_average"]  # a phone's 0 stored as sent
        assert row.device_id == workout["deviceid"]
        assert row.spo2_average is None and row.core_body_temperature_avg is None
        if workout["category"] == 7:
            assert row.steps is None and row.pool_laps == workout["data"]["pool_laps"]

    recordings = _served_recordings(etl_env)
    ecgs = {r.timestamp: r for r in _rows(db_url, models.withings_ecg)}
    assert set(ecgs) == {r["timestamp"] for _day, r in recordings}
    assert any("ecg" not in r for _day, r in recordings), "the sandbox should hold a failed recording"
    for day, recording in recordings:
        row = ecgs[recording["timestamp"]]
        if "ecg" not in recording:  # a failed attempt: stored, without a signal
            assert (row.signal, row.signal_id, row.heart_rate, row.afib) == (None, None, None, None)
            continue
        assert decode_signal(row.signal, row.sample_bytes) == signal_of(etl_env.history.person, day)["signal"]
        assert (row.sample_count, row.sampling_frequency, row.wear_position) == (9000, 300, 1)
        assert row.afib == recording["ecg"]["afib"] and row.afib_name in ("negative", "positive", "inconclusive")
        assert "signal" not in (row.raw.get("signal") or {})  # the samples live in `signal` alone

    devices = {r.model: r for r in _rows(db_url, models.withings_device)}
    assert {"ScanWatch", "Aura Sensor V2", "BPM Connect"} <= set(devices)
    assert devices["ScanWatch"].type == "Activity Tracker" and devices["ScanWatch"].firmware is None
    profile = _rows(db_url, models.whoop_profile)
    assert len(profile) == 1 and profile[0].first_name and "email" not in profile[0].raw

    counts = table_counts(db_url)
    etl_env.clear_requests()
    code, summary, err = run_etl()
    assert code == 0, err
    assert table_counts(db_url) == counts
    for name in ("workouts", "ecg", "devices"):
        result = by_resource(summary)[name]
        assert result["inserted"] == result["updated"] == result["deleted"] == 0, result
    assert "profile" not in by_resource(summary)  # read at most weekly
    asked = [(r["path"], r["form"].get("action")) for r in etl_env.requests]
    assert ("/v2/heart", "get") not in asked  # stored signals are not fetched again
    assert asked.count(("/v2/user", "getdevice")) == 1
    assert not any(r["path"].endswith("/profile/basic") for r in etl_env.requests)


def test_ecg_list_starts_at_zero_then_from_the_window(etl_env, db_url):
    assert run_etl()[0] == 0
    lists = [r["form"] for r in etl_env.requests if r["path"] == "/v2/heart" and r["form"]["action"] == "list"]
    assert [form["startdate"] for form in lists] == ["0"]
    gets = [r for r in etl_env.requests if r["path"] == "/v2/heart" and r["form"]["action"] == "get"]
    assert len(gets) == sum(1 for _day, r in _served_recordings(etl_env) if "ecg" in r)


def test_an_edited_workout_updates_and_a_deleted_one_is_marked(etl_env, db_url):
    assert run_etl()[0] == 0
    recent = [w for w in _served_workouts(etl_env) if w["startdate"] > unix(etl_env.history.now) - 5 * 86400]
    assert len(recent) >= 2, "the sandbox week should hold two workouts"
    edited, deleted = recent[-1], recent[0]
    etl_env.edit_workout(edited["id"], 777)
    etl_env.delete_workout(deleted["id"])
    code, summary, err = run_etl()
    assert code == 0, err
    result = by_resource(summary)["workouts"]
    assert (result["updated"], result["deleted"]) == (1, 1), result
    rows = {r.withings_id: r for r in _rows(db_url, models.withings_workout)}
    assert rows[edited["id"]].calories_kcal == 777 and rows[edited["id"]].deleted_at is None
    assert rows[deleted["id"]].deleted_at is not None  # marked, kept
    assert sum(r["deleted"] for r in summary["resources"]) == 1


def test_status_names_a_low_battery_and_a_silent_device(etl_env, db_url):
    assert run_etl()[0] == 0
    etl_env.set_device("BPM Connect", battery="low")
    etl_env.set_device("ScanWatch", last_session=unix(clock.utcnow()) - 9 * 86400 - 600)
    assert run_etl()[0] == 0
    engine = make_engine(db_url)
    try:
        text = format_status(collect_status(engine))
        report = check(engine, _settings())
    finally:
        engine.dispose()
    assert "WARNING: Withings BPM Connect battery low" in text
    assert "WARNING: ScanWatch: last session 9 days ago" in text
    messages = [p["message"] for p in report["problems"] if p["kind"] == "device"]
    assert messages == ["Withings BPM Connect battery low", "ScanWatch: last session 9 days ago"]
    assert report["exit_code"] == 1


def test_ecg_is_skipped_without_a_device_that_records_one_and_said_once(etl_env, db_url, caplog):
    assert run_etl()[0] == 0
    engine = make_engine(db_url)
    with engine.begin() as conn:  # the account's only devices: a scale and a sleep mat
        table = models.withings_device
        conn.execute(table.delete().where(table.c.model.in_(("ScanWatch", "BPM Connect"))))
    engine.dispose()
    _served_devices_without(etl_env, ("ScanWatch", "BPM Connect"))
    etl_env.clear_requests()
    caplog.clear()
    code, summary, err = run_etl()
    assert code == 0, err
    assert "ecg" not in by_resource(summary)
    assert not [r for r in etl_env.requests if r["path"] == "/v2/heart"]
    said = [m for m in caplog.messages if "withings ecg: not read" in m]
    assert len(said) == 1 and "(ScanWatch, Move ECG, BPM Core)" in said[0]
    assert sync_states(db_url)["ecg"].status == "no_device"

    caplog.clear()
    assert run_etl()[0] == 0
    assert not [m for m in caplog.messages if "withings ecg: not read" in m]  # once
    engine = make_engine(db_url)
    try:
        report = check(engine, _settings())
    finally:
        engine.dispose()
    assert not [p for p in report["problems"] if p["resource"] == "ecg"]


def _served_devices_without(sandbox, models_gone: tuple[str, ...]) -> None:
    """The sandbox's getdevice leaves these models out from now on (they were unlinked)."""
    series = sandbox.app.people.pin(0).series
    listed = series.devices

    def devices() -> list[dict]:
        return [d for d in listed() if d["model"] not in models_gone]

    series.devices = devices


def _settings():
    from configuration.settings import get_settings

    return get_settings(read_dotenv=False)


def test_an_unlinked_device_is_kept_marked_and_no_longer_warned_about(etl_env, db_url):
    etl_env.set_device("BPM Connect", battery="low")
    assert run_etl()[0] == 0
    _served_devices_without(etl_env, ("BPM Connect",))
    code, summary, err = run_etl()
    assert code == 0, err
    assert by_resource(summary)["devices"]["deleted"] == 1
    rows = {r.model: r for r in _rows(db_url, models.withings_device)}
    assert rows["BPM Connect"].deleted_at is not None and rows["ScanWatch"].deleted_at is None
    engine = make_engine(db_url)
    try:
        assert "BPM Connect" not in format_status(collect_status(engine))
    finally:
        engine.dispose()
