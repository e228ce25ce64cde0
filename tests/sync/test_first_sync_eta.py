"""A first sync's bars on a terminal: where the history begins (a bounded probe), a share and a time left."""

from __future__ import annotations

import io
import logging
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from responses import matchers

from api_clients.errors import ApiError
from api_clients.whoop import WhoopClient
from api_clients.withings import WithingsClient
from db_loader import LoadCounts
from sync.probe import PROBE_REQUESTS, history_start, probe_history
from sync.progress import LiveProgress, seconds_left
from sync.report import Reporter
from sync.runner import Job, ResourceResult
from sync.windows import Window
from tests.helpers.api import OLD_ACCESS, WHOOP_URL, WITHINGS_URL, NoSleep, fixture, provider, store_with

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
FIRST = datetime(2021, 6, 17, 21, 30, tzinfo=timezone.utc)  # the first cycle of the history served
CYCLE_URL = f"{WHOOP_URL}/developer/v2/cycle"


def _whoop():
    sleep = NoSleep()
    return WhoopClient(provider("whoop"), store_with("whoop"), sleep=sleep, clock=sleep.clock)


def _withings():
    sleep = NoSleep()
    return WithingsClient(provider("withings"), store_with("withings"), sleep=sleep, clock=sleep.clock)


def _cycles(request):
    """A WHOOP cycle collection with one cycle a day from FIRST: the newest in [start, end), `limit` of them."""
    query = {k: v[0] for k, v in parse_qs(urlparse(request.url).query).items()}
    assert query["limit"] == "1" and request.headers["Authorization"] == f"Bearer {OLD_ACCESS['whoop']}"
    start = datetime.fromisoformat(query["start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(query["end"].replace("Z", "+00:00"))
    newest = min(end - timedelta(microseconds=1000), NOW)
    days = (newest - FIRST) // timedelta(days=1)
    cycle = FIRST + timedelta(days=days)
    records = [{"id": days, "start": cycle.isoformat().replace("+00:00", "Z")}] if days >= 0 and cycle >= start else []
    return 200, {}, '{"records": %s, "next_token": null}' % str(records).replace("'", '"')


def test_the_whoop_probe_bisects_with_limit_1_and_at_most_12_requests(mock):
    mock.add_callback(responses.GET, CYCLE_URL, callback=_cycles)
    found = history_start("whoop", _whoop(), NOW)
    assert len(mock.calls) <= PROBE_REQUESTS == 12
    assert found is not None and FIRST <= found <= FIRST + timedelta(days=2)


def test_an_empty_whoop_history_is_no_estimate_worth_drawing(mock):
    mock.add_callback(
        responses.GET, CYCLE_URL, callback=lambda request: (200, {}, '{"records": [], "next_token": null}')
    )
    found = history_start("whoop", _whoop(), NOW)
    assert len(mock.calls) == PROBE_REQUESTS
    assert found is None or NOW - found < timedelta(days=2)


def test_the_withings_probe_is_one_getdevice_call_and_the_earliest_first_session(mock):
    mock.post(
        f"{WITHINGS_URL}/v2/user",
        json=fixture("withings/getdevice.json"),
        match=[matchers.urlencoded_params_matcher({"action": "getdevice"})],
    )
    client = _withings()
    devices = client.devices()
    assert [d["model"] for d in devices] == [d["model"] for d in fixture("withings/getdevice.json")["body"]["devices"]]
    mock.post(f"{WITHINGS_URL}/v2/user", json=fixture("withings/getdevice.json"))
    # The BPM's `first_session_date` is null: the earliest of the others.
    assert history_start("withings", client, NOW) == datetime.fromtimestamp(1643700000, timezone.utc)
    assert len(mock.calls) == 2


def test_a_withings_error_in_getdevice_raises_like_the_other_calls(mock):
    mock.post(f"{WITHINGS_URL}/v2/user", json={"status": 2555, "error": "not allowed"})
    with pytest.raises(ApiError):
        _withings().devices()


class _Exploding:
    """A client whose every call fails: a probe must not fail the run, nor draw a guess."""

    http = None

    def newest_record(self, *args, **kwargs):
        raise ApiError("whoop", "HTTP 500 on /developer/v2/cycle", 500)

    def devices(self):
        raise ApiError("withings", "status 2555", 2555)


def _job(source: str, window: Window, client) -> Job:
    from sync import resources

    return Job(resources.of_source(source)[0], 1, window, client)


def test_a_failed_probe_is_one_debug_line_and_the_bars_show_no_eta(caplog):
    out = io.StringIO()
    reporter = Reporter(interactive=True, stream=out)
    jobs = [_job(s, Window(None, NOW, "full"), _Exploding()) for s in ("whoop", "withings")]
    with caplog.at_level(logging.DEBUG, logger="sync.probe"):
        probe_history(reporter, jobs, NOW)
    assert [r.levelno for r in caplog.records] == [logging.DEBUG, logging.DEBUG]
    assert "could not estimate where the history begins" in caplog.records[0].getMessage()
    reporter.resource_started("whoop", "cycles", Window(None, NOW, "full"))
    reporter.page_loaded(_result("whoop", "cycles", 25, 1), 25, [{"start": "2026-02-01T00:00:00Z"}])
    reporter.summary([], 0, False)
    line = next(line for line in reversed(out.getvalue().splitlines()) if "whoop cycles" in line)
    assert "back to 2026-02-01" in line and "%" not in line and "min left" not in line


class _Untouchable:
    def __getattr__(self, name):
        raise AssertionError(f"the probe called {name} without a progress display")


@pytest.mark.parametrize(
    "options",
    [{"interactive": False}, {"interactive": True, "quiet": True}, {"interactive": True, "json_output": True}],
)
def test_no_probe_and_no_bars_under_quiet_json_or_without_a_terminal(options):
    out = io.StringIO()
    reporter = Reporter(stream=out, **options)
    assert not reporter.draws_progress
    probe_history(reporter, [_job("whoop", Window(None, NOW, "full"), _Untouchable())], NOW)
    reporter.resource_started("whoop", "cycles", Window(None, NOW, "full"))
    reporter.page_loaded(_result("whoop", "cycles", 25, 1), 25, [{"start": "2026-02-01T00:00:00Z"}])
    assert "records" not in out.getvalue() and "left" not in out.getvalue()


def test_no_probe_when_every_window_has_a_start():
    reporter = Reporter(interactive=True, stream=io.StringIO())
    probe_history(reporter, [_job("whoop", Window(NOW - timedelta(days=9), NOW, "incremental"), _Untouchable())], NOW)
    reporter.summary([], 0, False)


def _result(source: str, resource: str, fetched: int, pages: int) -> ResourceResult:
    result = ResourceResult(source, resource)
    result.counts, result.pages = LoadCounts(fetched=fetched), pages
    return result


class _Clock:
    def __init__(self):
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


def test_a_whole_history_with_a_probed_start_shows_a_share_and_the_time_left(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    out, clock = io.StringIO(), _Clock()
    live = LiveProgress(out, monotonic=clock)
    live.history_start("whoop", NOW - timedelta(days=1000), per_minute=100)
    full = Window(None, NOW, "full")
    for resource in ("cycles", "sleep"):
        live.start(f"whoop {resource}", full, "whoop")
    live.start("withings measures", full, "withings")  # no probe answered for Withings
    clock.now += 20.0  # 10 requests in 20 s: the pace is slower than the rate limit's share
    live.page("whoop cycles", 250, 10, [{"start": (NOW - timedelta(days=250)).isoformat()}])
    live.page("withings measures", 900, 2, [{"date": int((NOW - timedelta(days=40)).timestamp())}])
    live.stop()
    lines = out.getvalue().splitlines()
    cycles = next(line for line in reversed(lines) if "whoop cycles" in line)
    # A quarter of 1,000 days in 10 requests: 40 in all, 30 left at 2 s each: 1 minute.
    assert "10 requests, ~30 left" in cycles and "25%, about 1 min left" in cycles
    measures = next(line for line in reversed(lines) if "withings measures" in line)
    assert "back to 2026-01-29" in measures and "%" not in measures
    assert max(len(line) for line in lines) <= 100 and "…" not in out.getvalue()


def test_the_time_left_is_never_faster_than_the_rate_limit_allows():
    # 300 requests left, measured at 10 a second, but 100 a minute shared by 2 resources: 6 minutes.
    assert seconds_left(300, 10, 1.0, 100, sharing=2) == pytest.approx(360.0)
    # The pace measured is slower than the limit: the pace.
    assert seconds_left(30, 10, 20.0, 100) == pytest.approx(60.0)
    assert seconds_left(None, 10, 20.0, 100) is None and seconds_left(5, 0, 0.0, None) is None


def test_a_first_sync_on_a_terminal_probes_within_its_bound_and_draws_the_time_left(etl_env, db_url, monkeypatch):
    from sync.run import RunOptions
    from sync.service import run_once

    monkeypatch.setenv("COLUMNS", "120")
    out = io.StringIO()
    outcome = run_once(RunOptions(interactive=True), reporter=Reporter(interactive=True, stream=out))
    assert outcome.exit_code == 0
    probes = [r for r in etl_env.requests if r["path"] == "/developer/v2/cycle" and r["query"].get("limit") == "1"]
    assert 1 <= len(probes) <= PROBE_REQUESTS
    assert all("start" in r["query"] and "end" in r["query"] for r in probes)
    # The probe's getdevice, if any, and the devices resource's own.
    assert len([r for r in etl_env.requests if r["path"] == "/v2/user"]) <= 2
    drawn = out.getvalue()
    assert "whoop cycles" in drawn and "done" in drawn


def test_pages_that_come_oldest_first_are_counted_from_the_start(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    out = io.StringIO()
    live = LiveProgress(out, monotonic=_Clock())
    live.history_start("withings", NOW - timedelta(days=400))
    live.start("withings activity", Window(None, NOW, "full"), "withings")

    def day(days_ago: int) -> dict:
        return {"startdate": int((NOW - timedelta(days=days_ago)).timestamp())}

    live.page("withings activity", 100, 1, [day(400), day(350)])
    live.page("withings activity", 200, 2, [day(349), day(300)])  # newer than the first page: oldest first
    live.stop()
    line = next(line for line in reversed(out.getvalue().splitlines()) if "withings activity" in line)
    # 100 of 400 days in 2 requests: 8 in all, 6 left (not "done" because the oldest came first).
    assert "2 requests, ~6 left" in line and "25%" in line
