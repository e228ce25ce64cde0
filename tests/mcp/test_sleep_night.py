"""The MCP `sleep_night` tool: one Withings night's states and minutes, bounded, with the night's figures."""

from __future__ import annotations

from datetime import datetime, timezone

from api_clients.pages import Page
from db_loader import load_page
from mapping.withings_series import sleep_records
from storage import accounts
from storage.engine import make_engine
from sync.resources import get
from tests.helpers.api import fixture
from tests.mcp.test_tools import call, payload

NOW = datetime(2026, 12, 7, 12, tzinfo=timezone.utc)
SUMMARY = {
    "id": 4242,
    "startdate": 1773526200,
    "enddate": 1773553200,
    "date": "2026-03-15",
    "timezone": "Europe/Berlin",
    "model": 32,
    "model_id": 63,
    "data": {"hr_average": 55},
}


def _night(db_url) -> list[dict]:
    segments = fixture("withings/sleep_get_night.json")["body"]["series"]
    engine = make_engine(db_url)
    with engine.connect() as conn:
        accounts.link(conn, accounts.ensure(conn), "withings", 7)
        load_page(conn, get("withings", "sleep_summary"), Page(records=[SUMMARY], fetched_at=NOW), 7)
        load_page(conn, get("withings", "sleep_series"), Page(records=sleep_records(segments), fetched_at=NOW), 7)
        conn.commit()
    engine.dispose()
    return segments


def test_a_night_comes_with_its_states_minutes_and_figures(db_url):
    segments = _night(db_url)
    _listed, found, missing = call(
        db_url, ("sleep_night", {"night_date": "2026-03-15"}), ("sleep_night", {"night_date": "2026-03-16"})
    )
    night = payload(found)
    assert len(night["states"]) == len(segments) and night["states"][0]["state"] == "awake"
    hr = {int(ts): v for s in segments for ts, v in s.get("hr", {}).items()}
    assert [m["hr"] for m in night["minutes"]] == [hr[ts] for ts in sorted(hr)]
    assert night["night"]["lowest_hr"] == min(hr.values())
    assert night["night"]["average_hr"] == round(sum(hr.values()) / len(hr), 1)
    assert night["truncated"] is False and night["night"]["start"].startswith("2026-03-14T22:10")
    assert payload(missing)["night"] is None and payload(missing)["minutes"] == []
