"""Dashboard: the summary's numbers (deltas by dates), freshness, empty and broken databases, HTTP rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import MetaData, Table, select
from sqlalchemy.orm import Session

from dashboard import assets, make_server
from dashboard.localtime import choose_zone
from dashboard.panels import rolling_mean
from dashboard.summary import ago, load_summary, signed_kg
from mapping.fields import local_date
from models import Account, Cycle, Recovery, Sleep, SyncState, WithingsHeartRate, WithingsWeight, Workout
from storage.engine import make_engine
from tests.conftest import PROJECT_DIR

USER = 4242
NOW = datetime(2026, 11, 25, 12, 0, 7, tzinfo=timezone.utc)  # fixed: the tests hold the page clock at it (conftest)
LATEST = NOW - timedelta(hours=3)


def add_weights(url: str, weights: list[tuple[datetime, float]], *, start_grpid: int = 1) -> None:
    """Insert weigh-ins (measured_at, kg) through the ORM."""
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        session.add_all(
            WithingsWeight(
                user_id=USER,
                grpid=start_grpid + i,
                measured_at=at,
                weight_kg=kg,
                timezone="Europe/Paris",
                raw={},
                synced_at=NOW,
            )
            for i, (at, kg) in enumerate(weights)
        )
    engine.dispose()


def add_whoop_days(url: str, days: int = 14, *, sport_name: str = "running") -> None:
    """Cycles with recoveries, main sleeps plus a nap, and one workout a day."""
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        for n in range(days):
            start = NOW - timedelta(days=days - n, hours=-6)
            common = {
                "user_id": USER,
                "raw": {},
                "synced_at": NOW,
                "score_state": "SCORED",
                "created_at": start,
                "updated_at": start,
            }
            session.add(
                Cycle(whoop_id=1000 + n, start=start, end=start + timedelta(days=1), strain=10 + n % 5, **common)
            )
            session.add(
                Recovery(
                    whoop_cycle_id=1000 + n,
                    whoop_sleep_id=f"s-{n}",
                    recovery_score=30 + 4 * n,
                    hrv_rmssd_milli=40 + n,
                    resting_heart_rate=58 - n % 3,
                    **common,
                )
            )
            session.add(
                Sleep(
                    whoop_id=f"s-{n}",
                    whoop_cycle_id=1000 + n,
                    nap=False,
                    start=start - timedelta(hours=8),
                    end=start,
                    sleep_performance_percentage=80 + n % 10,
                    total_in_bed_time_milli=8 * 3_600_000,
                    total_awake_time_milli=1_800_000,
                    **common,
                )
            )
            session.add(
                Sleep(
                    whoop_id=f"nap-{n}",
                    nap=True,
                    start=start + timedelta(hours=8),
                    end=start + timedelta(hours=9),
                    sleep_performance_percentage=5,
                    **common,
                )
            )
            session.add(
                Workout(
                    whoop_id=f"w-{n}",
                    sport_name=sport_name,
                    start=start + timedelta(hours=4),
                    end=start + timedelta(hours=5, minutes=5),
                    strain=12.34,
                    average_heart_rate=140,
                    max_heart_rate=171,
                    kilojoule=2092,
                    **common,
                )
            )
    engine.dispose()


def add_sync(url: str, source: str, last_success_at: datetime | None, *, error: str | None = None) -> None:
    """Every declared resource of `source` synced at `last_success_at`; `error` on its first one."""
    from sync import resources

    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        for n, resource in enumerate(resources.of_source(source)):
            failed = error is not None and n == 0
            session.add(
                SyncState(
                    source=source,
                    resource=resource.name,
                    user_id=USER,
                    account_id=select(Account.id).where(Account.name == "default").scalar_subquery(),
                    last_success_at=last_success_at,
                    last_attempt_at=NOW,
                    status="error" if failed else "ok",
                    error=error if failed else None,
                )
            )
    engine.dispose()


def fetch(server, path: str = "/", *, method: str = "GET", headers: dict | None = None):
    """(status, headers, body text) of one request, errors included."""
    request = urllib.request.Request(server.url.rstrip("/") + path, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


def summary_of(url: str) -> dict:
    engine = make_engine(url, read_only=True)
    try:
        return load_summary(engine, NOW)
    finally:
        engine.dispose()


def test_weight_changes_are_computed_by_dates_not_rows(db_url):
    # Uneven spacing: five weigh-ins in the last week, then gaps; the 7th row back is not 7 days back.
    add_weights(
        db_url,
        [
            (LATEST, 80.0),
            (LATEST - timedelta(days=1), 80.2),
            (LATEST - timedelta(days=2), 80.4),
            (LATEST - timedelta(days=3), 80.1),
            (LATEST - timedelta(days=5), 80.3),
            (LATEST - timedelta(days=6, hours=23), 80.9),  # just inside 7 days: not the baseline
            (LATEST - timedelta(days=7), 81.0),  # exactly 7 days before: "at or before" includes it
            (LATEST - timedelta(days=12), 81.7),
            (LATEST - timedelta(days=29), 82.0),
            (LATEST - timedelta(days=30, minutes=1), 82.5),
            (LATEST - timedelta(days=40), 83.0),
        ],
    )
    weight = summary_of(db_url)["weight"]
    assert (weight["kg"], weight["display"], weight["ago"]) == (80.0, "80.0 kg", "3 hours ago")
    seven, thirty = weight["changes"]
    assert (seven["days"], seven["delta_kg"], seven["display"], seven["baseline_kg"]) == (7, -1.0, "−1.0 kg", 81.0)
    assert seven["baseline_at"] == (LATEST - timedelta(days=7)).isoformat()
    assert (thirty["days"], thirty["delta_kg"], thirty["display"], thirty["baseline_kg"]) == (30, -2.5, "−2.5 kg", 82.5)


def test_changes_are_na_without_an_old_enough_weighin(db_url, dashboard):
    add_weights(db_url, [(LATEST, 72.46), (LATEST - timedelta(days=4), 72.0)])
    changes = summary_of(db_url)["weight"]["changes"]
    assert [(c["delta_kg"], c["display"]) for c in changes] == [(None, "n/a"), (None, "n/a")]
    status, _, html = fetch(dashboard)
    assert status == 200
    assert '<p class="big" id="latest-weight">72.5 kg</p>' in html
    assert html.count('<span class="value">n/a</span>') == 2


def test_summary_endpoint_serves_trends_and_workouts(db_url, dashboard):
    add_weights(db_url, [(LATEST, 70.0), (LATEST - timedelta(days=100), 75.0)])
    add_whoop_days(db_url, days=14)
    status, headers, body = fetch(dashboard, "/api/summary")
    data = json.loads(body)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert data["trends"]["weight"]["kg"] == [70.0]  # the 100-day-old weigh-in is outside the 90-day trend
    assert len(data["trends"]["recovery"]["score"]) == 14
    assert data["trends"]["recovery"]["hrv"][-1] == 53.0
    assert len(data["trends"]["sleep"]["performance"]) == 14 and 5 not in data["trends"]["sleep"]["performance"]
    assert data["trends"]["sleep"]["hours"][0] == 7.5
    assert len(data["workouts"]) == 10
    assert data["workouts"][0] | {"start": None, "start_local": None} == {
        "start": None,
        "start_local": None,
        "sport": "running",
        "strain": 12.3,
        "minutes": 65,
        "avg_hr": 140,
        "max_hr": 171,
        "kilojoule": 2092,
        "state": "SCORED",
    }


def test_freshness_warns_when_stale_or_never_synced(db_url, dashboard):
    add_weights(db_url, [(LATEST, 70.0)])
    add_sync(db_url, "whoop", NOW - timedelta(days=3), error="HTTP 503 from WHOOP")
    add_sync(db_url, "withings", NOW - timedelta(hours=1))
    whoop, withings = summary_of(db_url)["freshness"]
    assert (whoop["source"], whoop["stale"], whoop["last_success_ago"]) == ("whoop", True, "3 days ago")
    assert whoop["warning"] == "WHOOP cycles last synced 3 days ago: run the ETL (python etl.py)."
    assert whoop["errors"] == ["cycles: HTTP 503 from WHOOP"]
    assert (withings["stale"], withings["warning"]) == (False, None)
    ages = {r["resource"]: r["newest_record_ago"] for r in withings["resources"]}
    assert ages["measures"] == "3 hours ago" and ages["activity"] == "never"  # each resource its own age
    html = fetch(dashboard)[2]
    assert "WHOOP cycles last synced 3 days ago" in html and 'class="fresh stale" data-source="whoop"' in html
    assert 'class="fresh ok" data-source="withings"' in html
    assert "Last attempt failed: cycles: HTTP 503 from WHOOP" in html


def test_never_synced_source_is_flagged(db_url):
    add_weights(db_url, [(LATEST, 70.0)])
    whoop = summary_of(db_url)["freshness"][0]
    assert whoop["stale"] and whoop["warning"] == "WHOOP cycles has never synced: run the ETL (python etl.py)."


def test_empty_database_shows_a_friendly_page(dashboard):
    status, _, html = fetch(dashboard)
    assert status == 200
    assert "No data yet — run the ETL" in html and "python etl.py" in html
    assert "Traceback" not in html
    assert json.loads(fetch(dashboard, "/api/summary")[2])["empty"] is True


@pytest.mark.parametrize("prepare", ["missing file", "file without tables"])
def test_sqlite_file_the_etl_never_wrote_is_empty_not_an_error(tmp_path, prepare):
    path = tmp_path / "never.db"
    if prepare == "file without tables":
        path.write_bytes(b"")
    server = make_server(f"sqlite:///{path}", "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        status, _, html = fetch(server)
    finally:
        server.shutdown()
        server.server_close()
    assert status == 200 and "No data yet — run the ETL" in html
    assert path.exists() == (prepare != "missing file")  # read-only: the dashboard never creates it


def test_unreachable_database_is_a_503_message_not_a_traceback():
    server = make_server("postgresql+psycopg2://nobody:s3cret@127.0.0.1:1/none", "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        status, _, html = fetch(server)
        api_status, _, api_body = fetch(server, "/api/summary")
    finally:
        server.shutdown()
        server.server_close()
    assert status == 503 and "The database cannot be read right now" in html
    assert "OperationalError" in html and "Traceback" not in html and "s3cret" not in html
    assert api_status == 503 and "error" in json.loads(api_body)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"])
def test_write_methods_are_405(dashboard, method):
    status, headers, _ = fetch(dashboard, "/api/summary", method=method)
    assert status == 405 and headers["Allow"] == "GET, HEAD"


def test_head_has_no_body_and_unknown_paths_are_404(dashboard):
    status, headers, body = fetch(dashboard, method="HEAD")
    assert status == 200 and body == "" and int(headers["Content-Length"]) > 0
    for path in ("/nope", "/static/../server.py", "/static/%2e%2e/server.py", "/static/.hidden.js"):
        assert fetch(dashboard, path)[0] == 404, path


def test_foreign_host_header_is_refused(dashboard):
    # DNS rebinding: a name that resolves to 127.0.0.1 must not read the data.
    assert fetch(dashboard, headers={"Host": "attacker.example:8050"})[0] == 421
    assert fetch(dashboard, headers={"Host": f"localhost:{dashboard.server_address[1]}"})[0] == 200


def test_binds_loopback_by_default(db_url):
    server = make_server(db_url, port=0)
    try:
        assert server.server_address[0] == "127.0.0.1"
        assert server.url.startswith("http://127.0.0.1:")
    finally:
        server.server_close()


def test_module_command_prints_its_address_and_serves(db_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "DASHBOARD_"))}
    env["WHOOP_PLATFORM_NO_DOTENV"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashboard", "--port", "0", "--database-url", db_url],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("Dashboard on http://127.0.0.1:"), line
        url = line.split()[2]
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
    finally:
        proc.terminate()
        proc.wait(10)


def test_html_escapes_database_values(db_url, dashboard):
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    add_weights(db_url, [(LATEST, 70.0)])
    add_whoop_days(db_url, days=2, sport_name=evil)
    html = fetch(dashboard)[2]
    assert evil not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html


def test_chart_library_is_served_locally_and_cached(db_url, dashboard):
    add_weights(db_url, [(LATEST, 70.0)])
    html = fetch(dashboard)[2]
    chart_url = assets.chart_js_url()
    assert chart_url and f'<script src="{chart_url}" defer></script>' in html
    assert "https://" not in html and "http://" not in html  # no CDN, no remote asset of any kind
    status, headers, body = fetch(dashboard, chart_url)
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert "immutable" in headers["Cache-Control"] and "Plotly" in body[:2000]
    assert "script-src 'self'" in fetch(dashboard)[1]["Content-Security-Policy"]


def test_page_keeps_every_number_when_the_chart_library_is_missing(db_url, dashboard, monkeypatch):
    monkeypatch.setattr(assets, "chart_js", lambda: None)
    add_weights(db_url, [(LATEST, 70.0), (LATEST - timedelta(days=8), 71.0)])
    add_whoop_days(db_url, days=3)
    html = fetch(dashboard)[2]
    assert "plotly" not in html.split("</head>")[0]
    assert "Charts are off" in html and "pip install -r requirements.txt" in html
    assert '<details class="data" open>' in html and "<td>70.0</td>" in html
    assert 'id="change-7d"><span class="label">7 days</span><span class="value">−1.0 kg</span>' in html


@pytest.mark.parametrize(("delta", "text"), [(0.34, "+0.3 kg"), (-1.25, "−1.2 kg"), (0.04, "±0.0 kg")])
def test_signed_kg(delta, text):
    assert signed_kg(delta) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "just now"),
        (61, "1 minute ago"),
        (7200, "2 hours ago"),
        (47 * 3600, "47 hours ago"),
        (3 * 86400, "3 days ago"),
    ],
)
def test_ago(seconds, text):
    assert ago(NOW - timedelta(seconds=seconds), NOW) == text


# --- One time zone, local days, blood pressure, steps and Withings sleep -----------------

PARIS = ZoneInfo("Europe/Paris")
ACTIVITY, SLEEP = "withings_activity", "withings_sleep_summary"


def _plain_value(column):
    """A stand-in for a NOT NULL column a test row leaves out (tables another branch may define)."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return None
    return {int: 0, float: 0.0, str: "", dict: {}, bool: False, datetime: NOW, date: NOW.date()}.get(kind)


