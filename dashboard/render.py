"""Server-side HTML: every number is in the page as text, so it reads fine without the charts."""

from __future__ import annotations

from datetime import date, datetime
from html import escape
from string import Template
from urllib.parse import quote

from configuration import clock
from configuration.invocation import command, install_kind
from dashboard import assets
from dashboard.night import curve_svg

DASH = "—"
NO_CHARTS = (
    "Charts are off: the chart library (plotly.min.js from the pinned <code>plotly</code> package) "
    "is not installed. Run <code>.venv/bin/pip install -r requirements.txt</code>. "
    "Every number is still in the tables below."
)


def e(value) -> str:
    """Escape any value for HTML text or a quoted attribute; None becomes a dash."""
    return DASH if value is None else escape(str(value), quote=True)


def page(title: str, body: str, *, charts: bool = False, body_class: str = "") -> str:
    """The whole document around `body`; chart scripts only on the data page."""
    scripts = ""
    if charts:
        chart_js = assets.chart_js_url()
        scripts = (
            f'<script src="{e(chart_js)}" defer></script>' if chart_js else ""
        ) + f'<script src="{e(assets.url("dashboard.js"))}" defer></script>'
    return Template(assets.template("page.html")).substitute(
        title=e(title), css=e(assets.url("dashboard.css")), scripts=scripts, body=body, body_class=e(body_class)
    )


def dashboard_page(summary: dict, database: str) -> str:
    """The data page: freshness, latest weight, trends and workouts."""
    if summary["empty"]:
        header = _header(database, picker=_picker(summary))
        return page("No data yet", header + freshness_section(summary["freshness"]) + _empty_card())
    charts_on = assets.chart_js_url() is not None
    notice = "" if charts_on else f'<p class="notice" id="charts-off">{NO_CHARTS}</p>'
    body = (
        _header(database, summary["zone"], _picker(summary))
        + freshness_section(summary["freshness"])
        + notice
        + '<main class="grid">'
        + weight_card(summary["weight"], summary["trends"]["weight"])
        + _trend_cards(summary["trends"], charts_on, summary["axis"]["bar_start"])
        + _new_cards(summary, charts_on)
        + night_card(summary.get("night"))
        + workouts_card(summary["workouts"])
        + ecg_card(summary.get("ecgs", []))
        + "</main>"
    )
    return page("Dashboard", body, charts=True, body_class="" if charts_on else "no-charts")


def error_page(message: str, database: str, *, title: str = "Database unavailable") -> str:
    """The page for a database that cannot be read (served with HTTP 503), or an unknown account (404)."""
    if title == "Database unavailable":
        card = (
            f'<section class="card wide message error"><h2>The database cannot be read right now</h2>'
            f"<p>{e(message)}</p><p>Check that the database is running and that <code>DATABASE_URL</code> "
            "points at it, then reload this page.</p></section>"
        )
    else:
        card = (
            f'<section class="card wide message error"><h2>{e(title)}</h2><p>{e(message)}</p>'
            '<p><a href="/">Show the first account</a></p></section>'
        )
    return page(title, _header(database) + f'<main class="grid">{card}</main>')


def _picker(summary: dict) -> str:
    """Links to each account's page (`?account=NAME`), the shown one marked; none for one account."""
    names = summary.get("accounts") or []
    if len(names) < 2:
        return ""
    links = "".join(
        f'<a href="/?account={e(quote(name))}"'
        + (' aria-current="page" class="current"' if name == summary.get("account") else "")
        + f">{e(name)}</a>"
        for name in names
    )
    return f'<nav class="accounts" id="accounts" aria-label="Accounts">{links}</nav>'


def _header(database: str, zone: dict | None = None, picker: str = "") -> str:
    if zone is None:
        updated = f"Updated {e(clock.utcnow().astimezone().strftime('%H:%M'))}"
    else:  # the one place the page names its time zone: every time and day below is in it
        updated = f'Times in <strong id="page-zone">{e(zone["label"])}</strong> · updated {e(zone["generated_local"])}'
    return (
        '<header class="top"><div><h1>WHOOP Data Platform</h1>'
        f'<p class="sub">Read-only view of <code>{e(database)}</code></p></div>'
        f'<p class="sub" id="updated">{updated}</p></header>{picker}'
    )


