"""The dashboard's one data document: latest weight, deltas by dates, trends, per-resource freshness."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from configuration import clock, settings
from configuration.invocation import command
from dashboard import night, panels
from dashboard.localtime import PageZone, naive_local, show
from mapping.withings import AMBIGUOUS_ATTRIB, MANUAL_ATTRIBS
from models import SyncState
from readers import charts, daily, read_model
from readers.read_model import ago
from storage import account_policy
from sync import resources

CHANGE_WINDOWS = (7, 30)
RECENT_ECGS = 10  # the ECG card's rows
SOURCES = tuple((source, resources.SOURCE_LABELS[source]) for source in resources.SOURCES)


def load_summary(engine: Engine, now: datetime | None = None, account: str | None = None) -> dict:
    """The summary of one account (by default the first) from a read-only engine, with the names
    the picker offers; a database without our tables counts as empty. UnknownAccount for a name
    that does not exist."""
    try:
        with engine.connect() as conn:
            if not read_model.has_table(conn, SyncState.__tablename__):
                return empty_summary(now)
            chosen = account_policy.to_read(conn)
            scope = pick(conn, chosen, account)
            summary = build_summary(conn, now, scope)
            summary["account"] = scope.name
            summary["accounts"] = [s.name for s in chosen if s.name is not None]
            return summary
    except (OperationalError, ProgrammingError) as exc:
        if not _schema_behind(exc):
            raise
        return empty_summary(now, upgrade_needed())


def pick(conn: Connection, chosen: list[account_policy.Scope], name: str | None) -> account_policy.Scope:
    """The account called `name` among those the page offers (None: the first one)."""
    if name is None:
        return chosen[0]
    found = next((scope for scope in chosen if scope.name == name), None)
    # Not offered (created since, or unknown: UnknownAccount lists the accounts).
    return found or account_policy.to_read(conn, [name])[0]


def upgrade_needed() -> str:
    """The warning over a database older than this release."""
    return f"The database predates this release: run {command()} once to upgrade it."


def empty_summary(now: datetime | None = None, warning: str | None = None) -> dict:
    """The summary of a database the ETL has not written to yet (or not since an upgrade)."""
    now = now or clock.utcnow()
    rows = [_freshness_row(source, label, [], now) for source, label in SOURCES]
    for row in rows:
        row["warning"] = warning or row["warning"]
    return {"generated_at": _iso(now), "empty": True, "zone": None, "freshness": rows}


def build_summary(conn: Connection, now: datetime | None = None, scope: account_policy.Scope | None = None) -> dict:
    """Everything the page shows of one account (by default the whole database), as JSON-ready
    values (ISO times plus display strings)."""
    now = now or clock.utcnow()
    account = scope.id if scope else None
    rows = freshness(conn, now, account)
    summary = {"generated_at": _iso(now), "empty": all(r["newest_record_at"] is None for r in rows), "freshness": rows}
    if summary["empty"]:
        return summary
    zone = panels.page_zone(conn, account)
    summary["zone"] = {
        "name": zone.name,
        "label": zone.label(now),
        "source": zone.source,
        "generated_local": show(now, zone, "%H:%M"),
    }
    summary["axis"] = panels.axis(zone, now)
    latest = read_model.headline(conn, now, account)
    days = daily.recent(conn, charts.TREND_DAYS, account)
    summary["weight"] = weight_card(conn, latest["weight"], now, zone)
    summary["trends"] = trends(conn, summary["weight"], days, zone, account)
    unscored = charts.unscored_recoveries(conn, now - timedelta(days=panels.BAR_DAYS), account)
    recovery = summary["trends"]["recovery"]
    recovery["pending"] = panels.pending_days(unscored, recovery["day"], zone)
    summary["workouts"] = [_workout(w, zone) for w in charts.recent_workouts(conn, now=now, account=account)]
    summary["ecgs"] = [_ecg(r, zone) for r in charts.recent_ecgs(conn, limit=RECENT_ECGS, now=now, account=account)]
    summary["blood_pressure"] = panels.blood_pressure(conn, latest["blood_pressure"], zone, now, ago, account)
    summary["axis"]["y"] = _value_axes(summary)
    summary["steps"] = panels.steps(days)
    summary["sleep_compare"] = panels.sleep_compare(days)
    summary["night"] = night.last_night(conn, zone, account)
    return summary


def _value_axes(summary: dict) -> dict:
    """Each value axis's range, at least its minimum span wide (panels.MIN_SPANS); None: the chart's own."""
    weight, recovery, bp = summary["trends"]["weight"], summary["trends"]["recovery"], summary["blood_pressure"]
    spans = panels.MIN_SPANS
    return {
        "weight": panels.y_range(weight["kg"], spans["weight"]),
        "hrv": panels.y_range(recovery["hrv"], spans["hrv"]),
        "rhr": panels.y_range(recovery["rhr_7d"], spans["rhr"]),
        "bp": panels.y_range([*bp["systolic"], *bp["diastolic"]], spans["bp"]),
    }


def weight_card(conn: Connection, latest: dict | None, now: datetime, zone: PageZone) -> dict | None:
    """The latest counted weigh-in and its change against the newest weigh-in 7 and 30 days before it."""
    if latest is None:
        return None
    at, kg = latest["measured_at"], latest["kg"]
    changes = []
    for days in CHANGE_WINDOWS:
        base = charts.weight_at_or_before(conn, latest["user_id"], at - timedelta(days=days))
        delta = None if base is None else kg - base["weight_kg"]
        changes.append(
            {
                "days": days,
                "delta_kg": None if delta is None else round(delta, 2),
                "display": "n/a" if delta is None else signed_kg(delta),
                "baseline_kg": None if base is None else round(base["weight_kg"], 2),
                "baseline_at": None if base is None else _iso(base["measured_at"]),
                "baseline_local": None if base is None else show(base["measured_at"], zone, "%a %d %b %Y"),
            }
        )
    attrib = latest["attrib"]
    note = (
        "manual entry"
        if attrib in MANUAL_ATTRIBS
        else "may be someone else's: confirm it in Health Mate"
        if attrib == AMBIGUOUS_ATTRIB
        else None
    )
    return {
        "kg": round(kg, 2),
        "display": f"{kg:.1f} kg",
        "measured_at": _iso(at),
        "attrib": attrib,
        "manual": attrib in MANUAL_ATTRIBS,
        "note": note,
        "measured_local": show(at, zone),
        "ago": ago(at, now),
        "fat_ratio_pct": latest["fat_ratio_pct"],
        "changes": changes,
    }


def trends(conn: Connection, weight: dict | None, days: list[dict], zone: PageZone, account: int | None = None) -> dict:
    """Column-wise series (time or day, values) for the charts and the tables under them."""
    weights = []
    if weight is not None:
        weights = charts.weight_series(conn, datetime.fromisoformat(weight["measured_at"]), account=account)
    local, kg = [naive_local(r["t"], zone) for r in weights], [panels.rounded(r["kg"], 2) for r in weights]
    jumps = panels.weight_jumps(local, kg, settings.weight_jump_kg())
    for jump in jumps:
        jump["display"] = signed_kg(jump["delta_kg"])
    return {
        "weight": {
            "t": [_iso(r["t"]) for r in weights],
            "local": local,
            "kg": kg,
            "jumps": jumps,
            "jump_kg": settings.weight_jump_kg(),
        },
        "recovery": panels.recovery_days(days),
        "sleep": panels.sleep_days(days),
    }


def freshness(conn: Connection, now: datetime, account: int | None = None) -> list[dict]:
    """Per source: its last successful sync, each resource's own newest record and staleness (the
    very rows `status --check` judges), its flagged values and its quarantined records."""
    rows = read_model.freshness(conn, now, account)
    held = charts.quarantine_overview(conn, account)
    flagged = read_model.flagged(conn, account)
    out = [_freshness_row(source, label, [r for r in rows if r["source"] == source], now) for source, label in SOURCES]
    for row in out:
        row["quarantine"] = held.get(row["source"], [])
        row["flagged"] = [read_model.flagged_note(f) for f in flagged if f["source"] == row["source"]]
    return out


def _freshness_row(source: str, label: str, rows: list[dict], now: datetime) -> dict:
    success = _latest(r["last_success_at"] for r in rows)
    stale = next((r for r in rows if r["stale"]), None)  # each stale resource is marked in its own line too
    if not rows:
        warning = f"{label} has never synced: run the ETL ({command()})."
    elif stale is not None:
        hint = "." if stale["stale_kind"] == "data" else f": run the ETL ({command()})."
        warning = f"{stale['label']} {stale['problem']}{hint}"
    else:
        warning = None
    return {
        "source": source,
        "label": label,
        "stale": warning is not None,
        "warning": warning,
        "last_success_at": _iso(success),
        "last_success_ago": ago(success, now),
        "newest_record_at": _iso(_latest(r["newest_record"] for r in rows)),
        "resources": [_resource_age(r, now) for r in rows],
        "errors": [f"{r['resource']}: {r['error']}" for r in rows if r["status"] == "error" and r["error"]],
        "quarantine": [],
        "flagged": [],
    }


def _resource_age(row: dict, now: datetime) -> dict:
    """One resource's own age: never the newest record of another resource."""
    return {
        "resource": row["resource"],
        "label": row["label"],
        "newest_record_at": _iso(row["newest_record"]),
        "newest_record_ago": ago(row["newest_record"], now),
        "synced_ago": ago(row["last_success_at"], now),
        # An object without history (WHOOP's body measurement) is re-confirmed on every sync: its
        # "newest record" would read "just now" for ever, though its values never change.
        "keeps_history": resources.get(row["source"], row["resource"]).keeps_history,
        "stale": row["stale"],
        "problem": row["problem"],
    }