@pytest.fixture
def optional_tables(db_url):
    """Adds rows to withings_activity or withings_sleep_summary (a night's `local_date` as the mapper fills it)."""
    engine = make_engine(db_url)

    def add(name: str, rows: list[dict]) -> None:
        table = Table(name, MetaData(), autoload_with=engine)
        required = [c for c in table.columns if not c.nullable and not c.primary_key and c.server_default is None]
        if name == SLEEP:
            rows = [{"local_date": local_date(r["end"], r.get("timezone"))} | r for r in rows]
        with engine.begin() as conn:
            conn.execute(table.insert(), [{c.name: _plain_value(c) for c in required} | row for row in rows])

    yield add
    engine.dispose()


def add_night(url: str, n: int, *, woke: datetime, offset: str = "+01:00", score: float = 50.0) -> None:
    """A cycle that starts at bedtime, its main sleep ending at `woke`, and the recovery of that sleep."""
    engine = make_engine(url)
    bedtime = woke - timedelta(hours=8)
    common = {
        "user_id": USER,
        "raw": {},
        "synced_at": NOW,
        "score_state": "SCORED",
        "created_at": bedtime,
        "updated_at": bedtime,
        "timezone_offset": offset,
    }
    with Session(engine) as session, session.begin():
        session.add(Cycle(whoop_id=7000 + n, start=bedtime, strain=9.0, **common))
        session.add(
            Sleep(
                whoop_id=f"n-{n}",
                whoop_cycle_id=7000 + n,
                nap=False,
                start=bedtime,
                end=woke,
                sleep_performance_percentage=90,
                total_in_bed_time_milli=8 * 3_600_000,
                total_awake_time_milli=0,
                **common,
            )
        )
        session.add(
            Recovery(
                whoop_cycle_id=7000 + n,
                whoop_sleep_id=f"n-{n}",
                recovery_score=score,
                hrv_rmssd_milli=50.0 + n,
                resting_heart_rate=55.0,
                **common,
            )
        )
    engine.dispose()


