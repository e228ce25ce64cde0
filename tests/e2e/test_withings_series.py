"""Withings sleep series and intraday activity end to end against the sandbox, on SQLite and
PostgreSQL: the first run stores every segment, minute and sample exactly, in calls of at most
24 hours; a re-run writes nothing."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest
from sqlalchemy import select

import models
from sandbox import SandboxServer
from sandbox.withings_intraday import intraday_day
from sandbox.withings_nights import night_segments
from storage.engine import make_engine
from tests.helpers.etl import by_resource, run_etl, snapshot, table_counts

SERIES = ("sleep_series", "intraday")
DAY = 86_400


@pytest.fixture
def series_env(db_url, monkeypatch):
    """The conftest sandbox (60 days, its clock a day behind), with a watch and a sleep monitor
    worn for the last 14 of them."""
    now = datetime.now(timezone.utc) - timedelta(days=1)
    with SandboxServer(days=60, seed=7, now=now, series_days=14) as server:
        for key, value in server.environment().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("DATABASE_URL", db_url)
        yield server


def _series_calls(requests: list[dict]) -> list[dict]:
    """The form of every Sleep v2 get and getintradayactivity call (Heart v2 has a `get` too)."""
    return [
        r["form"]
        for r in requests
        if (r["path"], r["form"].get("action")) in (("/v2/sleep", "get"), ("/v2/measure", "getintradayactivity"))
    ]


def _expected_intraday(env) -> dict[int, dict]:
    """Every sample the sandbox holds up to its now, by timestamp."""
    life = env.app.people.life(0)
    person, series = life.history.person, life.series
    now = int(life.history.now.timestamp())
    day, samples = series.series_from, {}
    while day <= life.history.last_day + timedelta(days=1):
        samples.update({ts: s for ts, s in intraday_day(person, day).items() if ts <= now})
        day += timedelta(days=1)
    return samples


def _expected_segments(env) -> list[dict]:
    life = env.app.people.life(0)
    day, segments = life.series.series_from, []
    while day <= life.history.last_day:
        start, end = life.daily.night_span(day)
        segments.extend(night_segments(life.history.seed, day, start, end))
        day += timedelta(days=1)
    return segments


def _rows(db_url, table):
    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(table)).mappings()]
    engine.dispose()
    return rows


def test_first_run_stores_every_sample_and_segment_and_a_rerun_writes_nothing(series_env, db_url):
    code, summary, err = run_etl()
    assert code == 0, err
    results = by_resource(summary)
    assert all(results[name]["status"] == "ok" for name in SERIES), results

    samples = _expected_intraday(series_env)
    stored = {int(r["measured_at"].timestamp()): r for r in _rows(db_url, models.withings_intraday)}
    assert stored.keys() == samples.keys()
    for ts, sample in samples.items():
        row = stored[ts]
        assert {k: row[k] for k in sample} == sample  # every field as sent
        assert all(row[k] is None for k in ("core_body_temperature", "rr", "chest_movement_rate"))
        assert row["model"] == "ScanWatch" and row["model_id"] == 93 and len(row["device_id"]) == 40

    segments = _expected_segments(series_env)
    stored_segments = _rows(db_url, models.withings_sleep_segment)
    as_sent = {(s["startdate"], s["enddate"], s["state"]) for s in segments}
    assert {(int(r["start"].timestamp()), int(r["end"].timestamp()), r["state"]) for r in stored_segments} == as_sent
    points = {}
    for segment in segments:
        for field in ("hr", "rr", "sdnn_1", "rmssd", "mvt_score", "withings_index", "breathing_sounds"):
            for ts, value in segment.get(field, {}).items():
                points.setdefault(int(ts), {})[field] = value
    series = {int(r["measured_at"].timestamp()): r for r in _rows(db_url, models.withings_sleep_series)}
    assert series.keys() == points.keys()
    assert all({k: series[ts][k] for k in values} == values for ts, values in points.items())
    # Awake minutes carry no HRV: NULL, not 0 (the Withings index comes on a minute of its own).
    awake = [r for r in series.values() if r["sdnn_1"] is None and r["withings_index"] is None]
    assert awake and all(r["hr"] is not None and r["snoring"] is None for r in awake)

    calls = _series_calls(series_env.requests)
    assert calls and all(int(c["enddate"]) - int(c["startdate"]) <= DAY for c in calls)
    assert all(len(c["data_fields"].split(",")) in (10, 15) for c in calls)

    before = snapshot(db_url)
    series_env.clear_requests()
    code, summary, err = run_etl()
    assert code == 0, err
    for name in SERIES:
        counts = by_resource(summary)[name]
        assert counts["inserted"] == counts["updated"] == 0, counts
    assert snapshot(db_url) == before
    # A routine run reads the 7-day lookback and the time since the last run: 8 calls each.
    calls = _series_calls(series_env.requests)
    assert len([c for c in calls if c["action"] == "get"]) == 8
    assert len([c for c in calls if c["action"] == "getintradayactivity"]) == 8


def test_overlapping_segments_are_all_kept(series_env, db_url):
    assert run_etl("--source", "withings")[0] == 0
    segments = sorted(_rows(db_url, models.withings_sleep_segment), key=lambda r: (r["start"], r["end"]))
    overlaps = [(a, b) for a, b in zip(segments, segments[1:], strict=False) if b["start"] < a["end"]]
    assert overlaps and all(a["state"] != b["state"] for a, b in overlaps)
    assert table_counts(db_url)["withings_sleep_segment"] == len(_expected_segments(series_env))


def test_a_first_run_stops_after_two_empty_weeks(series_env, db_url):
    assert run_etl("--source", "withings")[0] == 0
    life = series_env.app.people.life(0)
    first = datetime.combine(life.series.series_from, time(0), timezone.utc).timestamp()
    intraday = [c for c in _series_calls(series_env.requests) if c["action"] == "getintradayactivity"]
    empty = [c for c in intraday if int(c["enddate"]) <= first]
    assert len(empty) == 14  # then the walk stops, 46 days before the sandbox's history begins


def test_an_account_without_a_watch_or_sleep_monitor_costs_few_calls(etl_env, db_url):
    assert run_etl("--source", "withings")[0] == 0
    calls = _series_calls(etl_env.requests)
    assert len(calls) == 6  # 3 empty days each, then the walk ends
    etl_env.clear_requests()
    code, summary, err = run_etl("--source", "withings")
    assert code == 0, err
    calls = _series_calls(etl_env.requests)
    assert len(calls) == 2 and all(int(c["enddate"]) - int(c["startdate"]) == DAY for c in calls)
    assert table_counts(db_url)["withings_intraday"] == 0
