"""`python etl.py status`: what was synced when, how fresh the data is, the latest weight, the quarantine."""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo

from sqlalchemy.engine import Engine

from configuration import clock
from configuration.accounts import DEFAULT_ACCOUNT
from configuration.invocation import command
from mapping.withings import AMBIGUOUS_ATTRIB, MANUAL_ATTRIBS
from readers import charts, read_model
from readers.read_model import ago as _ago
from storage import account_policy, rate_budget
from sync import resources

NAME_WIDTH = max(len(f"{r.source} {r.name}") for r in resources.RESOURCES)


def _in(when: datetime, tz: tzinfo) -> datetime:
    # SQLite hands back naive UTC; astimezone() would read a naive time as this computer's.
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone(tz)


def _short(when: datetime | None, tz: tzinfo = timezone.utc) -> str:
    return _in(when, tz).strftime("%Y-%m-%d %H:%M") if when else "-"


def _fmt(when: datetime | None, tz: tzinfo = timezone.utc) -> str:
    if when is None:
        return "-"
    return f"{_short(when, tz)} {'UTC' if tz is timezone.utc else _in(when, tz).tzname() or ''}".rstrip()


def collect_statuses(
    engine: Engine,
    names=(),
    now: datetime | None = None,
    zone_hints: bool = False,
    whoop_per_day: int | None = None,
) -> list[dict]:
    """One status per account named (none named: every account); UnknownAccount for a name
    that does not exist. `zone_hints`: each also carries what the dashboard picks its zone from.
    `whoop_per_day`: this host's WHOOP_REQUESTS_PER_DAY."""
    now = now or clock.utcnow()
    with engine.connect() as conn:
        chosen = account_policy.to_read(conn, names)
    statuses = [collect_status(engine, now, scope, whoop_per_day) for scope in chosen]
    if zone_hints:
        with engine.connect() as conn:
            for status, scope in zip(statuses, chosen, strict=True):
                status["zone_hints"] = charts.zone_hints(conn, scope.id if scope else None)
    return statuses


def collect_status(
    engine: Engine,
    now: datetime | None = None,
    scope: account_policy.Scope | None = None,
    whoop_per_day: int | None = None,
) -> dict:
    """Everything the status report shows of one account (by default the whole database), as
    plain data (no token values). The WHOOP budget is the one this host uses: the lowest any
    host declared today, or this host's own `whoop_per_day` when that is lower."""
    now = now or clock.utcnow()
    account = scope.id if scope else None
    with engine.connect() as conn:
        rows = read_model.freshness(conn, now, account)
        tokens = read_model.stored_tokens(conn, account)
        latest = read_model.headline(conn, now, account)
        flagged = read_model.flagged(conn, account)
        held = read_model.quarantined(conn, account)
        devices = read_model.device_notes(conn, now, account)
        mqtt = read_model.published(conn, scope.label() if scope else DEFAULT_ACCOUNT)
        # The app's daily budget is shared by every account: the same line in each.
        whoop_today = rate_budget.usage(conn, "whoop", rate_budget.DAY, now)
        whoop_said = rate_budget.server_said(conn, "whoop", now)
    name = scope.name if scope else None
    for entry in (*rows, *tokens, *flagged, *held):  # every entry says whose it is (--json)
        entry["account"] = name
    return {
        "account": name,
        "now": now,
        "resources": rows,
        "tokens": tokens,
        "latest_weight": latest["weight"],
        "latest_blood_pressure": latest["blood_pressure"],
        "latest_recovery": latest["recovery"],
        "last_sleep": latest["sleep"],
        "last_withings_sleep": latest["withings_sleep"],
        "flagged": flagged,
        "quarantine": held,
        "devices": devices,
        "whoop_today": _budget_used(whoop_today, whoop_per_day, whoop_said),
        "mqtt": mqtt,
    }


def _budget_used(today: tuple[int, int] | None, declared: int | None, said) -> dict | None:
    """Today's WHOOP count against the lowest budget declared (this host's too), and until when
    WHOOP itself said its daily limit is spent (None: it did not today)."""
    if today is None:
        return None
    used, lowest = today
    budget = lowest if declared is None else min(lowest, declared)
    return {"used": used, "budget": budget, "declared_here": declared, "server_spent_until": said and said[0]}


def format_statuses(statuses: list[dict]) -> str:
    """Every account's report; a lone `default` account's as it always read, others under their names."""
    if len(statuses) == 1 and statuses[0]["account"] in (None, DEFAULT_ACCOUNT):
        return format_status(statuses[0])
    return "\n\n".join(f"Account {s['account']}:\n{format_status(s)}" for s in statuses)


