"""Fixtures the dashboard's test modules share."""

from tests.dashboard.test_summary_and_http import optional_tables  # noqa: F401 - registers the fixture here
