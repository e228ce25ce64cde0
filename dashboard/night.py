"""Last night's heart-rate curve over its sleep stages: the data (from readers.series) and its SVG.

The chart is drawn here, on the server, as plain SVG: no script is needed to see it, and every
figure it shows is also in the card as text (the night's lowest and average heart rate, HRV and
breathing rate, and a table of its stages).
"""

from __future__ import annotations

from datetime import datetime, timezone
from html import escape

from sqlalchemy.engine import Connection

from dashboard.localtime import PageZone, show
from readers import daily, metrics, series

WIDTH, HEIGHT, PAD = 600, 160, 4  # the SVG's user units; it scales to the card's width
STAGE_ORDER = ("awake", "rem", "light", "deep")  # drawn top to bottom in the stage band


def _utc(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)  # SQLite hands back naive UTC


def last_night(conn: Connection, zone: PageZone, account: int | None = None) -> dict | None:
    """The newest Withings night with heart-rate minutes: its span, figures, stages and minutes; None without."""
    # The catalog's newest night with heart-rate minutes (one indexed query, not the whole view).
    newest = metrics.latest(conn, "night_average_hr", account=account)
    if newest is None:
        return None
    day = daily.as_date(newest["local_date"])
    found = series.night(conn, day, account)
    night = found["night"]
    if night is None:
        return None
    start, end = _utc(night["start"]), _utc(night["end"])
    return {
        "day": day.isoformat(),
        "start": start.isoformat(),
        "end": end.isoformat(),
        "span_local": f"{show(start, zone, '%a %d %b, %H:%M')} to {show(end, zone, '%H:%M')}",
        **{key: night[key] for key in ("lowest_hr", "average_hr", "average_rmssd", "average_rr")},
        "states": [
            {
                "state": s["state"],
                "start": _utc(s["start"]).isoformat(),
                "end": _utc(s["end"]).isoformat(),
                "local": f"{show(_utc(s['start']), zone, '%H:%M')} to {show(_utc(s['end']), zone, '%H:%M')}",
                "minutes": round((_utc(s["end"]) - _utc(s["start"])).total_seconds() / 60),
            }
            for s in found["states"]
        ],
        "minutes": [{"t": _utc(m["at"]).isoformat(), "hr": m["hr"]} for m in found["minutes"] if m["hr"] is not None],
        "truncated": found["truncated"],
    }


def _x(when: str, start: datetime, span: float) -> float:
    return round(PAD + (datetime.fromisoformat(when) - start).total_seconds() / span * (WIDTH - 2 * PAD), 1)


def curve_svg(night: dict) -> str:
    """The SVG: a band per stage behind the heart-rate line, the stages' colours from the stylesheet."""
    start, end = datetime.fromisoformat(night["start"]), datetime.fromisoformat(night["end"])
    span = max((end - start).total_seconds(), 1.0)
    bands = []
    for s in night["states"]:
        left = max(_x(s["start"], start, span), PAD)
        right = min(_x(s["end"], start, span), WIDTH - PAD)
        if right > left:
            title = escape(f"{s['state']} {s['local']}")
            bands.append(
                f'<rect class="stage stage-{escape(s["state"].replace(" ", "-"))}" x="{left}" y="0" '
                f'width="{round(right - left, 1)}" height="{HEIGHT}"><title>{title}</title></rect>'
            )
    beats = [m["hr"] for m in night["minutes"]]
    line = ""
    if beats:
        low, high = min(beats) - 5, max(beats) + 5
        points = " ".join(
            f"{_x(m['t'], start, span)},{round(HEIGHT - PAD - (m['hr'] - low) / (high - low) * (HEIGHT - 2 * PAD), 1)}"
            for m in night["minutes"]
        )
        line = f'<polyline class="hr-line" points="{points}"/>'
    return (
        f'<svg id="night-curve" viewBox="0 0 {WIDTH} {HEIGHT}" preserveAspectRatio="none" role="img" '
        f'aria-label="Heart rate per minute over the sleep stages">{"".join(bands)}{line}</svg>'
    )
