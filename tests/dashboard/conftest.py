"""Fixtures the dashboard's test modules share."""

import pytest

from configuration import clock
from tests.dashboard.test_summary_and_http import NOW, USER, optional_tables  # noqa: F401 - registers the fixture here
from tests.helpers.accounts import file_under_default


@pytest.fixture(autouse=True)
def _page_clock_at_now(monkeypatch):
    """The page's clock is the tests' NOW: "5 minutes ago" and "stale" read the same however long
    the suite took to reach a test, and whatever the time of day it runs."""
    monkeypatch.setattr(clock, "utcnow", lambda: NOW)


@pytest.fixture(autouse=True)
def _rows_belong_to_default(request):
    """The rows the tests write by hand are USER's, filed under `default` as a token save files
    them: a reader reads an account's rows only."""
    if "db_url" in request.fixturenames:
        file_under_default(request.getfixturevalue("db_url"), {"whoop": USER, "withings": USER})