def format_status(status: dict) -> str:
    """The status report as text, its times in UTC or in the `display_tz` the caller chose
    (`display_zone` names it)."""
    now, tz = status["now"], status.get("display_tz", timezone.utc)
    zone = status.get("display_zone", "UTC")
    lines = [f"{'resource':{NAME_WIDTH}} {'last sync':14} {'newest record':16} last window (times in {zone})"]
    for r in status["resources"]:
        start = _short(r["window_start"], tz) if r["window_start"] else "full history"
        window = f"{start} to {_short(r['window_end'], tz)}" if r["last_success_at"] else "-"
        lines.append(
            f"{r['source'] + ' ' + r['resource']:{NAME_WIDTH}} {_ago(r['last_success_at'], now):14} "
            f"{_short(r['newest_record'], tz):16} {window}"
        )
        if r["status"] == "error":
            lines.append(f"    last attempt failed: {r['error']}")
        if r["stale"]:
            lines.append(f"    WARNING: {r['label']} {r['problem']}")
    lines += [f"    WARNING: {note['message']}" for note in status.get("devices", ())]
    for t in status["tokens"]:
        lines.append(
            f"{t['provider']} token: access token expires {_fmt(t['expires_at'], tz)}"
            f"{'' if t['has_refresh_token'] else ' (no refresh token: re-connect when it expires)'}"
        )
    if status.get("whoop_today"):  # requests of every process today, against WHOOP_REQUESTS_PER_DAY
        today = status["whoop_today"]
        line = f"WHOOP today: {today['used']:,} of {today['budget']:,}"
        if today.get("declared_here") not in (None, today["budget"]):
            line += f" (the lowest budget any host declares; this host's WHOOP_REQUESTS_PER_DAY is {today['declared_here']:,})"
        if today.get("server_spent_until"):
            line += f" (WHOOP says its daily limit is spent until {_fmt(today['server_spent_until'])})"
        lines.append(line)
    lines += _mqtt_lines(status)
    lines += _latest_lines(status)
    lines += [f"Flagged: {read_model.flagged_note(item)}" for item in status["flagged"]]
    lines += format_quarantine(status["quarantine"], tz)
    return "\n".join(lines)


def _mqtt_lines(status: dict) -> list[str]:
    """When Home Assistant last got this account's values (nothing when it never was published)."""
    mqtt, now = status.get("mqtt"), status["now"]
    if not mqtt:
        return []
    line = f"Home Assistant (MQTT): last published {_ago(mqtt['last_success_at'], now)}"
    if mqtt["error"]:
        line += f"; the last attempt ({_ago(mqtt['last_attempt_at'], now)}) failed: {mqtt['error']}"
    return [line]


def _latest_lines(status: dict) -> list[str]:
    now, lines, tz = status["now"], [], status.get("display_tz", timezone.utc)
    weight = status["latest_weight"]
    if weight:
        lines.append(
            f"Latest weight: {weight['kg']:.1f} kg, measured {_fmt(weight['measured_at'], tz)} "
            f"({_ago(weight['measured_at'], now)}){_attrib_note(weight['attrib'])}"
        )
    else:
        lines.append("Latest weight: none yet (run the ETL, or connect Withings)")
    bp = status["latest_blood_pressure"]
    if bp:
        lines.append(
            f"Latest blood pressure: {bp['systolic']:.0f}/{bp['diastolic']:.0f} mmHg, "
            f"measured {_fmt(bp['measured_at'], tz)}{_attrib_note(bp['attrib'])}"
        )
    recovery = status["latest_recovery"]
    if recovery:
        lines.append(f"Latest recovery: {recovery['score']:.0f} % (cycle from {_fmt(recovery['cycle_start'], tz)})")
    for label, sleep in (("WHOOP", status["last_sleep"]), ("Withings", status["last_withings_sleep"])):
        if sleep and sleep["hours"] is not None:
            lines.append(f"Last sleep ({label}): {sleep['hours']:.1f} h asleep, woke {_fmt(sleep['end'], tz)}")
    return lines


def _attrib_note(attrib: int | None) -> str:
    if attrib in MANUAL_ATTRIBS:
        return " (manual entry)"
    if attrib == AMBIGUOUS_ATTRIB:
        return " (may be someone else's: confirm it in Health Mate)"
    return ""


def format_quarantine(held: list[dict], tz: tzinfo = timezone.utc) -> list[str]:
    """Lines about records the platform kept but could not store (none when the quarantine is empty)."""
    if not held:
        return []
    lines = [
        "Quarantine (records the APIs sent that could not be stored; retried on every run; "
        f"{command('quarantine')} lists them):"
    ]
    for q in held:
        acknowledged = f", {q['acknowledged']} acknowledged" if q["acknowledged"] else ""
        lines.append(
            f"    {q['source']} {q['resource']}: {q['count']} record{'s' if q['count'] != 1 else ''}"
            f"{acknowledged} since {_fmt(q['oldest'], tz)}; oldest reason: {q['oldest_reason'][:160]}"
        )
    return lines