def _empty_card() -> str:
    return (
        '<main class="grid"><section class="card wide message"><h2>No data yet — run the ETL</h2>'
        "<p>This database has no WHOOP or Withings records so far. To fill it:</p><ol>"
        f"<li>Connect your accounts: <code>{e(command('connect', 'whoop'))}</code> and "
        f"<code>{e(command('connect', 'withings'))}</code></li>"
        f"<li>Run the ETL: <code>{e(command())}</code></li>"
        "<li>Reload this page.</li></ol>"
        f"{_demo_hint()}</section></main>"
    )


def _demo_hint() -> str:
    # The demo and its sandbox live in the checkout only; an installed copy has neither.
    if install_kind() != "checkout":
        return ""
    return "<p>No account? <code>./scripts/demo.sh</code> fills a demo database from the bundled sandbox.</p>"


def freshness_section(rows: list[dict]) -> str:
    """One badge per source: its last sync, each resource's own newest record, warnings when stale."""
    items = []
    for row in rows:
        detail = f" · synced {e(row['last_success_ago'])}" if row["last_success_at"] else ""
        warning = f'<p class="warn" role="alert">⚠ {e(row["warning"])}</p>' if row["warning"] else ""
        errors = "".join(f'<p class="err">Last attempt failed: {e(msg)}</p>' for msg in row["errors"])
        errors += "".join(f'<p class="warn">Kept aside: {e(msg)}</p>' for msg in row.get("quarantine", ()))
        errors += "".join(f'<p class="note flagged">Flagged: {e(msg)}</p>' for msg in row.get("flagged", ()))
        items.append(
            f'<div class="fresh {"stale" if row["stale"] else "ok"}" data-source="{e(row["source"])}">'
            f'<span class="dot"></span><div><strong>{e(row["label"])}</strong>{detail}{warning}'
            f"{_resource_ages(row.get('resources', ()))}{errors}</div></div>"
        )
    return f'<section class="freshness" aria-label="Data freshness">{"".join(items)}</section>'


def _resource_ages(resources) -> str:
    """Each resource's own age, stale ones marked: the newest of one never hides another's."""
    items = "".join(
        f'<li class="{"stale" if r["stale"] else "ok"}" data-resource="{e(r["resource"])}">'
        f"{'⚠ ' if r['stale'] else ''}{e(r['label'])}: {e(_age_text(r))}</li>"
        for r in resources
    )
    return f'<ul class="ages">{items}</ul>' if items else ""


def _age_text(resource: dict) -> str:
    if not resource["newest_record_at"]:
        return "no records yet"
    if not resource.get("keeps_history", True):
        return f"never changes (confirmed {resource['newest_record_ago']})"
    return f"newest record {resource['newest_record_ago']}"


def weight_card(weight: dict | None, series: dict | None = None) -> str:
    """The latest weight, when it was measured, its 7- and 30-day change by dates, and a jump from
    the weigh-in before it beyond DASHBOARD_WEIGHT_JUMP_KG flagged beside it."""
    if weight is None:
        return (
            '<section class="card hero"><h2>Latest weight</h2>'
            '<p class="muted">No weigh-in yet: connect Withings and run the ETL.</p></section>'
        )
    chips = "".join(_change_chip(c) for c in weight["changes"])
    fat = weight["fat_ratio_pct"]
    fat_line = "" if fat is None else f'<p class="extra">Body fat <strong>{e(f"{fat:.1f}")} %</strong></p>'
    return (
        f'<section class="card hero"><h2>Latest weight</h2>'
        f'<p class="big" id="latest-weight">{e(weight["display"])}</p>'
        f'<p class="when">{e(weight["measured_local"])} · <span id="latest-ago">{e(weight["ago"])}</span>'
        f"{'' if not weight.get('note') else ' · ' + e(weight['note'])}</p>"
        f"{_latest_jump(series)}"
        f'<div class="chips">{chips}</div>{fat_line}</section>'
    )


def _latest_jump(series: dict | None) -> str:
    jumps = (series or {}).get("jumps") or []
    if not jumps or jumps[-1]["local"] != series["local"][-1]:
        return ""
    return f'<p class="warn" role="alert" id="weight-jump">⚠ {e(_jump_text(jumps[-1], series["jump_kg"]))}</p>'