def add_blood_pressure(url: str, readings: list[tuple[datetime, float, float, float | None]]) -> None:
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        session.add_all(
            WithingsHeartRate(
                user_id=USER,
                grpid=50_000 + i,
                measured_at=at,
                systolic_mmhg=sys_,
                diastolic_mmhg=dia,
                heart_rate_bpm=pulse,
                timezone="Europe/Paris",
                raw={},
                synced_at=NOW,
            )
            for i, (at, sys_, dia, pulse) in enumerate(readings)
        )
    engine.dispose()


def test_recovery_belongs_to_the_local_day_you_woke_up(db_url):
    # New York: bed at 23:00 local on the 1st is 04:00 UTC on the 2nd; woke 07:00 local on the 2nd.
    woke = datetime(2026, 1, 2, 12, 0, tzinfo=timezone.utc)
    add_night(db_url, 1, woke=woke, offset="-05:00", score=71)
    # Berlin: woke 00:30 UTC on the 3rd is 01:30 local on the 3rd (a late night, but the 3rd).
    add_night(db_url, 2, woke=datetime(2026, 1, 3, 0, 30, tzinfo=timezone.utc), offset="+01:00", score=44)
    recovery = summary_of(db_url)["trends"]["recovery"]
    assert (recovery["day"], recovery["score"]) == (["2026-01-02", "2026-01-03"], [71, 44])


