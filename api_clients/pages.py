"""The one page type: what a client fetched in one response, carried unchanged to the loader."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class Page:
    """One API page: its records and what the response says about them.

    `timezone` and `updatetime` come from a Withings body, `more` and `offset` are its paging
    fields; `fetched_at` is when a record without a time of its own arrived; `listing` (on a
    window's last page) holds every id the API lists in the window, for deletions.
    """

    records: list
    timezone: str | None = None
    updatetime: int | None = None
    more: bool = False
    offset: int | None = None
    fetched_at: datetime | None = None
    listing: set | None = None
