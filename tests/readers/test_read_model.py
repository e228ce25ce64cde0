"""The read model `status` and the dashboard share: one threshold, one "time ago", one command."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from commands.dashboard import dashboard
from dashboard.summary import load_summary
from models import Account, SyncState
from readers import read_model
from readers.status import collect_status, format_status
from storage.engine import make_engine
from sync import resources
from tests.conftest import PROJECT_DIR
from tests.helpers.etl import root_commands

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def test_thresholds_come_from_the_declaration_unless_a_setting_overrides(monkeypatch):
    measures, workout = resources.get("withings", "measures"), resources.get("whoop", "workout")
    assert (read_model.stale_after(measures), read_model.stale_after(workout)) == (timedelta(days=2), timedelta(days=7))
    monkeypatch.setenv("STALE_AFTER_WITHINGS_MEASURES", "36h")
    assert read_model.stale_after(measures) == timedelta(hours=36)
    assert [read_model.duration(timedelta(hours=h)) for h in (1, 36, 24, 168)] == [
        "1 hour",
        "36 hours",
        "1 day",
        "7 days",
    ]


def test_status_and_dashboard_agree_on_staleness(db_url, monkeypatch):
    monkeypatch.setenv("STALE_AFTER_WHOOP_CYCLES", "4d")
    engine = make_engine(db_url)
    with Session(engine) as session, session.begin():
        for resource in resources.RESOURCES:
            session.add(
                SyncState(
                    source=resource.source,
                    resource=resource.name,
                    user_id=1,
                    account_id=select(Account.id).where(Account.name == "default").scalar_subquery(),
                    status="ok",
                    last_attempt_at=NOW,
                    last_success_at=NOW - timedelta(days=3),
                )
            )
    status = collect_status(engine, NOW)
    summary = load_summary(engine, NOW)
    engine.dispose()
    stale = {r["resource"]: r["stale"] for r in status["resources"]}
    assert stale == {
        "cycles": False,
        "recovery": True,
        "sleep": True,
        "workout": False,
        "body": True,
        "measures": True,
        "activity": True,
        "sleep_summary": True,
        "sleep_series": True,
        "intraday": True,
        "workouts": False,  # rest weeks are not an outage
        "ecg": False,  # taken on demand
        "devices": False,
        "profile": False,  # read weekly
    }
    assert "WARNING: WHOOP recovery last synced 3 days ago" in format_status(status)
    whoop, withings = summary["freshness"]
    assert whoop["warning"] == "WHOOP recovery last synced 3 days ago: run the ETL (python etl.py)."
    assert withings["warning"] == "Withings measures last synced 3 days ago: run the ETL (python etl.py)."
    assert whoop["last_success_ago"] == "3 days ago"


def test_dashboard_is_one_command_for_etl_and_python_m():
    assert root_commands()["dashboard"] is dashboard
    help_m = subprocess.run(
        [sys.executable, "-m", "dashboard", "--help"], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60
    )
    assert help_m.returncode == 0 and "--database-url" in help_m.stdout and "--open" in help_m.stdout


@pytest.mark.parametrize(
    "seconds, text", [(30, "just now"), (90, "1 minute ago"), (7200, "2 hours ago"), (3 * 86400, "3 days ago")]
)
def test_one_time_ago_format(seconds, text):
    assert read_model.ago(NOW - timedelta(seconds=seconds), NOW) == text
