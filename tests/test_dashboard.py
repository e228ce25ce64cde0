"""Dashboard: the summary's numbers (deltas by dates), freshness, empty and broken databases, HTTP rules."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.orm import Session

from dashboard import assets, make_server
from dashboard.summary import ago, load_summary, signed_kg
from db import make_engine
from models import Cycle, Recovery, Sleep, SyncState, Workout, WithingsWeight
from tests.conftest import PROJECT_DIR

USER = 4242
NOW = datetime.now(timezone.utc).replace(microsecond=0)
LATEST = NOW - timedelta(hours=3)


def add_weights(url: str, weights: list[tuple[datetime, float]], *, start_grpid: int = 1) -> None:
    """Insert weigh-ins (measured_at, kg) through the ORM."""
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        session.add_all(WithingsWeight(user_id=USER, grpid=start_grpid + i, measured_at=at, weight_kg=kg,
                                       timezone="Europe/Paris", raw={}, synced_at=NOW)
                        for i, (at, kg) in enumerate(weights))
    engine.dispose()


def add_whoop_days(url: str, days: int = 14, *, sport_name: str = "running") -> None:
    """Cycles with recoveries, main sleeps plus a nap, and one workout a day."""
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        for n in range(days):
            start = NOW - timedelta(days=days - n, hours=-6)
            common = {"user_id": USER, "raw": {}, "synced_at": NOW, "score_state": "SCORED",
                      "created_at": start, "updated_at": start}
            session.add(Cycle(whoop_id=1000 + n, start=start, end=start + timedelta(days=1), strain=10 + n % 5,
                              **common))
            session.add(Recovery(whoop_cycle_id=1000 + n, whoop_sleep_id=f"s-{n}", recovery_score=30 + 4 * n,
                                 hrv_rmssd_milli=40 + n, resting_heart_rate=58 - n % 3, **common))
            session.add(Sleep(whoop_id=f"s-{n}", whoop_cycle_id=1000 + n, nap=False, start=start - timedelta(hours=8),
                              end=start, sleep_performance_percentage=80 + n % 10,
                              total_in_bed_time_milli=8 * 3_600_000, total_awake_time_milli=1_800_000, **common))
            session.add(Sleep(whoop_id=f"nap-{n}", nap=True, start=start + timedelta(hours=8),
                              end=start + timedelta(hours=9), sleep_performance_percentage=5, **common))
            session.add(Workout(whoop_id=f"w-{n}", sport_name=sport_name, start=start + timedelta(hours=4),
                                end=start + timedelta(hours=5, minutes=5), strain=12.34, average_heart_rate=140,
                                max_heart_rate=171, kilojoule=2092, **common))
    engine.dispose()


def add_sync(url: str, source: str, last_success_at: datetime | None, *, error: str | None = None) -> None:
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        session.add(SyncState(source=source, resource="measures" if source == "withings" else "cycles",
                              user_id=USER, last_success_at=last_success_at, last_attempt_at=NOW,
                              status="error" if error else "ok", error=error))
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
    add_weights(db_url, [
        (LATEST, 80.0), (LATEST - timedelta(days=1), 80.2), (LATEST - timedelta(days=2), 80.4),
        (LATEST - timedelta(days=3), 80.1), (LATEST - timedelta(days=5), 80.3),
        (LATEST - timedelta(days=6, hours=23), 80.9),  # just inside 7 days: not the baseline
        (LATEST - timedelta(days=7), 81.0),  # exactly 7 days before: "at or before" includes it
        (LATEST - timedelta(days=12), 81.7), (LATEST - timedelta(days=29), 82.0),
        (LATEST - timedelta(days=30, minutes=1), 82.5), (LATEST - timedelta(days=40), 83.0),
    ])
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
        "start": None, "start_local": None, "sport": "running", "strain": 12.3, "minutes": 65, "avg_hr": 140,
        "max_hr": 171, "kilojoule": 2092, "state": "SCORED"}


def test_freshness_warns_when_stale_or_never_synced(db_url, dashboard):
    add_weights(db_url, [(LATEST, 70.0)])
    add_sync(db_url, "whoop", NOW - timedelta(days=3), error="HTTP 503 from WHOOP")
    add_sync(db_url, "withings", NOW - timedelta(hours=1))
    whoop, withings = summary_of(db_url)["freshness"]
    assert (whoop["source"], whoop["stale"], whoop["last_success_ago"]) == ("whoop", True, "3 days ago")
    assert whoop["warning"] == "WHOOP cycles last synced 3 days ago: run the ETL (python etl.py)."
    assert whoop["errors"] == ["cycles: HTTP 503 from WHOOP"]
    assert (withings["stale"], withings["warning"], withings["newest_record_ago"]) == (False, None, "3 hours ago")
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
    proc = subprocess.Popen([sys.executable, "-m", "dashboard", "--port", "0", "--database-url", db_url],
                            cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, text=True)
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


@pytest.mark.parametrize(("seconds", "text"), [(5, "just now"), (61, "1 minute ago"), (7200, "2 hours ago"),
                                               (47 * 3600, "47 hours ago"), (3 * 86400, "3 days ago")])
def test_ago(seconds, text):
    assert ago(NOW - timedelta(seconds=seconds), NOW) == text