def _jump_text(jump: dict, threshold: int) -> str:
    return (
        f"{jump['display']} since the weigh-in before ({_when(jump['previous'])}): "
        f"more than {threshold} kg between two weigh-ins, check the scale and whose weigh-in it is"
    )


def _change_chip(change: dict) -> str:
    days = change["days"]
    if change["delta_kg"] is None:
        detail, trend = f"no weigh-in {days}+ days earlier", "flat"
    else:
        detail = f"vs {change['baseline_kg']:.1f} kg on {change['baseline_local']}"
        trend = "up" if change["delta_kg"] >= 0.05 else "down" if change["delta_kg"] <= -0.05 else "flat"
    return (
        f'<div class="chip {trend}" id="change-{days}d"><span class="label">{days} days</span>'
        f'<span class="value">{e(change["display"])}</span><span class="detail">{e(detail)}</span></div>'
    )


def _trend_cards(trends: dict, charts_on: bool, bar_start: str) -> str:
    weight, rec, slp = trends["weight"], trends["recovery"], trends["sleep"]
    cards = [
        (
            "weight",
            "Weight, last 90 days",
            _kpi(weight["kg"], "{:.1f} kg"),
            (),
            ("Measured", "kg"),
            zip(map(_when, weight["local"]), _weights_with_jumps(weight), strict=False),
        ),
        (
            "recovery",
            "Recovery, last 30 days",
            _kpi(rec["score"], "{:.0f}%"),
            (("green", "67–100"), ("yellow", "34–66"), ("red", "0–33"), ("pending", "not scored yet")),
            ("Woke", "Recovery %"),
            _daily(bar_start, *_with_pending(rec)),
        ),
        (
            "heart",
            "HRV & resting HR, last 90 days",
            _kpi(rec["hrv_7d"], "{:.0f} ms"),
            (("hrv-dot", "HRV (ms)"), ("hrv", "HRV 7-day mean"), ("rhr", "Resting HR 7-day mean (bpm)")),
            ("Woke", "HRV ms", "7-day mean", "Resting HR bpm"),
            _daily(
                "", rec["day"], _fmt(rec["hrv"], "{:.1f}"), _fmt(rec["hrv_7d"], "{:.1f}"), _fmt(rec["rhr"], "{:.0f}")
            ),
        ),
        (
            "sleep",
            "Sleep performance, last 30 days",
            _kpi(slp["performance"], "{:.0f}%"),
            (("sleep", "Performance (%)"), ("hours", "Hours asleep")),
            ("Woke", "Performance %", "Hours asleep"),
            _daily(bar_start, slp["day"], _fmt(slp["performance"], "{:.0f}"), _fmt(slp["hours"], "{:.1f}")),
        ),
    ]
    return "".join(_chart_card(*card, charts_on=charts_on) for card in cards)


def _new_cards(summary: dict, charts_on: bool) -> str:
    """Blood pressure, steps, and Withings sleep beside WHOOP sleep; each says so when it has no data."""
    bp, steps, both = summary["blood_pressure"], summary["steps"], summary["sleep_compare"]
    latest, bar_start = bp["latest"], summary["axis"]["bar_start"]
    cards = [
        (
            "bp",
            "Blood pressure, last 90 days",
            "",
            (("systolic", "Systolic"), ("diastolic", "Diastolic")),
            ("Measured", "Systolic", "Diastolic", "Pulse"),
            zip(
                map(_when, bp["local"]),
                _fmt(bp["systolic"], "{:.0f}"),
                _fmt(bp["diastolic"], "{:.0f}"),
                _fmt(bp["pulse"], "{:.0f}"),
                strict=False,
            ),
            _bp_note(latest),
        ),
        (
            "steps",
            "Steps, last 30 days",
            _kpi(steps["steps"], "{:,.0f}"),
            (("steps", "Steps"),),
            ("Day", "Steps", "km"),
            _daily(bar_start, steps["day"], _fmt(steps["steps"], "{:,.0f}"), _fmt(steps["km"], "{:.1f}")),
            "" if steps["day"] else _no_data_yet("steps", "Withings activity"),
        ),
        (
            "sleep-both",
            "Hours asleep: WHOOP and Withings",
            _kpi(both["withings_hours"], "{:.1f} h"),
            (("whoop", "WHOOP hours"), ("withings", "Withings hours")),
            ("Woke", "WHOOP h", "Withings h", "Withings score"),
            _daily(
                bar_start,
                both["day"],
                _fmt(both["whoop_hours"], "{:.1f}"),
                _fmt(both["withings_hours"], "{:.1f}"),
                _fmt(both["withings_score"], "{:.0f}"),
            ),
            ""
            if any(v is not None for v in both["withings_hours"])
            else _no_data_yet("sleep-withings", "Withings sleep"),
        ),
    ]
    return "".join(_chart_card(*card[:6], charts_on=charts_on, note=card[6]) for card in cards)


