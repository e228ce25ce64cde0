"""The MCP `ecg_recordings` tool: the recordings of a window, newest first, bounded, never the samples."""

from __future__ import annotations

from datetime import datetime, timezone

from api_clients.pages import Page
from db_loader import load_page
from storage.engine import make_engine
from sync import resources
from tests.helpers import factories as f
from tests.helpers.accounts import file_under_default
from tests.helpers.api import fixture
from tests.mcp.test_tools import call, error, payload

FETCHED = datetime(2026, 3, 20, tzinfo=timezone.utc)


def _store_recordings(url: str) -> None:
    """The recorded Heart v2 list page, each recording with the recorded signal when it has one."""
    file_under_default(url, {"withings": f.USER_ID})
    body = fixture("withings/heart_get_signal.json")["body"]
    records = [
        {**r, "signal": body} if "ecg" in r else r for r in fixture("withings/heart_list_page.json")["body"]["series"]
    ]
    engine = make_engine(url)
    with engine.begin() as conn:
        counts = load_page(conn, resources.get("withings", "ecg"), Page(records, fetched_at=FETCHED), f.USER_ID)
    engine.dispose()
    assert counts.inserted == 4


def test_the_ecg_list_names_device_heart_rate_and_classification(db_url):
    _store_recordings(db_url)
    listed, everything, newest, refused = call(
        db_url,
        ("ecg_recordings", {"days": 100000}),
        ("ecg_recordings", {"days": 100000, "limit": 1}),
        ("ecg_recordings", {"days": 10**9}),
    )
    assert "ecg_recordings" in listed
    rows = payload(everything)
    assert [(r["device"], r["heart_rate"], r["afib_name"], r["recorded"]) for r in rows] == [
        ("ScanWatch", 61, "negative", True),
        ("ScanWatch", None, None, False),  # a failed recording is listed, without a classification
        ("BPM Core", 74, "inconclusive", True),
        ("Move ECG", 97, "positive", True),
    ]
    assert rows[0]["recorded_at"] == "2026-03-15T16:00:00+00:00" and rows[0]["account"] == "default"
    assert rows[0]["sample_count"] == 90 and "signal" not in rows[0]
    assert len(payload(newest)) == 1
    assert "days must be between 1 and 100000" in error(refused)
