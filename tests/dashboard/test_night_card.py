"""The dashboard draws last night's heart rate per minute over its sleep stages, with the figures as text."""

from __future__ import annotations

import re

from dashboard.render import dashboard_page
from tests.dashboard.test_summary_and_http import LATEST, add_weights, summary_of
from tests.mcp.test_sleep_night import _night
from tests.mcp.test_tools import call, payload


def test_last_nights_curve_lies_over_its_stages_and_agrees_with_the_mcp_tool(db_url):
    segments = _night(db_url)
    summary = summary_of(db_url)
    night = summary["night"]
    _listed, answer = call(db_url, ("sleep_night", {"night_date": "2026-03-15"}))
    tool = payload(answer)
    assert night["day"] == "2026-03-15"
    assert {k: night[k] for k in ("lowest_hr", "average_hr", "average_rmssd", "average_rr")} == {
        k: tool["night"][k] for k in ("lowest_hr", "average_hr", "average_rmssd", "average_rr")
    }
    hr = {int(ts): v for s in segments for ts, v in s.get("hr", {}).items()}
    assert [m["hr"] for m in night["minutes"]] == [hr[ts] for ts in sorted(hr)]
    assert [s["state"] for s in night["states"]] == [s["state"] for s in tool["states"]]

    html = dashboard_page(summary, "test")
    card = html[html.index('<section class="card wide" id="night">') :]
    card = card[: card.index("</section>")]
    svg = card[card.index("<svg") : card.index("</svg>")]
    points = re.search(r'<polyline class="hr-line" points="([^"]+)"', svg).group(1).split()
    assert len(points) == len(hr)
    xs = [float(p.split(",")[0]) for p in points]
    assert xs == sorted(xs) and 0 <= xs[0] and xs[-1] <= 600  # time runs left to right inside the chart
    # The lowest heart rate is the highest point drawn (SVG's y grows downward).
    lowest = min(range(len(points)), key=lambda i: -float(points[i].split(",")[1]))
    assert night["minutes"][lowest]["hr"] == night["lowest_hr"]
    bands = re.findall(r'<rect class="stage stage-([a-z-]+)"', svg)
    assert bands and set(bands) <= {"awake", "light", "deep", "rem"} and "awake" in bands
    assert svg.index("<rect") < svg.index("<polyline")  # the bands behind the line
    assert f'<span class="value">{night["lowest_hr"]}</span>' in card
    assert "Data table" in card and "Last night" in card


def test_no_night_card_without_a_night(db_url):
    add_weights(db_url, [(LATEST, 70.0)])
    summary = summary_of(db_url)
    assert summary["night"] is None and 'id="night"' not in dashboard_page(summary, "test")
