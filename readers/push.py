"""Push per account, as `webhooks status` and `status --check` read it: what is subscribed, when the last event came.

Push is on for a provider when PUSH_PROVIDERS names it: a setting, not a guess from the data,
so that a push that never worked (no event at all) is an alert rather than "push off", and
turning push off is one edit. The Withings subscriptions are the ones the last `notify list`
stored (sync/subscriptions.py); `webhooks status` lists afresh first unless told not to.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Connection

from configuration.push import WITHINGS_APPLIS, push_live
from storage import subscriptions


def push_report(conn: Connection, account_id: int | None, settings, now: datetime, sources=None) -> list[dict]:
    """One entry per provider of `sources` (default: both): whether push is on, the last event
    and how long ago, whether it is silent, and for Withings what is subscribed and missing."""
    last = subscriptions.last_events(conn, account_id)
    held = subscriptions.stored(conn, account_id, "withings")
    report = []
    for source in sources or ("whoop", "withings"):
        on = source in settings.push_providers
        entry = {
            "provider": source,
            "push": on,
            "last_event": last.get(source),
            "silent": on and not push_live(source, settings, last.get(source), now),
            "hours_since_last_event": (now - last[source]).total_seconds() / 3600 if source in last else None,
        }
        if source == "withings":
            subscribed = sorted({h["appli"] for h in held})
            entry |= {
                "subscribed": subscribed,
                "missing": [a for a in WITHINGS_APPLIS if a not in subscribed] if on else [],
                "callbacks": sorted({h["callback"] for h in held}),
                "listed_at": max((h["listed_at"] for h in held), default=None),
            }
        report.append(entry)
    return report


def hours(total: float) -> str:
    """`31 h` or `3 d`: how long, for a message."""
    return f"{total:.0f} h" if total < 72 else f"{total / 24:.0f} d"


def applis_named(applis) -> str:
    """`50 (in bed), 51 (out of bed)`."""
    return ", ".join(f"{a} ({WITHINGS_APPLIS.get(a, 'other')})" for a in applis)
