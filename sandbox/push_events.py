"""What an admin change tells the receivers: WHOOP webhooks and Withings notifications, by diff.

Before and after each admin call the pusher takes a snapshot of every built person's WHOOP sleeps,
workouts and recoveries (their `updated_at`) and Withings measure groups (`modified`); what
appeared or changed becomes `*.updated` / appli 1, what vanished `*.deleted`. A recovery's event
carries its SLEEP's UUID, as WHOOP v2 does. Activity and sleep-summary edits name their day.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from .timeutil import unix, zone
from .withings_data import WITHINGS_TIMEZONE

if TYPE_CHECKING:
    from .app import SandboxApp

WHOOP_KINDS = ("sleep", "workout", "recovery")  # WHOOP sends no cycle or body events
# Withings notification categories (appli) the sandbox sends, by what changed.
APPLI_WEIGHT, APPLI_ACTIVITY, APPLI_SLEEP = 1, 16, 44
DAY_EDITS = {"edit-activity": APPLI_ACTIVITY, "edit-sleep": APPLI_SLEEP}


@dataclass(frozen=True)
class PushEvent:
    """One event to deliver: a WHOOP webhook body or a Withings notification form."""

    provider: str
    person: int
    fields: dict = field(hash=False)


@dataclass
class Snapshot:
    """Per built person: WHOOP {(kind, key): (updated_at, event id)} and Withings {grpid: (modified, date)}."""

    whoop: dict[int, dict] = field(default_factory=dict)
    withings: dict[int, dict] = field(default_factory=dict)
    users: dict[int, tuple[int, int]] = field(default_factory=dict)  # person: (WHOOP user_id, Withings userid)


def _event_id(kind: str, record: dict) -> str:
    return str(record["sleep_id"] if kind == "recovery" else record["id"])


def snapshot(app: SandboxApp) -> Snapshot:
    """The state the events are told from (people whose history is not built cannot have changed)."""
    shot = Snapshot()
    for index, life in app.people.built_lives():
        history = life.history
        shot.whoop[index] = {
            (kind, _event_id(kind, record)): record["updated_at"]
            for kind in WHOOP_KINDS
            for record in history.collections[kind].all()
        }
        shot.withings[index] = {group["grpid"]: (group["modified"], group["date"]) for group in history.groups}
        who = app.people.identity(index)
        shot.users[index] = (who.whoop_user_id, int(who.withings_userid))
    return shot


def _whoop_events(before: Snapshot, after: Snapshot) -> list[PushEvent]:
    events = []
    for person, now in after.whoop.items():
        if person not in before.whoop:
            continue  # built by this call from its seed: nothing of it changed
        then = before.whoop[person]
        user_id = after.users[person][0]
        changes = [(key, "updated") for key, stamp in now.items() if then.get(key) != stamp]
        changes += [(key, "deleted") for key in then if key not in now]
        for (kind, object_id), change in changes:
            body = {"user_id": user_id, "id": object_id, "type": f"{kind}.{change}", "trace_id": str(uuid.uuid4())}
            events.append(PushEvent("whoop", person, body))
    return events


def _withings_form(userid: int, appli: int, start: int, end: int) -> dict:
    return {"userid": str(userid), "appli": str(appli), "startdate": str(start), "enddate": str(end)}


def _group_events(before: Snapshot, after: Snapshot) -> list[PushEvent]:
    events = []
    for person, now in after.withings.items():
        if person not in before.withings:
            continue
        then = before.withings[person]
        userid = after.users[person][1]
        for grpid, (modified, measured) in now.items():
            if then.get(grpid, (None,))[0] != modified:
                events.append(PushEvent("withings", person, _withings_form(userid, APPLI_WEIGHT, measured, measured)))
    return events


def _day_event(app: SandboxApp, route: str, params: dict) -> list[PushEvent]:
    appli = DAY_EDITS.get(route)
    if appli is None:
        return []
    person = int(params.get("person", 0))
    day = date.fromisoformat(str(params["date"]))
    start = datetime.combine(day, time(0), zone(WITHINGS_TIMEZONE))
    userid = int(app.people.identity(person).withings_userid)
    form = _withings_form(userid, appli, unix(start), unix(start + timedelta(days=1)) - 1)
    return [PushEvent("withings", person, form)]


def events_between(app: SandboxApp, route: str, params: dict, before: Snapshot, after: Snapshot) -> list[PushEvent]:
    """Every event the change from `before` to `after` (made by admin `route`) sends."""
    return [*_whoop_events(before, after), *_group_events(before, after), *_day_event(app, route, params)]