def _weights_with_jumps(weight: dict) -> list[str | None]:
    """The kg column, a jumped weigh-in marked with how far it moved."""
    jumped = {j["local"]: j for j in weight.get("jumps", ())}
    return [
        None if kg is None else f"{kg:.1f}" + (f" ⚠ {jumped[at]['display']}" if at in jumped else "")
        for at, kg in zip(weight["local"], weight["kg"], strict=False)
    ]


def _with_pending(rec: dict) -> tuple[list[str], list]:
    """The recovery days and scores, with each day WHOOP has not scored yet as "pending"."""
    rows = sorted(
        [
            *zip(rec["day"], _fmt(rec["score"], "{:.0f}"), strict=False),
            *((d, "pending") for d in rec.get("pending", ())),
        ]
    )
    return [day for day, _ in rows], [value for _, value in rows]


def _daily(since: str, days: list[str], *columns: list) -> list[tuple]:
    """Table rows (day, values...) of the days on or after `since` (ISO dates compare as text)."""
    return [(_day(day), *values) for day, *values in zip(days, *columns, strict=False) if day >= since]


def _bp_note(latest: dict | None) -> str:
    if latest is None:
        return (
            '<p class="muted nodata" id="nodata-bp">No blood-pressure reading yet: '
            "measure with a Withings cuff, then run the ETL.</p>"
        )
    pulse = "" if latest["pulse"] is None else f" · pulse {e(latest['pulse'])} bpm"
    return (
        f'<p class="reading"><strong id="latest-bp">{e(latest["systolic"])}/{e(latest["diastolic"])}</strong>'
        f' mmHg{pulse}</p><p class="when">{e(latest["measured_local"])} · {e(latest["ago"])}</p>'
    )


def _no_data_yet(key: str, what: str) -> str:
    # Also the message before the migration that adds the table: the ETL run applies it.
    return f'<p class="muted nodata" id="nodata-{e(key)}">No {e(what)} data yet: run the ETL ({e(command())}).</p>'


def _kpi(values: list, fmt: str) -> str:
    latest = next((v for v in reversed(values) if v is not None), None)
    return "" if latest is None else fmt.format(latest)


def _fmt(values: list, fmt: str) -> list[str | None]:
    return [None if v is None else fmt.format(v) for v in values]


def _chart_card(key, title, kpi, keys, headers, rows, *, charts_on: bool, note: str = "") -> str:
    rows = list(rows)
    head = f'<section class="card chart-card" id="card-{key}"><div class="card-head"><h2>{e(title)}</h2>'
    if not rows and note:  # "no data yet" says it all: no empty chart, legend or table under it
        return f"{head}</div>{note}</section>"
    table = _data_table(headers, rows, open_=not charts_on)
    legend = "".join(f'<span class="key {e(cls)}">{e(text)}</span>' for cls, text in keys)
    legend = f'<div class="legend">{legend}</div>' if legend and charts_on else ""
    return (
        f'{head}<span class="kpi">{e(kpi)}</span></div>{note}{legend}'
        f'<div class="chart" id="chart-{key}" role="img" aria-label="{e(title)} chart"></div>{table}</section>'
    )


def _data_table(headers: tuple, rows, *, open_: bool) -> str:
    rows = list(rows)[::-1]  # newest first
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{e(v)}</td>" for v in row) + "</tr>" for row in rows)
    summary = f"Data table ({len(rows)} rows)" if rows else "No data in this period"
    return (
        f'<details class="data"{" open" if open_ else ""}><summary>{e(summary)}</summary>'
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div></details>'
    )


