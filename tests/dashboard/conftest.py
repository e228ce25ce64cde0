"""Fixtures the dashboard's test modules share."""

import pytest

from configuration import clock
from tests.dashboard.test_summary_and_http import NOW, optional_tables  # noqa: F401 - registers the fixture here


@pytest.fixture(autouse=True)
def _page_clock_at_now(monkeypatch):
    """The page's clock is the tests' NOW: "5 minutes ago" and "stale" read the same however long
    the suite took to reach a test, and whatever the time of day it runs."""
    monkeypatch.setattr(clock, "utcnow", lambda: NOW)
