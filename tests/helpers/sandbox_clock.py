"""The sandbox clock the tests share: noon UTC of the real day before.

Not "a day ago": the sandbox person's day ends at 22:00 local and the next starts at local
midnight, so a clock that followed the real time of day had no partial day in progress for two
hours every evening, and the tests about today's partial day failed then (CI at 21:15 UTC).
Noon UTC is mid-day in Berlin and morning in New York (the person's two zones), every day of the
year; the ETL, on the real clock, is 12 to 36 hours ahead, well inside its 7-day lookback."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone


def sandbox_now() -> datetime:
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).date()
    return datetime.combine(yesterday, time(12), timezone.utc)
