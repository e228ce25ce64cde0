"""The dashboard lists the newest Withings ECG recordings with their AFib classification."""

from __future__ import annotations

from dashboard.render import dashboard_page
from tests.dashboard.test_summary_and_http import LATEST, add_weights, summary_of
from tests.mcp.test_ecg_recordings_tool import _store_recordings

RECORDED = "2026-03-15T16:00:00+00:00"


def test_the_ecg_card_lists_each_recording_and_its_classification(db_url):
    add_weights(db_url, [(LATEST, 70.0)])
    _store_recordings(db_url)
    summary = summary_of(db_url)
    ecgs = summary["ecgs"]
    assert [(r["device"], r["heart_rate"], r["classification"]) for r in ecgs] == [
        ("ScanWatch", 61, "negative"),
        ("ScanWatch", None, "no result"),  # a failed recording
        ("BPM Core", 74, "inconclusive"),
        ("Move ECG", 97, "positive"),
    ]
    assert ecgs[0]["recorded_at"] == RECORDED
    html = dashboard_page(summary, "test")
    assert '<table id="ecgs">' in html and 'class="afib afib-1">positive' in html and "afib-none" in html


def test_no_ecg_card_without_recordings(db_url):
    add_weights(db_url, [(LATEST, 70.0)])
    summary = summary_of(db_url)
    assert summary["ecgs"] == [] and 'id="ecgs"' not in dashboard_page(summary, "test")
