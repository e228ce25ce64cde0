"""The dashboard in real headless Chromium: newest weight shown, a new weigh-in after reload, a screenshot."""
from __future__ import annotations

import math
import random
import shutil
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from sqlalchemy.orm import Session

from dashboard import make_server
from db import make_engine
from models import Cycle, Recovery, Sleep, Workout
from tests.conftest import IN_CI
from tests.test_dashboard import LATEST, NOW, USER, add_sync, add_weights

SPORTS = ("running", "cycling", "functional fitness", "yoga", "swimming", "hiking")

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


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
    common = {"user_id": USER, "raw": {}, "synced_at": NOW, "score_state": "SCORED",
              "created_at": start, "updated_at": start}
    hrv = max(25.0, 62 + 10 * math.sin(n / 6) + rng.gauss(0, 7))
    in_bed = rng.uniform(6.4, 8.9) * 3_600_000
    rows = [Cycle(whoop_id=5000 + n, start=start, end=start + timedelta(days=1), strain=rng.uniform(6, 17), **common),
            Recovery(whoop_cycle_id=5000 + n, whoop_sleep_id=f"s-{n}", hrv_rmssd_milli=hrv,
                     recovery_score=min(99.0, max(8.0, (hrv - 30) * 1.9 + rng.gauss(0, 8))),
                     resting_heart_rate=round(56 - (hrv - 60) / 8 + rng.gauss(0, 1.5)), **common),
            Sleep(whoop_id=f"s-{n}", whoop_cycle_id=5000 + n, nap=False, start=start - timedelta(hours=8),
                  end=start, total_in_bed_time_milli=int(in_bed), total_awake_time_milli=int(in_bed * 0.07),
                  sleep_performance_percentage=min(100.0, in_bed / 3_600_000 / 8.2 * 100 + rng.gauss(0, 4)), **common)]
    if rng.random() < 0.6:
        minutes = rng.randint(25, 110)
        rows.append(Workout(whoop_id=f"w-{n}", sport_name=rng.choice(SPORTS), start=start + timedelta(hours=5),
                            end=start + timedelta(hours=5, minutes=minutes), strain=rng.uniform(5, 16),
                            average_heart_rate=rng.randint(110, 155), max_heart_rate=rng.randint(160, 188),
                            kilojoule=minutes * rng.uniform(30, 55), **common))
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
