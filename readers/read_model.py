"""The read side every reader shares: per-resource freshness, staleness, the latest values, flags.

One threshold per declared resource (`Resource.stale_after`, overridden by a
`STALE_AFTER_<SOURCE>_<RESOURCE>` setting), one "time ago" format, one missing-table check and
one answer to "what is the latest weight, blood pressure, recovery and sleep" (from the metric
catalog), so `status`, `status --check`, the dashboard, the MCP tools and `export` never disagree.

Every reader takes an optional account id, and keeps that account's rows through
`readers.ownership.owned`; which accounts there are is `storage.account_policy`'s answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Connection

from configuration import clock
from configuration.settings import stale_after_overrides
from mapping.fields import latest_plausible
from mapping.withings import MANUAL_ATTRIBS
from models import OAuthToken, Quarantine, SyncState, WithingsMeasure, withings_device
from readers import metrics
from readers.ownership import owned
from storage import publish_state, quarantine
from sync import resources


def ago(when: datetime | None, now: datetime) -> str:
    """How long before `now`: "just now", "5 minutes ago", "3 hours ago", "4 days ago", "never"."""
    if when is None:
        return "never"
    seconds = (now - when).total_seconds()
    if seconds < 60:  # also a clock a little ahead of ours
        return "just now"
    unit, size = ("minute", 60) if seconds < 3600 else ("hour", 3600) if seconds < 48 * 3600 else ("day", 86400)
    count = int(seconds // size)
    return f"{count} {unit}{'' if count == 1 else 's'} ago"


def duration(delta: timedelta) -> str:
    """A threshold as people write it: "2 days", "36 hours"."""
    hours = int(delta.total_seconds() // 3600)
    if hours % 24:
        return f"{hours} hour{'' if hours == 1 else 's'}"
    return f"{hours // 24} day{'' if hours == 24 else 's'}"


def stale_after(resource: resources.Resource) -> timedelta:
    """The resource's threshold: its STALE_AFTER_<SOURCE>_<RESOURCE> setting, else its declaration."""
    return stale_after_overrides().get(f"{resource.source}_{resource.name}", resource.stale_after)


def has_table(conn: Connection, name: str) -> bool:
    """Whether the database has table `name` (an un-migrated or older database may not)."""
    return inspect(conn).has_table(name)


def newest(conn: Connection, column, now: datetime | None = None, account: int | None = None) -> datetime | None:
    """The newest live value of a table's time `column`.

    Deleted rows and dates past now + 2 days (an older release stored a weigh-in dated 9999)
    say nothing about how recent the data is: they would silence the staleness warning for ever.
    """
    return conn.execute(
        select(func.max(column)).where(
            column.table.c.deleted_at.is_(None),
            column <= latest_plausible(now or clock.utcnow()),
            *owned(column.table, account),
        )
    ).scalar()


def newest_record(
    conn: Connection, resource: resources.Resource, now: datetime | None = None, account: int | None = None
) -> datetime | None:
    """The time of the resource's newest live record, from its declared (indexed) freshness columns."""
    return _max(*(newest(conn, column, now, account) for column in resource.freshness))


def _sync_states(conn: Connection, account: int | None = None) -> dict[tuple[str, str], dict]:
    """Per (source, resource), over every user (of the account): newest success, newest attempt and its outcome."""
    out: dict[tuple[str, str], dict] = {}
    rows = sorted(
        conn.execute(select(SyncState).where(*owned(SyncState, account))),
        key=lambda r: (r.last_attempt_at is not None, r.last_attempt_at),
    )
    for row in rows:  # one row per (source, resource, user): a handful, never a data table
        state = out.setdefault((row.source, row.resource), {"last_success_at": None})
        state.update(
            last_attempt_at=row.last_attempt_at,
            status=row.status,
            error=row.error,
            window_start=row.window_start,
            window_end=row.window_end,
            last_success_at=_max(state["last_success_at"], row.last_success_at),
        )
    return out


def freshness(conn: Connection, now: datetime, account: int | None = None) -> list[dict]:
    """Per declared resource: last sync, newest record, its threshold and why it is stale (or None)."""
    states = _sync_states(conn, account)
    rows = []
    for resource in resources.RESOURCES:
        state = states.get(resource.key, {})
        newest, threshold = newest_record(conn, resource, now, account), stale_after(resource)
        success = state.get("last_success_at")
        kind, problem = _staleness(success, newest, threshold, now)
        rows.append(
            {
                "source": resource.source,
                "resource": resource.name,
                "label": resource.label,
                "last_success_at": success,
                "last_attempt_at": state.get("last_attempt_at"),
                "window_start": state.get("window_start"),
                "window_end": state.get("window_end"),
                "status": state.get("status", "never"),
                "error": state.get("error"),
                "newest_record": newest,
                "stale_after": threshold,
                "stale": kind is not None,
                "stale_kind": kind,
                "problem": problem,
                "reconnect": needs_reconnect(resource.source, state.get("error")),
            }
        )
    return rows


def _staleness(
    success: datetime | None, newest: datetime | None, threshold: timedelta, now: datetime
) -> tuple[str | None, str | None]:
    """("never" | "sync" | "data", why) when stale, else (None, None)."""
    if success is None:
        return "never", "has never synced"
    if now - success > threshold:
        return "sync", f"last synced {ago(success, now)}"
    if newest is not None and now - newest > threshold:
        # Syncing works but nothing new arrives: a strap not worn, a scale not used.
        return "data", f"has no record newer than {duration(threshold)} (newest {ago(newest, now)})"
    return None, None