def test_one_time_zone_for_hero_workouts_and_header(db_url, dashboard):
    at = LATEST.replace(minute=35, second=0)
    add_weights(db_url, [(at, 70.0)])  # timezone Europe/Paris
    add_whoop_days(db_url, days=2)
    summary = summary_of(db_url)
    assert summary["zone"]["name"] == "Europe/Paris" and summary["zone"]["source"] == "withings"
    assert summary["weight"]["measured_local"] == at.astimezone(PARIS).strftime("%a %d %b %Y, %H:%M")
    workout = summary["workouts"][0]
    assert workout["start_local"] == datetime.fromisoformat(workout["start"]).astimezone(PARIS).strftime(
        "%a %d %b, %H:%M"
    )
    html = fetch(dashboard)[2]
    abbreviation = NOW.astimezone(PARIS).tzname()
    assert f'Times in <strong id="page-zone">Europe/Paris ({abbreviation})</strong>' in html
    assert html.count("Europe/Paris") == 1 and html.count(abbreviation) == 1  # named once, not per time


@pytest.mark.parametrize(
    ("withings", "whoop", "expected"),
    [
        ("Europe/Berlin", "+01:00", "Europe/Berlin"),  # agree (January): the named zone knows DST
        ("Europe/Berlin", "-05:00", "UTC−05:00"),  # travelling: the strap knows where the person is
        (None, "+05:30", "UTC+05:30"),
        ("Not/AZone", None, None),  # nothing usable: this computer's zone
    ],
)
def test_page_zone_comes_from_the_data(withings, whoop, expected):
    zone = choose_zone(withings, whoop, datetime(2026, 1, 15, 8, tzinfo=timezone.utc))
    assert zone.name == expected if expected else zone.source == "computer"


