"""One night's Withings sleep series: its sleep states and minute readings, and what they add up to.

The night is the Withings sleep summary filed under the local day it ended (`local_date`, the
day the `daily` view files it under); its states and minutes are the segments and series rows
of the same Withings user between the summary's start and end. Rows that count are those every
reader counts: live (deleted_at IS NULL) and unflagged (a -1 a device sent is flagged).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.engine import Connection

from models import withings_sleep_segment, withings_sleep_series, withings_sleep_summary
from readers.ownership import owned

MAX_POINTS = 2000  # a night of minutes is some 500; a bounded answer whatever the data holds
STATES = {0: "awake", 1: "light", 2: "deep", 3: "rem", 4: "manual", 5: "unspecified", 15: "out of bed"}
MINUTE_COLUMNS = ("hr", "rr", "rmssd", "sdnn_1", "snoring", "mvt_score")


def _average(values: list) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def night(conn: Connection, day: date, account: int | None = None) -> dict:
    """The night that ended on local day `day`: its span, sleep states, minutes (at most
    MAX_POINTS) and the night's lowest and average heart rate, average HRV (RMSSD) and breathing
    rate from those minutes. `night` is None when no summary ends on that day."""
    summary_table = withings_sleep_summary
    summary = conn.execute(
        select(summary_table.c.user_id, summary_table.c.start, summary_table.c.end)
        .where(
            summary_table.c.local_date == day,
            summary_table.c.deleted_at.is_(None),
            *owned(summary_table, account),
        )
        .order_by(summary_table.c.end.desc())
        .limit(1)
    ).first()
    if summary is None:
        return {"night": None, "states": [], "minutes": [], "truncated": False}
    user_id, start, end = summary
    seg = withings_sleep_segment
    states = conn.execute(
        select(seg.c.start, seg.c.end, seg.c.state, seg.c.model)
        .where(seg.c.user_id == user_id, seg.c.deleted_at.is_(None), seg.c.start < end, seg.c.end > start)
        .order_by(seg.c.start, seg.c.end)
    ).all()
    ser = withings_sleep_series
    minutes = conn.execute(
        select(ser.c.measured_at, *(ser.c[c] for c in MINUTE_COLUMNS))
        .where(
            ser.c.user_id == user_id,
            ser.c.deleted_at.is_(None),
            ser.c.flag.is_(None),
            ser.c.measured_at >= start,
            ser.c.measured_at <= end,
        )
        .order_by(ser.c.measured_at)
        .limit(MAX_POINTS + 1)
    ).all()
    truncated = len(minutes) > MAX_POINTS
    minutes = minutes[:MAX_POINTS]
    heart = [m.hr for m in minutes if m.hr is not None]
    return {
        "night": {
            "start": start,
            "end": end,
            "lowest_hr": min(heart) if heart else None,
            "average_hr": _average(heart),
            "average_rmssd": _average([m.rmssd for m in minutes if m.rmssd is not None]),
            "average_rr": _average([m.rr for m in minutes if m.rr is not None]),
        },
        "states": [
            {"start": s.start, "end": s.end, "state": STATES.get(s.state, str(s.state)), "device": s.model}
            for s in states
        ],
        "minutes": [{"at": m.measured_at, **{c: getattr(m, c) for c in MINUTE_COLUMNS}} for m in minutes],
        "truncated": truncated,
    }
