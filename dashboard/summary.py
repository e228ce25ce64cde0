"""The dashboard's one data document: latest weight, deltas by dates, trends, freshness."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from configuration.invocation import command
from readers import read_model
from sync import resources
from dashboard import optional_queries, panels, queries
from dashboard.localtime import PageZone, naive_local, show
from models import SyncState
from readers.read_model import ago
from mapping.withings import AMBIGUOUS_ATTRIB, MANUAL_ATTRIBS

CHANGE_WINDOWS = (7, 30)
SOURCES = tuple((source, resources.SOURCE_LABELS[source]) for source in resources.SOURCES)
MS_PER_HOUR = 3_600_000


def load_summary(engine: Engine, now: datetime | None = None) -> dict:
    """The summary from a read-only engine; a database without our tables counts as empty."""
    try:
        with engine.connect() as conn:
            if not read_model.has_table(conn, SyncState.__tablename__):
                return empty_summary(now)
            return build_summary(conn, now)
    except (OperationalError, ProgrammingError) as exc:
        if not _schema_behind(exc):
            raise
        return empty_summary(now, upgrade_needed())


def upgrade_needed() -> str:
    """The warning over a database older than this release."""
    return f"The database predates this release: run {command()} once to upgrade it."


def empty_summary(now: datetime | None = None, warning: str | None = None) -> dict:
    """The summary of a database the ETL has not written to yet (or not since an upgrade)."""
    now = now or datetime.now(timezone.utc)
    rows = [_freshness_row(source, label, [], now) for source, label in SOURCES]
    for row in rows:
        row["warning"] = warning or row["warning"]
    return {"generated_at": _iso(now), "empty": True, "zone": None, "freshness": rows}


def build_summary(conn: Connection, now: datetime | None = None) -> dict:
    """Everything the page shows, as JSON-ready values (ISO times plus display strings)."""
    now = now or datetime.now(timezone.utc)
    rows = freshness(conn, now)
    summary = {"generated_at": _iso(now), "empty": all(r["newest_record_at"] is None for r in rows),
               "freshness": rows}
    if summary["empty"]:
        return summary
    zone = panels.page_zone(conn)
    summary["zone"] = {"name": zone.name, "label": zone.label(now), "source": zone.source,
                       "generated_local": show(now, zone, "%H:%M")}
    summary["axis"] = panels.axis(zone, now)
    summary["weight"] = weight_card(conn, now, zone)
    summary["trends"] = trends(conn, summary["weight"], zone)
    summary["workouts"] = [_workout(w, zone) for w in queries.recent_workouts(conn)]
    summary["blood_pressure"] = panels.blood_pressure(conn, zone, now, ago)
    available = optional_queries.available(conn)  # one inspector call per request
    summary["steps"] = panels.steps(conn, available)
    summary["sleep_compare"] = panels.sleep_compare(conn, available, zone, summary["trends"]["sleep"])
    return summary


def weight_card(conn: Connection, now: datetime, zone: PageZone) -> dict | None:
    """The latest weigh-in and its change against the newest weigh-in 7 and 30 days before it."""
    latest = queries.latest_weight(conn, now)
    if latest is None:
        return None
    at, kg = latest["measured_at"], latest["weight_kg"]
    changes = []
    for days in CHANGE_WINDOWS:
        base = queries.weight_at_or_before(conn, latest["user_id"], at - timedelta(days=days))
        delta = None if base is None else kg - base["weight_kg"]
        changes.append({
            "days": days,
            "delta_kg": None if delta is None else round(delta, 2),
            "display": "n/a" if delta is None else signed_kg(delta),
            "baseline_kg": None if base is None else round(base["weight_kg"], 2),
            "baseline_at": None if base is None else _iso(base["measured_at"]),
            "baseline_local": None if base is None else show(base["measured_at"], zone, "%a %d %b %Y"),
        })
    attrib = latest["attrib"]
    note = "manual entry" if attrib in MANUAL_ATTRIBS else \
        "may be someone else's: confirm it in Health Mate" if attrib == AMBIGUOUS_ATTRIB else None
    return {"kg": round(kg, 2), "display": f"{kg:.1f} kg", "measured_at": _iso(at), "attrib": attrib,
            "manual": attrib in MANUAL_ATTRIBS, "note": note,
            "measured_local": show(at, zone), "ago": ago(at, now),
            "fat_ratio_pct": latest["fat_ratio_pct"], "changes": changes}


def trends(conn: Connection, weight: dict | None, zone: PageZone) -> dict:
    """Column-wise series (time, values) for the charts and the tables under them."""
    weights = []
    if weight is not None:
        weights = queries.weight_series(conn, datetime.fromisoformat(weight["measured_at"]))
    sleeps = queries.sleep_series(conn)
    return {
        "weight": {"t": [_iso(r["t"]) for r in weights], "local": [naive_local(r["t"], zone) for r in weights],
                   "kg": [_round(r["kg"], 2) for r in weights]},
        "recovery": panels.recovery_days(conn, zone),
        "sleep": {"t": [_iso(r["t"]) for r in sleeps], "day": panels.sleep_days(sleeps, zone),
                  "performance": [_round(r["performance"], 0) for r in sleeps],
                  "hours": [_sleep_hours(r) for r in sleeps]},
    }


def freshness(conn: Connection, now: datetime) -> list[dict]:
    """Per source: last successful sync, newest record, a warning when one of its resources is
    stale, and its quarantined records."""
    rows = read_model.freshness(conn, now)
    held = queries.quarantine_overview(conn)
    out = [_freshness_row(source, label, [r for r in rows if r["source"] == source], now)
           for source, label in SOURCES]
    for row in out:
        row["quarantine"] = held.get(row["source"], [])
    return out


def _freshness_row(source: str, label: str, rows: list[dict], now: datetime) -> dict:
    success = _latest(r["last_success_at"] for r in rows)
    newest = _latest(r["newest_record"] for r in rows)
    stale = next((r for r in rows if r["stale"]), None)
    if not rows:
        warning = f"{label} has never synced: run the ETL ({command()})."
    elif stale is not None:
        hint = "." if stale["stale_kind"] == "data" else f": run the ETL ({command()})."
        warning = f"{stale['label']} {stale['problem']}{hint}"
    else:
        warning = None
    return {"source": source, "label": label, "stale": warning is not None, "warning": warning,
            "last_success_at": _iso(success), "last_success_ago": ago(success, now),
            "newest_record_at": _iso(newest), "newest_record_ago": ago(newest, now),
            "errors": [f"{r['resource']}: {r['error']}" for r in rows if r["status"] == "error" and r["error"]],
            "quarantine": []}


def _latest(values) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _workout(w: dict, zone: PageZone) -> dict:
    minutes = None if w["end"] is None else round((w["end"] - w["start"]).total_seconds() / 60)
    return {"start": _iso(w["start"]), "start_local": show(w["start"], zone, "%a %d %b, %H:%M"),
            "sport": w["sport_name"], "strain": _round(w["strain"], 1), "minutes": minutes, "avg_hr": w["average_heart_rate"],
            "max_hr": w["max_heart_rate"], "kilojoule": _round(w["kilojoule"], 0), "state": w["score_state"]}


def signed_kg(delta: float) -> str:
    """A weight change as text with its sign: "+0.3 kg", "−1.2 kg", "±0.0 kg"."""
    shown = round(delta, 1)
    if shown == 0:
        return "±0.0 kg"
    return f"{'+' if shown > 0 else '−'}{abs(shown):.1f} kg"




def _sleep_hours(row: dict) -> float | None:
    if row["in_bed_ms"] is None:
        return None
    return round((row["in_bed_ms"] - (row["awake_ms"] or 0)) / MS_PER_HOUR, 1)


def _round(value: float | None, digits: int) -> float | None:
    if value is None:
        return None
    return round(value) if digits == 0 else round(value, digits)


def _schema_behind(exc: Exception) -> bool:
    """A column or table of this release is missing: the ETL has not upgraded the database yet."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "pgcode", None) in ("42703", "42P01"):  # undefined_column, undefined_table
        return True
    text = str(orig or exc).lower()
    return "no such column" in text or "no such table" in text


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(timezone.utc).isoformat(timespec="seconds")
