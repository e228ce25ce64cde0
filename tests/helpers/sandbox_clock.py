"""The sandbox clock the tests share: a day behind ours, never in the person's evening.

A day behind, so that a test's `advance_day` still lands at or before our own clock (the ETL's
windows end at our now) and the newest records stay well inside the tests' 3-day staleness.
Never between 22:00 and midnight local: the sandbox person's day ends at 22:00 and the next begins
at midnight, so in those two hours no partial day is in progress, and the tests about today's
partial Withings day failed every evening (CI at 21:15 UTC). Such a clock moves on to one minute
past local midnight: under two hours ahead of "a day behind", so `advance_day` still stays behind
our clock's end of the person's day."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sandbox.person import Person
from sandbox.timeutil import local_at


def sandbox_now(seed: int = 7) -> datetime:
    now = (datetime.now(timezone.utc) - timedelta(days=1)).replace(microsecond=0)
    person = Person(seed)
    for day in (now.date() - timedelta(days=1), now.date()):  # the local day may still be yesterday in UTC
        midnight = local_at(day + timedelta(days=1), 0.0, person.zone_for(day + timedelta(days=1)))
        if person.day_end(day) <= now < midnight:
            return midnight + timedelta(minutes=1)
    return now