def test_hrv_rolling_mean_uses_calendar_days_not_rows():
    days = [date(2026, 1, d) for d in (1, 2, 3, 10, 11)]
    assert rolling_mean(days, [10.0, 20.0, None, 40.0, 50.0]) == [10.0, 15.0, 15.0, 40.0, 45.0]


def test_blood_pressure_latest_reading_and_trend(db_url, dashboard):
    add_weights(db_url, [(LATEST, 70.0)])
    add_blood_pressure(
        db_url,
        [
            (LATEST - timedelta(days=100), 150, 95, 70),  # outside the 90 days
            (LATEST - timedelta(days=2), 124, 81, 66),
            (LATEST - timedelta(hours=1), 118, 76, None),
        ],
    )
    bp = summary_of(db_url)["blood_pressure"]
    assert bp["latest"] | {"measured_local": None} == {
        "systolic": 118,
        "diastolic": 76,
        "pulse": None,
        "measured_local": None,
        "ago": "4 hours ago",
    }
    assert (bp["systolic"], bp["diastolic"], bp["pulse"]) == ([124, 118], [81, 76], [66, None])
    html = fetch(dashboard)[2]
    assert '<strong id="latest-bp">118/76</strong> mmHg</p>' in html and "<td>124</td><td>81</td><td>66</td>" in html


