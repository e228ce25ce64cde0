"""`--local-time` in every command that prints times: the dashboard's zone, named in the output;
UTC (and said so) without it."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

import etl
from configuration import clock
from dashboard.panels import page_zone
from storage import quarantine
from storage.engine import make_engine
from tests.helpers import factories as f
from tests.helpers.etl import run_etl

SEEN = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
STAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")


@pytest.fixture
def synced(etl_env, db_url):
    """A first run against the sandbox, one quarantined record, and the zone the dashboard picks."""
    assert run_etl()[0] == 0
    engine = make_engine(db_url, read_only=False)
    try:
        with engine.begin() as conn:
            cycle = f.cycle(1)
            cycle["start"] = "1970-01-01T00:00:00.000Z"
            rejected = [quarantine.Rejected(cycle, "start out of bounds")]
            quarantine.quarantine_records(conn, "whoop", "cycles", rejected, key_field="id", now=SEEN)
        with engine.connect() as conn:
            zone = page_zone(conn)
    finally:
        engine.dispose()
    assert zone.source in ("withings", "whoop")  # the sandbox person's data names a zone
    return zone


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(etl.cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_accounts_shows_utc_or_the_dashboards_zone_and_names_it(synced):
    utc, local = _invoke("accounts"), _invoke("accounts", "--local-time")
    assert "(times in UTC)" in utc.splitlines()[0]
    named = f"(times in {synced.label(clock.utcnow())}, the dashboard's zone, from your"
    assert named in local.splitlines()[0]
    for utc_line, local_line in zip(utc.splitlines()[1:], local.splitlines()[1:], strict=True):
        stamp = STAMP.search(utc_line)
        if stamp is None:
            continue
        when = datetime.strptime(stamp.group(), "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)
        assert f"{when.astimezone(synced.tz):%Y-%m-%d %H:%M}" in local_line


def test_the_quarantine_list_shows_utc_or_the_dashboards_zone_and_names_it(synced):
    utc, local = _invoke("quarantine"), _invoke("quarantine", "--local-time")
    assert "(times in UTC)" in utc.splitlines()[0] and "2026-03-01 08:00" in utc.splitlines()[1]
    assert f"(times in {synced.label(clock.utcnow())}, the dashboard's zone" in local.splitlines()[0]
    assert f"{SEEN.astimezone(synced.tz):%Y-%m-%d %H:%M}" in local.splitlines()[1]


def test_json_stays_utc_data_whatever_the_flag(synced):
    assert _invoke("accounts", "--json", "--local-time") == _invoke("accounts", "--json")
    assert _invoke("quarantine", "--json", "--local-time") == _invoke("quarantine", "--json")


def test_every_command_that_prints_times_offers_local_time():
    for name in ("status", "accounts", "quarantine"):
        result = CliRunner().invoke(etl.cli, [name, "--help"])
        assert "--local-time" in result.stdout and "dashboard's zone" in result.stdout