def _latest(values) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _workout(w: dict, zone: PageZone) -> dict:
    minutes = None if w["end"] is None else round((w["end"] - w["start"]).total_seconds() / 60)
    return {
        "start": _iso(w["start"]),
        "start_local": show(w["start"], zone, "%a %d %b, %H:%M"),
        "sport": w["sport_name"],
        "strain": panels.rounded(w["strain"], 1),
        "minutes": minutes,
        "avg_hr": w["average_heart_rate"],
        "max_hr": w["max_heart_rate"],
        "kilojoule": panels.rounded(w["kilojoule"], 0),
        "state": w["score_state"],
    }


def _ecg(r: dict, zone: PageZone) -> dict:
    return {
        "recorded_at": _iso(r["recorded_at"]),
        "recorded_local": show(r["recorded_at"], zone, "%a %d %b, %H:%M"),
        "device": r["device"],
        "heart_rate": r["heart_rate"],
        "afib": r["afib"],
        "classification": r["afib_name"] or ("no result" if not r["recorded"] else "unknown"),
    }


def signed_kg(delta: float) -> str:
    """A weight change as text with its sign: "+0.3 kg", "−1.2 kg", "±0.0 kg"."""
    shown = round(delta, 1)
    if shown == 0:
        return "±0.0 kg"
    return f"{'+' if shown > 0 else '−'}{abs(shown):.1f} kg"


def _schema_behind(exc: Exception) -> bool:
    """A column or table of this release is missing: the ETL has not upgraded the database yet."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "pgcode", None) in ("42703", "42P01"):  # undefined_column, undefined_table
        return True
    text = str(orig or exc).lower()
    return "no such column" in text or "no such table" in text


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(timezone.utc).isoformat(timespec="seconds")