def test_new_panels_say_no_data_yet_without_their_tables_or_rows(db_url, dashboard):
    add_weights(db_url, [(LATEST, 70.0)])
    html = fetch(dashboard)[2]
    assert 'id="nodata-bp"' in html and "No blood-pressure reading yet" in html
    assert "No Withings activity data yet: run the ETL (python etl.py)." in html
    assert "No Withings sleep data yet" in html and 'id="chart-steps"' not in html
    data = summary_of(db_url)
    assert data["steps"]["day"] == [] and data["sleep_compare"]["withings_hours"] == []


def test_steps_and_withings_sleep_by_local_day(db_url, dashboard, optional_tables):
    today = NOW.astimezone(PARIS).date()
    add_weights(db_url, [(LATEST, 70.0)])
    optional_tables(
        ACTIVITY,
        [
            {"user_id": USER, "date": today - timedelta(days=1), "steps": 10_234, "distance_m": 7400.0},
            {"user_id": USER, "date": today, "steps": 3120, "distance_m": None},
        ],
    )
    woke = datetime.combine(today, datetime.min.time(), PARIS) + timedelta(hours=6, minutes=50)
    optional_tables(
        SLEEP,
        [
            {
                "user_id": USER,
                "withings_id": 1,
                "start": woke - timedelta(hours=8),
                "end": woke,
                "total_sleep_time_s": 7 * 3600 + 1800,
                "sleep_score": 81,
                "timezone": "Europe/Paris",
            }
        ],
    )
    add_night(db_url, 1, woke=woke + timedelta(minutes=5), offset=woke.strftime("%z")[:3] + ":00")
    data = summary_of(db_url)
    assert data["steps"] == {
        "available": True,
        "day": [(today - timedelta(days=1)).isoformat(), today.isoformat()],
        "steps": [10_234, 3120],
        "km": [7.4, None],
    }
    assert data["sleep_compare"] | {"available": None} == {
        "available": None,
        "day": [today.isoformat()],
        "whoop_hours": [8.0],
        "withings_hours": [7.5],
        "withings_score": [81],
    }
    html = fetch(dashboard)[2]
    assert 'id="chart-steps"' in html and "<td>10,234</td><td>7.4</td>" in html
    assert "<td>8.0</td><td>7.5</td><td>81</td>" in html and "No Withings" not in html


def test_chart_axes_end_with_today_in_the_page_zone(db_url):
    add_weights(db_url, [(LATEST, 70.0)])
    axis = summary_of(db_url)["axis"]
    today = NOW.astimezone(PARIS).date()
    assert axis == {
        "today": today.isoformat(),
        "start": (today - timedelta(days=89)).isoformat(),
        "bar_start": (today - timedelta(days=29)).isoformat(),
        "end": (today + timedelta(days=1)).isoformat(),
        # One weigh-in: its axis 4 kg wide around it, never a hair-thin band; no data, no range.
        "y": {"weight": [68.0, 72.0], "hrv": None, "rhr": None, "bp": None},
    }
