"""`python etl.py status`: what was synced when, how fresh the data is, the latest weight."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import read_model
from db import utcnow
from models import WithingsHeartRate, WithingsWeight
from read_model import ago as _ago


def _short(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M") if when else "-"


def _fmt(when: datetime | None) -> str:
    return f"{_short(when)} UTC" if when else "-"


def collect_status(engine: Engine, now: datetime | None = None) -> dict:
    """Everything the status report shows, as plain data (no token values)."""
    now = now or utcnow()
    with Session(engine) as session:
        rows = read_model.freshness(session.connection(), now)
        tokens = read_model.stored_tokens(session.connection())
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
    lines = [f"{'resource':17} {'last sync':14} {'newest record':16} last window (times in UTC)"]
    for r in status["resources"]:
        start = _short(r["window_start"]) if r["window_start"] else "full history"
        window = f"{start} to {_short(r['window_end'])}" if r["last_success_at"] else "-"
        lines.append(f"{r['source'] + ' ' + r['resource']:17} {_ago(r['last_success_at'], now):14} "
                     f"{_short(r['newest_record']):16} {window}")
        if r["status"] == "error":
            lines.append(f"    last attempt failed: {r['error']}")
        if r["stale"]:
            lines.append(f"    WARNING: {r['label']} {r['problem']}")
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
