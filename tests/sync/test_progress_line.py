"""The live progress line on a terminal: one line that fits, and log lines that start clean."""

from __future__ import annotations

import io
import logging
import os

from db_loader import LoadCounts
from sync.report import Reporter
from sync.runner import ResourceResult


def _result(source: str, resource: str, fetched: int, pages: int) -> ResourceResult:
    result = ResourceResult(source, resource)
    result.counts, result.pages = LoadCounts(fetched=fetched), pages
    return result


def test_progress_line_fits_the_terminal(monkeypatch):
    monkeypatch.setattr("shutil.get_terminal_size", lambda fallback=None: os.terminal_size((40, 20)))
    out = io.StringIO()
    reporter = Reporter(interactive=True, stream=out)
    for resource in ("cycles", "recovery", "sleep", "workout"):
        reporter.page_loaded(_result("whoop", resource, 12_345, 494), 25)
    reporter.page_loaded(_result("withings", "measures", 5000, 3), 2000)
    last = out.getvalue().split("\r\x1b[K")[-1]
    assert len(last) <= 39 and last.startswith("cycles 12345 (494p)")
    assert "\n" not in out.getvalue()
    reporter.summary([], 0, False)


def test_a_log_line_during_progress_starts_on_a_clean_line():
    out = io.StringIO()
    handler = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        reporter = Reporter(interactive=True, stream=out)
        reporter.page_loaded(_result("whoop", "cycles", 25, 1), 25)
        logging.getLogger("api_clients.http").warning("whoop: rate limit (100 requests/minute): waiting 60s")
        assert out.getvalue().endswith("cycles 25 (1p)\r\x1b[K")  # wiped before the log line
        reporter.summary([], 0, False)
        assert not handler.filters  # detached when the run ends
    finally:
        root.removeHandler(handler)


def test_summary_table_fits_100_columns():
    from datetime import datetime, timezone

    from sync.report import format_table
    from sync.windows import Window

    now = datetime.now(timezone.utc)
    results = [
        ResourceResult(
            "whoop",
            "recovery",
            Window(datetime(2026, 11, 18, tzinfo=timezone.utc), now, "incremental"),
            LoadCounts(fetched=123_456, inserted=123_456),
            4939,
            3001.5,
            "ok",
        ),
        ResourceResult("withings", "measures", Window(None, now, "full"), LoadCounts(fetched=5), 1, 0.1, "ok"),
        ResourceResult("whoop", "*", None, LoadCounts(), 0, 0.0, "failed", "whoop: must be re-connected"),
    ]
    table = format_table(results, dry_run=False)
    assert max(len(line) for line in table.splitlines()) <= 100
    assert "whoop recovery" in table and "from 2026-11-18" in table and "full history" in table
    assert "    error: whoop: must be re-connected" in table


def test_quarantined_records_are_in_the_table_json_and_one_quiet_line():
    from datetime import datetime, timezone

    from sync.report import format_table, reject_line, summary_dict
    from sync.windows import Window

    counts = LoadCounts(fetched=5, inserted=4, rejected=1, quarantined=1, recovered=2)
    counts.errors.append("id=93847: end out of bounds: 9999-12-31T00:00:00+00:00")
    result = ResourceResult("whoop", "cycles", Window(None, datetime.now(timezone.utc), "full"), counts, 1, 0.2, "ok")
    table = format_table([result], dry_run=False)
    assert "    quarantined 1, recovered 2" in table and "python etl.py status" in table
    assert max(len(line) for line in table.splitlines()) <= 100
    row = summary_dict([result], 0, False)["resources"][0]
    assert (row["rejected"], row["quarantined"], row["recovered"], row["deleted"]) == (1, 1, 2, 0)
    line = reject_line(result)
    assert line.startswith("whoop cycles: 1 record rejected and kept in the quarantine; first: id=93847")
    assert "\n" not in line