# A device of these types is worn or slept on every day: a few days without a session means it
# is not syncing. A scale or a blood-pressure monitor is used when its owner wants: a month.
DAILY_DEVICE_TYPES = ("Activity Tracker", "Sleep Monitor")
DEVICE_SILENT_AFTER = {True: timedelta(days=3), False: timedelta(days=30)}


def device_notes(conn: Connection, now: datetime, account: int | None = None) -> list[dict]:
    """Per linked Withings device with a likely reason for quiet data, one line: a `low` battery
    ("Withings Body+ battery low") or no session for a while ("ScanWatch: last session 9 days ago")."""
    table = withings_device
    rows = conn.execute(
        select(table.c.model, table.c.type, table.c.battery, table.c.last_session_at).where(
            table.c.deleted_at.is_(None), *owned(table, account)
        )
    ).all()
    notes = []
    for model, kind, battery, last in sorted(rows, key=lambda r: (r.model or "", r.type or "")):
        name = model or kind or "a device"
        if battery == "low":
            notes.append({"device": name, "kind": "battery", "message": f"Withings {name} battery low"})
        if last is not None and now - last > DEVICE_SILENT_AFTER[kind in DAILY_DEVICE_TYPES]:
            notes.append({"device": name, "kind": "silent", "message": f"{name}: last session {ago(last, now)}"})
    return notes


def needs_reconnect(source: str, error: str | None) -> bool:
    """Whether a stored sync error asks the user to connect `source` again (ReconnectRequired)."""
    return bool(error) and f"connect {source}" in error


def stored_tokens(conn: Connection, account: int | None = None) -> list[dict]:
    """Per stored OAuth token (of the account): its provider and expiry, never its value."""
    rows = conn.execute(
        select(OAuthToken.provider, OAuthToken.expires_at, OAuthToken.refresh_token).where(*owned(OAuthToken, account))
    )
    return [{"provider": p, "expires_at": at, "has_refresh_token": bool(refresh)} for p, at, refresh in rows]


def quarantined(conn: Connection, account: int | None = None) -> list[dict]:
    """Per (source, resource): the records held, how many are new since acknowledged (dismissed left out)."""
    return quarantine.summary(conn, where=owned(Quarantine, account))


def headline(conn: Connection, now: datetime, account: int | None = None) -> dict:
    """The latest weight, blood pressure and scored recovery, and last night's sleep (WHOOP, Withings)."""
    weight, bp = metrics.latest(conn, "weight", now, account), metrics.latest(conn, "bp_systolic", now, account)
    recovery = metrics.latest(conn, "recovery", now, account)
    sleep = metrics.latest(conn, "sleep_hours", now, account)
    night = metrics.latest(conn, "withings_sleep_hours", now, account)
    return {
        "weight": weight
        and {
            "kg": weight["weight_kg"],
            "measured_at": weight["measured_at"],
            "attrib": weight["attrib"],
            "manual": weight["attrib"] in MANUAL_ATTRIBS,
            "fat_ratio_pct": weight["fat_ratio_pct"],
            "user_id": weight["user_id"],
            "timezone": weight["timezone"],
        },
        "blood_pressure": bp
        and {
            "systolic": bp["systolic_mmhg"],
            "diastolic": bp["diastolic_mmhg"],
            "pulse": bp["heart_rate_bpm"],
            "measured_at": bp["measured_at"],
            "attrib": bp["attrib"],
            "timezone": bp["timezone"],
        },
        "recovery": recovery
        and {
            "score": recovery["recovery_score"],
            "hrv": recovery["hrv_rmssd_milli"],
            "resting_hr": recovery["resting_heart_rate"],
            "cycle_start": recovery["at"],
        },
        "sleep": sleep
        and {
            "hours": sleep["sleep_hours"],
            "performance": sleep["sleep_performance_percentage"],
            "end": sleep["end"],
            "offset": sleep["timezone_offset"],
        },
        "withings_sleep": night
        and {
            "hours": night["withings_sleep_hours"],
            "score": night["sleep_score"],
            "end": night["end"],
            "timezone": night["timezone"],
        },
    }


def published(conn: Connection, name: str) -> dict | None:
    """When account `name` was last published to Home Assistant (MQTT), the last attempt and its
    error; None when it never was (or the database predates publishing)."""
    if not has_table(conn, publish_state.STATE.name):
        return None
    return publish_state.last(conn, name)


def flagged(conn: Connection, account: int | None = None) -> list[dict]:
    """Per declared resource with flagged rows: how many (kept as sent, left out of latest and charts)."""
    out = []
    for resource in resources.RESOURCES:
        # Every measure of a flagged group is in withings_measure too: the typed tables count it once.
        count = sum(
            conn.execute(
                select(func.count())
                .select_from(table)
                .where(table.c.flag.is_not(None), table.c.deleted_at.is_(None), *owned(table, account))
            ).scalar()
            for table in resource.tables
            if table is not WithingsMeasure.__table__
        )
        if count:
            out.append({"source": resource.source, "resource": resource.name, "label": resource.label, "count": count})
    return out


def flagged_note(item: dict) -> str:
    """One line about a resource's flagged rows, the same in the terminal and on the page."""
    count = item["count"]
    return (
        f"{item['label']}: {count} value{'s' if count != 1 else ''} flagged as implausible, kept as the API "
        "sent them and left out of latest values and charts"
    )


def _max(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None
