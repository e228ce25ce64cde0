"""The 1.2.0 resources end to end against the sandbox, on SQLite and PostgreSQL: load, reload,
edits, more/offset paging, and a scope the user did not grant."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import WhoopBodyMeasurement, WithingsActivity, WithingsSleepSummary
from storage.engine import make_engine
from tests.helpers.etl import by_resource, run_etl, sync_states, table_counts

NEW = ("body", "activity", "sleep_summary")


@pytest.fixture
def small_pages(etl_env):
    """Withings answers 20 records a page, so 61 days of activity take 4 pages."""
    etl_env.app.withings.page_size = 20
    return etl_env


def _rows(db_url, model, *where):
    engine = make_engine(db_url)
    with Session(engine) as session:
        rows = session.scalars(select(model).where(*where)).all()
        for row in rows:
            session.expunge(row)
    engine.dispose()
    return rows


def test_first_load_reload_and_paging(small_pages, db_url):
    code, summary, err = run_etl()
    assert code == 0, err
    counts = table_counts(db_url)
    assert counts["withings_activity"] == 61 and counts["withings_sleep_summary"] == 60
    assert counts["whoop_body_measurement"] == 1
    activity = [r for r in small_pages.requests if r["form"].get("action") == "getactivity"]
    assert [r["form"].get("offset") for r in activity] == [None, "20", "40", "60"]
    assert {r["form"]["lastupdate"] for r in activity} == {"0"}
    assert "hr_zone_3" in activity[0]["form"]["data_fields"]
    assert by_resource(summary)["activity"]["pages"] == 4

    cursor = int(sync_states(db_url)["activity"].cursor)  # getactivity has no updatetime: the run's start
    assert abs(cursor - datetime.now(timezone.utc).timestamp()) < 120
    small_pages.clear_requests()
    code, summary, err = run_etl()
    assert code == 0, err
    assert table_counts(db_url) == counts
    for name in NEW:
        assert by_resource(summary)[name]["inserted"] == by_resource(summary)[name]["updated"] == 0, name
    # The rerun asks from the stored cursor minus the 7-day lookback, on one page.
    asked = [r["form"]["lastupdate"] for r in small_pages.requests if r["form"].get("action") == "getactivity"]
    assert asked == [str(cursor - 7 * 86400)]


def test_edits_and_the_partial_day_are_picked_up(etl_env, db_url):
    assert run_etl()[0] == 0
    past = date.fromisoformat(etl_env.history.summary()["last_day"]) - timedelta(days=3)
    old_night = date.fromisoformat(etl_env.history.summary()["last_day"]) - timedelta(days=5)
    etl_env.edit_activity(past, 12345)
    etl_env.edit_sleep_score(old_night, 42)
    code, summary, err = run_etl()
    assert code == 0, err
    assert _rows(db_url, WithingsActivity, WithingsActivity.date == past)[0].steps == 12345
    night = _rows(db_url, WithingsSleepSummary, WithingsSleepSummary.date == old_night)[0]
    assert night.sleep_score == 42
    assert by_resource(summary)["activity"]["updated"] >= 1 and by_resource(summary)["sleep_summary"]["updated"] == 1

    before = {r.date: r.steps for r in _rows(db_url, WithingsActivity)}
    etl_env.advance_day()  # yesterday's partial day is complete now, a new night and body weight arrive
    code, summary, err = run_etl()
    assert code == 0, err
    after = {r.date: r.steps for r in _rows(db_url, WithingsActivity)}
    grown = [d for d in before if after[d] != before[d]]
    assert grown and all(after[d] > before[d] for d in grown)  # the partial day was updated in place
    assert len(after) >= len(before) and table_counts(db_url)["withings_activity"] == len(after)
    bodies = _rows(db_url, WhoopBodyMeasurement)
    assert len(bodies) == 2 and len({b.value_key for b in bodies}) == 2
    newest = max(bodies, key=lambda b: b.last_seen_at)
    assert newest.first_seen_at == newest.last_seen_at > min(b.first_seen_at for b in bodies)


def test_a_body_value_seen_again_only_moves_last_seen(etl_env, db_url):
    assert run_etl("--source", "whoop")[0] == 0
    first = _rows(db_url, WhoopBodyMeasurement)[0]
    code, summary, _ = run_etl("--source", "whoop")
    assert code == 0 and by_resource(summary)["body"]["unchanged"] == 1
    again = _rows(db_url, WhoopBodyMeasurement)
    assert len(again) == 1 and again[0].first_seen_at == first.first_seen_at
    assert again[0].last_seen_at > first.last_seen_at


def test_a_scope_not_granted_skips_its_resources_and_the_run_exits_0(etl_env, db_url, caplog):
    etl_env.deny_scope("withings", "user.activity")
    etl_env.deny_scope("whoop", "read:body_measurement")
    code, summary, err = run_etl()
    assert code == 0, err
    results = by_resource(summary)
    for name in NEW:
        assert results[name]["status"] == "skipped", results[name]
        assert "python etl.py connect" in results[name]["error"]
    assert results["activity"]["error"].startswith("withings: re-connect withings to allow Withings daily activity")
    assert results["sleep_summary"]["error"].startswith(
        "withings: re-connect withings to allow Withings sleep summaries"
    )
    assert all(results[n]["status"] == "ok" for n in ("cycles", "recovery", "sleep", "workout", "measures"))
    counts = table_counts(db_url)
    assert counts["withings_weight"] > 0 and counts["withings_activity"] == 0
    assert "skipped: withings: re-connect withings to allow Withings daily activity" in caplog.text

    etl_env.deny_scope("withings", "user.activity", denied=False)  # the user re-connected
    code, summary, err = run_etl()
    assert code == 0 and by_resource(summary)["activity"]["window_mode"] == "full"
    assert table_counts(db_url)["withings_activity"] > 0


def test_every_field_the_api_holds_is_asked_for_and_arrives(etl_env, db_url):
    """The sandbox, like Withings, answers only the `data_fields` a request names."""
    from sandbox.withings_daily import ACTIVITY_TRACKER_FIELDS, SLEEP_MAT_FIELDS

    code, _summary, err = run_etl()
    assert code == 0, err
    nights = _rows(db_url, WithingsSleepSummary)
    assert nights and all(set(n.raw["data"]) == set(SLEEP_MAT_FIELDS) for n in nights)
    for column in (
        "wakeup_latency_s",
        "waso_s",
        "rem_episodes",
        "out_of_bed_count",
        "breathing_disturbances_intensity",
        "apnea_hypopnea_index",
    ):
        assert all(getattr(n, column) is not None for n in nights), column
    assert all(n.raw["data"]["night_events"] for n in nights)  # no column: kept in raw
    days = _rows(db_url, WithingsActivity)
    assert days and all(set(ACTIVITY_TRACKER_FIELDS) <= set(d.raw) for d in days)