def workouts_card(workouts: list[dict]) -> str:
    """The newest workouts with sport, duration, strain and heart rate."""
    if not workouts:
        return '<section class="card wide"><h2>Recent workouts</h2><p class="muted">No workouts yet.</p></section>'
    rows = "".join(
        f'<tr><td>{_started(w["start_local"])}</td><td class="sport">{e(w["sport"])}</td>'
        f'<td class="num dur">{_duration(w["minutes"])}</td>'
        f'<td class="num strain">{e(w["strain"] if w["strain"] is not None else _pending(w["state"]))}</td>'
        f'<td class="num opt">{e(w["avg_hr"])}</td><td class="num opt">{e(w["max_hr"])}</td>'
        f'<td class="num opt">{e(_kcal(w["kilojoule"]))}</td></tr>'
        for w in workouts
    )
    return (
        '<section class="card wide"><h2>Recent workouts</h2><div class="scroll-x"><table id="workouts">'
        '<thead><tr><th>Started</th><th>Sport</th><th class="num">Duration</th><th class="num">Strain</th>'
        '<th class="num opt">Avg HR</th><th class="num opt">Max HR</th><th class="num opt">kcal</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div></section>"
    )


def night_card(night: dict | None) -> str:
    """Last night's heart rate per minute over its sleep stages, its figures and stages as text; nothing without one."""
    if night is None:
        return ""
    figures = (
        ("Lowest HR", night["lowest_hr"], "bpm"),
        ("Average HR", night["average_hr"], "bpm"),
        ("HRV (RMSSD)", night["average_rmssd"], "ms"),
        ("Breathing", night["average_rr"], "/min"),
    )
    chips = "".join(
        f'<div class="chip"><span class="label">{label}</span><span class="value">{e(value)}</span> '
        f'<span class="detail">{unit}</span></div>'
        for label, value, unit in figures
    )
    legend = "".join(
        f'<span><i class="swatch stage-{stage}"></i>{stage}</span>' for stage in ("awake", "rem", "light", "deep")
    )
    rows = [(s["local"], s["state"], s["minutes"]) for s in night["states"]]
    return (
        f'<section class="card wide" id="night"><div class="card-head"><h2>Last night\'s heart rate</h2>'
        f'<span class="muted">{e(night["span_local"])}</span></div><div class="chips">{chips}</div>'
        f'<div class="night-chart">{curve_svg(night)}</div><div class="legend">{legend}</div>'
        + _data_table(("Stage", "State", "Minutes"), rows, open_=False)
        + "</section>"
    )


def ecg_card(ecgs: list[dict]) -> str:
    """The newest Withings ECG recordings with their AFib classification; nothing without any."""
    if not ecgs:
        return ""
    rows = "".join(_ecg_row(r) for r in ecgs)
    return (
        '<section class="card wide"><h2>ECG recordings</h2><div class="scroll-x"><table id="ecgs">'
        '<thead><tr><th>Taken</th><th>Device</th><th class="num">Heart rate</th><th>AFib</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div></section>"
    )


def _ecg_row(r: dict) -> str:
    kind = "none" if r["afib"] is None else e(r["afib"])  # a failed recording has no classification
    return (
        f"<tr><td>{_started(r['recorded_local'])}</td><td>{e(r['device'])}</td>"
        f'<td class="num">{e(r["heart_rate"])}</td><td class="afib afib-{kind}">{e(r["classification"])}</td></tr>'
    )


def _duration(minutes: int | None) -> str:
    text = _minutes(minutes)
    if text is None or " h " not in text:
        return e(text)
    hours, _, rest = text.partition(" h ")  # may wrap after the hours on a phone
    return f'<span class="nowrap">{e(hours)} h</span> <span class="nowrap">{e(rest)}</span>'


def _started(local: str | None) -> str:
    # "Tue 24 Nov, 16:30" wraps between day and time only, never inside "24 Nov".
    day, _, time = (local or DASH).partition(", ")
    return f'<span class="nowrap">{e(day)}</span> <span class="nowrap">{e(time)}</span>' if time else e(day)


def _day(iso_date: str) -> str:
    return date.fromisoformat(iso_date).strftime("%a %d %b %Y")


def _when(naive_local: str) -> str:
    return datetime.fromisoformat(naive_local).strftime("%a %d %b %Y, %H:%M")


def _minutes(minutes: int | None) -> str | None:
    if minutes is None:
        return None
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _kcal(kilojoule: float | None) -> int | None:
    return None if kilojoule is None else round(kilojoule / 4.184)


def _pending(state: str | None) -> str:
    return "pending" if state == "PENDING_SCORE" else DASH
