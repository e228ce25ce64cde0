"""`python etl.py status`: what was synced when, how fresh the data is, the latest weight."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from db import utcnow
import resources
from models import OAuthToken, SyncState, WithingsHeartRate, WithingsWeight

STALE_AFTER = timedelta(days=2)


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    delta = now - when
    if delta < timedelta(hours=1):
        return f"{int(delta.total_seconds() // 60)} min ago"
    if delta < timedelta(days=2):
        return f"{delta.total_seconds() / 3600:.0f} h ago"
    return f"{delta.days} days ago"


def _max(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _short(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M") if when else "-"


def _fmt(when: datetime | None) -> str:
    return f"{_short(when)} UTC" if when else "-"


def collect_status(engine: Engine, now: datetime | None = None) -> dict:
    """Everything the status report shows, as plain data (no token values)."""
    now = now or utcnow()
    with Session(engine) as session:
        states = {(s.source, s.resource): s for s in session.scalars(select(SyncState))}
        rows = []
        for resource in resources.RESOURCES:
            state = states.get(resource.key)
            newest = _max(*(session.scalar(select(func.max(column))) for column in resource.freshness))
            rows.append({
                "source": resource.source, "resource": resource.name, "label": resource.label,
                "last_success_at": state.last_success_at if state else None,
                "window_start": state.window_start if state else None,
                "window_end": state.window_end if state else None,
                "status": state.status if state else "never",
                "error": state.error if state else None,
                "newest_record": newest,
                "stale": newest is None or now - newest > STALE_AFTER,
            })
        tokens = [{"provider": t.provider, "expires_at": t.expires_at, "has_refresh_token": bool(t.refresh_token)}
                  for t in session.scalars(select(OAuthToken))]
        latest = session.execute(select(WithingsWeight.weight_kg, WithingsWeight.measured_at)
                                 .where(WithingsWeight.weight_kg.is_not(None))
                                 .order_by(WithingsWeight.measured_at.desc()).limit(1)).first()
        latest_bp = session.execute(select(WithingsHeartRate.systolic_mmhg, WithingsHeartRate.diastolic_mmhg,
                                           WithingsHeartRate.measured_at)
                                    .where(WithingsHeartRate.systolic_mmhg.is_not(None))
                                    .order_by(WithingsHeartRate.measured_at.desc()).limit(1)).first()
    return {"now": now, "resources": rows, "tokens": tokens,
            "latest_weight": {"kg": latest[0], "measured_at": latest[1]} if latest else None,
            "latest_blood_pressure": ({"systolic": latest_bp[0], "diastolic": latest_bp[1],
                                       "measured_at": latest_bp[2]} if latest_bp else None)}


def format_status(status: dict) -> str:
    """The status report as text."""
    now = status["now"]
    lines = [f"{'resource':17} {'last sync':12} {'newest record':16} last window (times in UTC)"]
    for r in status["resources"]:
        start = _short(r["window_start"]) if r["window_start"] else "full history"
        window = f"{start} to {_short(r['window_end'])}" if r["last_success_at"] else "-"
        lines.append(f"{r['source'] + ' ' + r['resource']:17} {_ago(r['last_success_at'], now):12} "
                     f"{_short(r['newest_record']):16} {window}")
        if r["status"] == "error":
            lines.append(f"    last attempt failed: {r['error']}")
        if r["stale"]:
            lines.append(f"    WARNING: no {r['resource']} data newer than 2 days")
    for t in status["tokens"]:
        lines.append(f"{t['provider']} token: access token expires {_fmt(t['expires_at'])}"
                     f"{'' if t['has_refresh_token'] else ' (no refresh token: re-connect when it expires)'}")
    weight = status["latest_weight"]
    if weight:
        lines.append(f"Latest weight: {weight['kg']:.1f} kg, measured {_fmt(weight['measured_at'])} "
                     f"({_ago(weight['measured_at'], now)})")
    else:
        lines.append("Latest weight: none yet (run the ETL, or connect Withings)")
    bp = status["latest_blood_pressure"]
    if bp:
        lines.append(f"Latest blood pressure: {bp['systolic']:.0f}/{bp['diastolic']:.0f} mmHg, "
                     f"measured {_fmt(bp['measured_at'])}")
    return "\n".join(lines)
