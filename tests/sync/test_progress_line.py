"""The live progress line on a terminal: one line that fits, and log lines that start clean."""

from __future__ import annotations

import io
import logging
from datetime import datetime, timedelta, timezone

from db_loader import LoadCounts
from sync.report import Reporter
from sync.runner import ResourceResult
from sync.windows import Window

NAMES = ("whoop cycles", "whoop recovery", "whoop sleep", "whoop workout", "withings measures")


def _result(source: str, resource: str, fetched: int, pages: int) -> ResourceResult:
    result = ResourceResult(source, resource)
    result.counts, result.pages = LoadCounts(fetched=fetched), pages
    return result


NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


def _page(day: datetime) -> list[dict]:
    return [{"id": 1, "start": day.isoformat()}]


def test_each_resource_has_a_bar_of_its_own_with_records_requests_left_and_an_eta(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    out = io.StringIO()
    reporter = Reporter(interactive=True, stream=out)
    window = Window(NOW - timedelta(days=100), NOW, "since")
    for resource in ("cycles", "recovery", "sleep", "workout"):
        reporter.resource_started("whoop", resource, window)
    reporter.resource_started("withings", "measures", Window(None, NOW, "full"))
    # A quarter of the window in 5 requests: about 20 in all, 15 left.
    reporter.page_loaded(_result("whoop", "cycles", 125, 5), 25, _page(NOW - timedelta(days=25)))
    reporter.page_loaded(_result("whoop", "sleep", 30, 1), 30, _page(NOW - timedelta(days=30)))
    reporter.page_loaded(_result("withings", "measures", 5000, 3), 2000, [{"grpid": 1, "date": 1735689600}])
    reporter.summary([], 0, False)
    lines = [line for line in out.getvalue().splitlines() if "records" in line]
    final = {name: next(line for line in reversed(lines) if name in line) for name in NAMES}
    assert "125 records" in final["whoop cycles"] and "5 requests, ~15 left" in final["whoop cycles"]
    assert "25%, about" in final["whoop cycles"] and "min left" in final["whoop cycles"]
    assert "…" not in "".join(final.values())
    assert "0 records" in final["whoop recovery"] and "? left" in final["whoop recovery"]
    # A whole history has no known start: the date reached, and no guess of what is left.
    assert "5,000 records" in final["withings measures"] and "back to 2025-01-01" in final["withings measures"]


def test_quiet_and_json_runs_draw_no_progress():
    for options in ({"quiet": True}, {"json_output": True}):
        out = io.StringIO()
        reporter = Reporter(interactive=True, stream=out, **options)
        reporter.resource_started("whoop", "cycles", Window(None, NOW, "full"))
        reporter.page_loaded(_result("whoop", "cycles", 25, 1), 25, _page(NOW))
        assert out.getvalue() == ""
        reporter.summary([], 0, False) if options.get("quiet") else None


def test_a_log_line_during_progress_is_printed_above_the_bars_and_the_handler_is_restored():
    out, logged = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(logged)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        reporter = Reporter(interactive=True, stream=out)
        reporter.resource_started("whoop", "cycles", Window(None, NOW, "full"))
        logging.getLogger("api_clients.http").warning("whoop: rate limit (100 requests/minute): waiting 60s")
        reporter.summary([], 0, False)
        assert "whoop: rate limit (100 requests/minute): waiting 60s" in out.getvalue()
        assert logged.getvalue() == ""  # not written under the bars, where it would tear them
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
