"""The dashboard in real headless Chromium: newest weight, every panel and each resource's own age at desktop
and phone widths, the flagged-value note, screenshots."""

from __future__ import annotations

import math
import random
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from models import Cycle, Recovery, Sleep, WhoopBodyMeasurement, WithingsWeight, Workout
from storage.engine import make_engine
from sync import resources
from tests.conftest import IN_CI
from tests.dashboard.test_summary_and_http import (
    LATEST,
    NOW,
    PARIS,
    USER,
    add_blood_pressure,
    add_sync,
    add_weights,
)

SPORTS = ("running", "cycling", "functional fitness", "yoga", "swimming", "hiking")

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _missing(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser test must not be skipped)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (no browser download)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed: pip install -r requirements-dev.txt")
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        _missing(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _whoop_day(n: int, days: int, rng: random.Random) -> list:
    """One plausible WHOOP day: a cycle, its recovery and main sleep, sometimes a workout."""
    start = NOW - timedelta(days=days - n, hours=-6)
    common = {
        "user_id": USER,
        "raw": {},
        "synced_at": NOW,
        "score_state": "SCORED",
        "created_at": start,
        "updated_at": start,
    }
    hrv = max(25.0, 62 + 10 * math.sin(n / 6) + rng.gauss(0, 7))
    in_bed = rng.uniform(6.4, 8.9) * 3_600_000
    rows = [
        Cycle(whoop_id=5000 + n, start=start, end=start + timedelta(days=1), strain=rng.uniform(6, 17), **common),
        Recovery(
            whoop_cycle_id=5000 + n,
            whoop_sleep_id=f"s-{n}",
            hrv_rmssd_milli=hrv,
            recovery_score=min(99.0, max(8.0, (hrv - 30) * 1.9 + rng.gauss(0, 8))),
            resting_heart_rate=round(56 - (hrv - 60) / 8 + rng.gauss(0, 1.5)),
            **common,
        ),
        Sleep(
            whoop_id=f"s-{n}",
            whoop_cycle_id=5000 + n,
            nap=False,
            start=start - timedelta(hours=8),
            end=start,
            total_in_bed_time_milli=int(in_bed),
            total_awake_time_milli=int(in_bed * 0.07),
            sleep_performance_percentage=min(100.0, in_bed / 3_600_000 / 8.2 * 100 + rng.gauss(0, 4)),
            **common,
        ),
    ]
    if rng.random() < 0.6:
        minutes = rng.randint(25, 110)
        rows.append(
            Workout(
                whoop_id=f"w-{n}",
                sport_name=rng.choice(SPORTS),
                start=start + timedelta(hours=5),
                end=start + timedelta(hours=5, minutes=minutes),
                strain=rng.uniform(5, 16),
                average_heart_rate=rng.randint(110, 155),
                max_heart_rate=rng.randint(160, 188),
                kilojoule=minutes * rng.uniform(30, 55),
                **common,
            )
        )
    return rows


def seed_history(url: str, days: int = 120) -> None:
    """About four months of plausible weigh-ins (not daily), WHOOP days and fresh syncs."""
    rng = random.Random(7)
    weights, day = [], 0
    while day <= days:
        kg = 80.4 + day * 0.03 + 0.5 * math.sin(day / 9) + rng.uniform(-0.3, 0.3)
        weights.append((LATEST - timedelta(days=day, minutes=rng.randint(0, 90)), round(kg, 2)))
        day += rng.choice((1, 1, 1, 2, 3))
    weights[0] = (LATEST, 80.4)
    add_weights(url, weights)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        for n in range(days):
            session.add_all(_whoop_day(n, days, rng))
    engine.dispose()
    add_sync(url, "whoop", NOW - timedelta(hours=2))
    add_sync(url, "withings", NOW - timedelta(hours=1))


def seed_withings_days(add_optional, days: int = 120) -> None:
    """Blood-pressure readings on some evenings, steps every day and a Withings sleep every night."""
    rng = random.Random(11)
    today = NOW.astimezone(PARIS).date()
    steps, nights = [], []
    for n in range(days):
        day = today - timedelta(days=n)
        steps.append(
            {
                "user_id": USER,
                "date": day,
                "steps": int(rng.gauss(8500, 2500)) if n else 2140,
                "distance_m": rng.uniform(3000, 9000),
            }
        )
        woke = datetime.combine(day, datetime.min.time(), PARIS) + timedelta(hours=rng.uniform(6, 7.5))
        if woke < NOW:
            nights.append(
                {
                    "user_id": USER,
                    "withings_id": 90_000 + n,
                    "start": woke - timedelta(hours=8),
                    "end": woke,
                    "total_sleep_time_s": int(rng.uniform(5.8, 8.2) * 3600),
                    "sleep_score": rng.randint(55, 92),
                    "timezone": "Europe/Paris",
                }
            )
    add_optional("withings_activity", steps)
    add_optional("withings_sleep_summary", nights)
    seed_last_nights_series(add_optional, nights[0])


def seed_last_nights_series(add_optional, night: dict) -> None:
    """The newest night's sleep stages (90-minute rounds) and a heart rate every 5 minutes."""
    start, end = night["start"], night["end"]
    stages, at, n = [], start, 0
    while at < end:
        stage_end = min(at + timedelta(minutes=90 if n % 4 else 20), end)
        stages.append({"user_id": USER, "start": at, "end": stage_end, "state": (0, 1, 2, 3)[n % 4], "model_id": 63})
        at, n = stage_end, n + 1
    minutes = [
        {
            "user_id": USER,
            "measured_at": start + timedelta(minutes=m),
            "model_id": 63,
            "hr": 62 - round(8 * math.sin(m / 90)),
        }
        for m in range(0, int((end - start).total_seconds() // 60), 5)
    ]
    add_optional("withings_sleep_segment", stages)
    add_optional("withings_sleep_series", minutes)


def add_stale_body_and_flagged_weight(url: str) -> None:
    """A WHOOP body measurement last seen 5 days ago (stale on its own) and a weigh-in flagged as implausible."""
    engine = make_engine(url)
    seen = NOW - timedelta(days=5)
    with Session(engine) as session, session.begin():
        session.add(
            WhoopBodyMeasurement(
                user_id=USER,
                value_key="1.8|80|190",
                height_meter=1.8,
                weight_kilogram=80.0,
                max_heart_rate=190,
                first_seen_at=seen,
                last_seen_at=seen,
                raw={},
                synced_at=seen,
            )
        )
        session.add(
            WithingsWeight(
                user_id=USER,
                grpid=99_999,
                measured_at=NOW - timedelta(hours=1),
                weight_kg=250.0,
                timezone="Europe/Paris",
                raw={},
                synced_at=NOW,
                flag="weight_kg 250.0 is outside 20 to 200",
            )
        )
    engine.dispose()


def test_page_shows_newest_weight_and_follows_a_new_weighin(browser, dashboard, db_url, request):
    seed_history(db_url)
    page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("request", lambda req: None if req.url.startswith(dashboard.url) else problems.append(req.url))

    page.goto(dashboard.url)
    page.wait_for_selector("body[data-charts=drawn]", timeout=20_000)
    assert page.inner_text("#latest-weight") == "80.4 kg"
    assert page.locator("#chart-weight svg.main-svg").count() > 0  # plotly drew it, from our own server

    add_weights(db_url, [(NOW - timedelta(minutes=5), 79.8)], start_grpid=10_000)
    page.reload()
    page.wait_for_selector("body[data-charts=drawn]", timeout=20_000)
    assert page.inner_text("#latest-weight") == "79.8 kg"
    assert page.inner_text("#latest-ago") == "5 minutes ago"
    assert page.locator("#workouts tbody tr").count() == 10
    assert problems == []  # no script error, no CSP violation, no request off this server

    ARTIFACTS.mkdir(exist_ok=True)
    suffix = "" if request.node.callspec.params["db_url"] == "sqlite" else "-postgresql"
    page.screenshot(path=str(ARTIFACTS / f"dashboard{suffix}.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-mobile{suffix}.png"), full_page=True)
    page.close()


def test_empty_database_page_in_the_browser(browser, dashboard):
    page = browser.new_page()
    page.goto(dashboard.url)
    assert "No data yet — run the ETL" in page.inner_text("main")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-empty.png"), full_page=True)
    page.close()


PANELS = ("weight", "recovery", "heart", "sleep", "bp", "steps", "sleep-both")
# Every tick label and axis title inside its chart, and no two x labels on top of each other.
CLIPPED_LABELS = """() => {
  const problems = [];
  for (const svg of document.querySelectorAll(".chart svg.main-svg:first-of-type")) {
    const box = svg.getBoundingClientRect(), id = svg.closest(".chart").id;
    const labels = svg.querySelectorAll(".xtick text, .ytick text, .y2tick text, .g-xtitle text, .g-ytitle text, .g-y2title text");
    for (const text of labels) {
      const r = text.getBoundingClientRect();
      if (r.width === 0) continue;
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5)
        problems.push(id + ": clipped " + JSON.stringify(text.textContent));
    }
    const xs = [...svg.querySelectorAll(".xtick text")].map((t) => t.getBoundingClientRect())
      .filter((r) => r.width > 0).sort((a, b) => a.left - b.left);
    for (let i = 1; i < xs.length; i++) if (xs[i].left < xs[i - 1].right) problems.push(id + ": x labels overlap");
  }
  return problems;
}"""
OVERFLOW = """() => {
  const out = [];
  const page = document.documentElement;
  if (page.scrollWidth > window.innerWidth) out.push("page " + page.scrollWidth + " > " + window.innerWidth);
  for (const el of document.querySelectorAll(".card, .card-head, .card h2, .legend, .chart, .fresh, .scroll-x"))
    if (el.scrollWidth > el.clientWidth + 1) out.push((el.id || el.className) + " " + el.scrollWidth + " > " + el.clientWidth);
  return out;
}"""


@pytest.mark.parametrize("width", [1280, 390])
def test_every_panel_fits_at_desktop_and_phone_width(browser, dashboard, db_url, optional_tables, width, request):
    seed_history(db_url)
    add_blood_pressure(
        db_url, [(LATEST - timedelta(days=n, hours=-10), 118 + n % 9, 74 + n % 7, 60 + n % 5) for n in range(0, 100, 3)]
    )
    seed_withings_days(optional_tables)
    add_stale_body_and_flagged_weight(db_url)
    page = browser.new_page(viewport={"width": width, "height": 900}, device_scale_factor=1)
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(dashboard.url)
    page.wait_for_selector("body[data-charts=drawn]", timeout=20_000)

    for panel in PANELS:
        assert page.locator(f"#chart-{panel} svg.main-svg").count() > 0, panel
        assert page.locator(f"#card-{panel}").is_visible(), panel
    assert page.inner_text("#latest-bp") == "118/74"
    assert page.locator("#card-steps .nodata, #card-sleep-both .nodata").count() == 0
    assert page.inner_text("#page-zone").startswith("Europe/Paris")
    assert page.locator("#night-curve polyline.hr-line").count() == 1 and page.locator("#night-curve").is_visible()
    assert page.locator("#night-curve rect.stage").count() >= 4  # last night's stages behind its heart rate
    _each_resource_shows_its_own_age(page)
    summary = page.evaluate("fetch('/api/summary').then((r) => r.json())")
    ends = page.evaluate(f"{list(PANELS)}.map((p) => document.getElementById('chart-' + p)._fullLayout.xaxis.range[1])")
    assert ends == [summary["axis"]["end"]] * len(PANELS)  # every axis stops at the end of today
    assert page.evaluate(OVERFLOW) == []
    assert page.evaluate(CLIPPED_LABELS) == []
    assert problems == []

    ARTIFACTS.mkdir(exist_ok=True)
    suffix = "" if request.node.callspec.params["db_url"] == "sqlite" else "-postgresql"
    page.screenshot(path=str(ARTIFACTS / f"dashboard-panels-{width}{suffix}.png"), full_page=True)


def _each_resource_shows_its_own_age(page) -> None:
    """One visible line per declared resource; the stale one marked even beside fresh ones; the flagged note."""
    ages = page.locator(".fresh li[data-resource]")
    assert ages.count() == len(resources.RESOURCES)
    assert all(ages.nth(i).is_visible() for i in range(ages.count()))
    body = page.locator('.fresh[data-source=whoop] li[data-resource="body"]')
    # It is re-confirmed on every sync and its values never change: no "newest record just now" for ever.
    assert body.get_attribute("class") == "stale" and "never changes (confirmed 5 days ago)" in body.inner_text()
    assert "newest record" not in body.inner_text()
    assert page.locator(".fresh[data-source=whoop]").get_attribute("class") == "fresh stale"
    assert page.locator(".fresh[data-source=whoop] li.stale").count() == 1  # cycles, recovery, sleep: fresh
    note = page.locator(".fresh[data-source=withings] .flagged")
    assert note.is_visible() and "1 value flagged as implausible" in note.inner_text()
    assert page.inner_text("#latest-weight") == "80.4 kg"  # not the flagged 250 kg of an hour ago


def test_page_follows_new_data_without_a_manual_reload(browser, dashboard, db_url):
    seed_history(db_url)
    page = browser.new_page()
    page.add_init_script("window.DASHBOARD_REFRESH_MS = 300")
    page.goto(dashboard.url)
    page.wait_for_selector("body[data-charts=drawn]", timeout=20_000)
    assert page.inner_text("#latest-weight") == "80.4 kg"
    add_weights(db_url, [(NOW - timedelta(minutes=2), 79.1)], start_grpid=20_000)
    page.locator("#latest-weight", has_text="79.1 kg").wait_for(timeout=20_000)
    page.close()


def add_pending_recovery(url: str, at) -> None:
    """This morning's recovery, which WHOOP has not scored yet."""
    engine = make_engine(url)
    common = {"user_id": USER, "raw": {}, "synced_at": NOW, "created_at": at, "updated_at": at}
    with Session(engine) as session, session.begin():
        session.add(Cycle(whoop_id=9_999, start=at, score_state="PENDING_SCORE", timezone_offset="+01:00", **common))
        session.add(
            Recovery(
                whoop_cycle_id=9_999,
                whoop_sleep_id="s-pending",
                score_state="PENDING_SCORE",
                timezone_offset="+01:00",
                **common,
            )
        )
    engine.dispose()


CHART = "(id) => { const c = document.getElementById(id); return { data: c.data, layout: c._fullLayout }; }"


def test_what_the_page_draws_never_misleads(browser, dashboard, db_url, monkeypatch):
    monkeypatch.setenv("DASHBOARD_WEIGHT_JUMP_KG", "3")
    seed_history(db_url)
    pending_at = NOW - timedelta(minutes=30)
    add_pending_recovery(db_url, pending_at)
    add_weights(db_url, [(NOW - timedelta(minutes=5), 89.9)], start_grpid=30_000)  # +9.5 kg on 80.4
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(dashboard.url)
    page.wait_for_selector("body[data-charts=drawn]", timeout=20_000)

    # A weight jump beyond the threshold is flagged beside the weigh-in, in the chart and in its table row.
    assert "+9.5 kg since the weigh-in before" in page.inner_text("#weight-jump")
    weight = page.evaluate(CHART, "chart-weight")
    assert weight["data"][1]["y"] == [89.9] and weight["data"][1]["name"] == "Jump"
    assert "89.9 ⚠ +9.5 kg" in page.text_content("#card-weight table")

    # An unscored day is drawn as pending, not left as a silent gap.
    today = pending_at.astimezone(PARIS).date().isoformat()
    recovery = page.evaluate(CHART, "chart-recovery")
    assert recovery["data"][0]["name"] == "Pending" and recovery["data"][0]["x"] == [today]
    assert "pending" in page.text_content("#card-recovery table")

    # Value axes span at least an ordinary month's movement: a few bpm of noise is not a cliff.
    heart = page.evaluate(CHART, "chart-heart")["layout"]
    low, high = heart["yaxis2"]["range"]
    assert high - low >= 16 - 1e-6
    low, high = weight["layout"]["yaxis"]["range"]
    assert high - low >= 4 - 1e-6 and low <= 80 and high >= 89.9
    page.close()
