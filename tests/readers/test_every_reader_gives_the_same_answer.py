"""Every reader gives the same answer: status, status --check, the dashboard, the MCP tools, export daily,
and what Home Assistant reads over MQTT (published to a real Mosquitto)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from configuration.settings import MqttSettings
from dashboard.summary import build_summary
from mapping.withings_series import sleep_records
from mcp_server import queries as mcp
from models import Account, SyncState, WithingsHeartRate, WithingsWeight
from publish.publisher import Publisher
from readers import health
from readers.export import export_tables
from readers.status import collect_status, format_status
from storage.engine import make_engine
from sync import resources
from tests.conftest import IN_CI
from tests.helpers import factories as f
from tests.helpers import loaders, mosquitto
from tests.helpers.accounts import file_under_default

# The clock every reader is given: a Monday afternoon after a flight from Paris to New York.
NOW = datetime(2025, 3, 10, 15, 0, tzinfo=timezone.utc)
USER = 8_100_200  # Withings' id of the person WHOOP knows as f.USER_ID
PARIS, NEW_YORK = "Europe/Paris", "America/New_York"


def _night(n: int, woke: datetime, offset: str, *, sleep_state: str = "SCORED", recovery: float | None = None) -> tuple:
    """A cycle starting at bedtime, its main sleep ending at `woke` and that sleep's recovery."""
    bedtime, cycle_id = woke - timedelta(hours=8), 93845 + n
    cycle = f.cycle(n, state="SCORED" if recovery is not None else "PENDING_SCORE") | {
        "start": f.iso(bedtime),
        "end": None,
        "timezone_offset": offset,
    }
    sleep = f.sleep(n, state=sleep_state) | {
        "start": f.iso(bedtime),
        "end": f.iso(woke),
        "timezone_offset": offset,
        "cycle_id": cycle_id,
    }
    rec = f.recovery(n, state="SCORED" if recovery is not None else "PENDING_SCORE", score=recovery or 0.0) | {
        "created_at": f.iso(woke + timedelta(minutes=5)),
        "updated_at": f.iso(woke + timedelta(minutes=6)),
    }
    return cycle, sleep, rec


def _group(grpid: int, at: datetime, attrib: int, measures: list[dict]) -> dict:
    epoch = int(at.timestamp())
    return {
        "grpid": grpid,
        "attrib": attrib,
        "date": epoch,
        "created": epoch + 30,
        "modified": epoch + 30,
        "category": 1,
        "deviceid": None,
        "hash_deviceid": None,
        "measures": measures,
        "model": "test",
    }


def _kg(grpid: int, at: datetime, kg: float, attrib: int = 0) -> dict:
    return _group(grpid, at, attrib, [{"value": round(kg * 1000), "type": 1, "unit": -3}])


def _bp(grpid: int, at: datetime, systolic: int, diastolic: int, attrib: int = 0) -> dict:
    return _group(
        grpid,
        at,
        attrib,
        [
            {"value": diastolic, "type": 9, "unit": 0},
            {"value": systolic, "type": 10, "unit": 0},
            {"value": 70, "type": 11, "unit": 0},
        ],
    )


def _whoop(session: Session) -> None:
    nights = [
        _night(1, datetime(2025, 3, 8, 5, 30, tzinfo=timezone.utc), "+01:00", recovery=60.0),  # Paris
        _night(2, datetime(2025, 3, 9, 12, 0, tzinfo=timezone.utc), "-05:00", recovery=49.0),  # New York
        _night(3, datetime(2025, 3, 10, 11, 0, tzinfo=timezone.utc), "-05:00"),
    ]  # recovery pending
    loaders.load_cycles(session, [n[0] for n in nights])
    loaders.load_sleep(session, [n[1] for n in nights])
    loaders.load_recovery(session, [n[2] for n in nights])
    loaders.load_workout(session, [f.workout(0)])  # nine days before NOW: past its 7-day threshold


def _withings(session: Session) -> None:
    at = lambda day, hour, minute=0: datetime(2025, 3, day, hour, minute, tzinfo=timezone.utc)  # noqa: E731 - a one-line helper, named where it is used
    loaders.load_withings_measures(
        session,
        [
            _kg(1, at(7, 6), 80.0),
            _kg(2, at(8, 6, 10), 79.8, attrib=2),
            _bp(11, at(8, 19), 121, 80),
            _kg(6, at(5, 6), 81.0, attrib=4),
        ],
        USER,
        PARIS,
    )
    loaders.load_withings_measures(
        session,
        [
            _kg(3, at(9, 12, 30), 79.5, attrib=8),
            _kg(4, at(9, 12, 30), 79.4),  # the same minute (and second)
            _kg(5, at(10, 12), 95.0, attrib=1),
            _kg(7, at(10, 13), 78.0),
            _kg(8, at(10, 14), 78.1),
            _kg(9, at(10, 14, 30), 78.2),
            _bp(12, at(9, 16), 140, 95, attrib=1),
            _bp(13, at(10, 1), 118, 76, attrib=8),
            _bp(14, at(10, 10), 120, 79, attrib=2),
            _bp(15, at(10, 11), 130, 85),
        ],
        USER,
        NEW_YORK,
    )
    night = {
        "id": 501,
        "startdate": int(at(10, 4).timestamp()),
        "enddate": int(at(10, 11).timestamp()),
        "date": "2025-03-10",
        "timezone": NEW_YORK,
        "model": 32,
        "data": {"total_sleep_time": 25200, "sleep_score": 80},
    }
    loaders.load(session, "withings", "sleep_summary", [night], USER)
    days = [
        {"date": d, "timezone": NEW_YORK, "steps": s, "distance": 1000.0, "modified": int(at(10, 12).timestamp())}
        for d, s in (("2025-03-09", 12000), ("2025-03-10", 3000))
    ]
    loaders.load(session, "withings", "activity", days, USER)
    _withings_detail(session)


def _epoch(day: int, hour: int, minute: int = 0) -> int:
    return int(datetime(2025, 3, day, hour, minute, tzinfo=timezone.utc).timestamp())


def _segment(start: int, end: int, state: int, **series: dict) -> dict:
    values = {name: {str(ts): v for ts, v in points.items()} for name, points in series.items()}
    return {"startdate": start, "enddate": end, "state": state, "model": "Aura Sensor V2", "model_id": 63, **values}


def _withings_detail(session: Session) -> None:
    """The night's minutes (one before it, one a -1), intraday steps, workouts and ECGs."""
    t = _epoch
    segments = [
        _segment(t(10, 2), t(10, 3), 0, hr={t(10, 2, 30): 40}),  # before the night's start: not its minute
        _segment(
            t(10, 4),
            t(10, 6),
            1,
            hr={t(10, 4, 10): 58, t(10, 5): 52, t(10, 5, 30): -1},
            rr={t(10, 4, 10): 14, t(10, 5): 15},
            rmssd={t(10, 4, 10): 40, t(10, 5): 50},
        ),
        _segment(t(10, 6), t(10, 11), 2, hr={t(10, 7): 49, t(10, 9): 56}, rr={t(10, 7): 13}, rmssd={t(10, 7): 60}),
    ]
    loaders.load(session, "withings", "sleep_series", sleep_records(segments), USER)
    sample = {"deviceid": "a" * 40, "model": "ScanWatch", "model_id": 93}
    minutes = [(t(8, 14), 500), (t(8, 15), 700), (t(10, 15), 50)]  # the 10th has activity steps already
    loaders.load(
        session, "withings", "intraday", [{"timestamp": str(ts), **sample, "steps": n} for ts, n in minutes], USER
    )
    workouts = [(9101, t(7, 7), "2025-03-07"), (9102, t(9, 13), "2025-03-09"), (9103, t(9, 20), "2025-03-09")]
    loaders.load(
        session,
        "withings",
        "workouts",
        [
            {
                "id": wid,
                "category": 1,
                "timezone": NEW_YORK,
                "model": 93,
                "attrib": 0,
                "startdate": start,
                "enddate": start + 1800,
                "date": day,
                "modified": start + 2000,
                "deviceid": "a" * 40,
                "data": {"calories": 100, "steps": 3000},
            }
            for wid, start, day in workouts
        ],
        USER,
    )
    ecgs = [(t(9, 13), 0), (t(10, 9), 2), (t(10, 10), None)]  # the last one failed: no classification
    loaders.load(
        session,
        "withings",
        "ecg",
        [
            {"deviceid": "a" * 40, "model": 93, "heart_rate": 61, "timestamp": ts, "modified": ts + 300}
            | (
                {}
                if afib is None
                else {
                    "ecg": {"signalid": ts, "afib": afib},
                    "signal": {"signal": [-8, 4, 41, 704, -247, 9], "sampling_frequency": 300, "wearposition": 1},
                }
            )
            for ts, afib in ecgs
        ],
        USER,
    )


def _hard_cases(session: Session) -> None:
    """Rows the mappers would never write today: deleted, flagged, dated 2999 by an older release."""
    gone = datetime(2025, 3, 10, 14, 45, tzinfo=timezone.utc)
    session.execute(update(WithingsWeight).where(WithingsWeight.grpid == 7).values(deleted_at=gone))
    session.execute(update(WithingsHeartRate).where(WithingsHeartRate.grpid == 15).values(deleted_at=gone))
    session.execute(
        update(WithingsWeight)
        .where(WithingsWeight.grpid == 8)
        .values(weight_kg=250.0, flag="weight_kg 250.0 is outside 20 to 200")
    )
    session.execute(
        update(WithingsHeartRate)
        .where(WithingsHeartRate.grpid == 14)
        .values(systolic_mmhg=161.0, diastolic_mmhg=1.0, flag="diastolic 1 is below 30")
    )
    session.execute(
        update(WithingsWeight)
        .where(WithingsWeight.grpid == 9)
        .values(measured_at=datetime(2999, 1, 1, tzinfo=timezone.utc), local_date=date(2999, 1, 1))
    )
    for resource in resources.RESOURCES:
        if resource.key == ("whoop", "body"):
            continue  # never synced
        session.execute(
            insert(SyncState).values(
                source=resource.source,
                resource=resource.name,
                user_id=USER if resource.source == "withings" else f.USER_ID,
                account_id=select(Account.id).where(Account.name == "default").scalar_subquery(),
                status="ok",
                last_attempt_at=NOW - timedelta(hours=1),
                last_success_at=NOW - timedelta(hours=1),
            )
        )


@pytest.fixture
def seeded(db_url):
    file_under_default(db_url, {"whoop": f.USER_ID, "withings": USER})  # as a token save files them
    engine = make_engine(db_url)
    with Session(engine) as session:
        _whoop(session)
        _withings(session)
        _hard_cases(session)
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture
def broker_port(tmp_path):
    """A Mosquitto's port; None on a machine without it (CI=true installs it and never skips)."""
    if mosquitto.MOSQUITTO is None and not IN_CI:
        yield None
        return
    with mosquitto.broker(tmp_path) as port:
        yield port


def _published(engine, settings, port: int | None) -> dict | None:
    """What Home Assistant reads: the state of each of the account's sensors, by name."""
    if port is None:
        return None
    settings.mqtt = MqttSettings(host="127.0.0.1", port=port)
    publisher = Publisher(settings, engine)
    try:
        assert publisher.publish(now=NOW) == ["default"]
    finally:
        publisher.close()
    prefix = next(t for t in mosquitto.retained(port) if t.endswith("/availability")).removesuffix("availability")
    return {
        topic.removeprefix(prefix + "default/"): json.loads(payload)
        for topic, payload in mosquitto.retained(port).items()
        if topic.startswith(prefix + "default/")
    }


def _readers(engine, tmp_path, port: int | None = None) -> dict:
    """What each reader answers, at NOW."""
    settings = SimpleNamespace(
        **{s: SimpleNamespace(configured=True, seed_refresh_token="seed") for s in resources.SOURCES}
    )
    checked = json.loads(json.dumps(health.check(engine, settings, NOW), default=str))
    with engine.connect() as conn:
        page = build_summary(conn, NOW)
        latest = mcp.latest_measurements(conn, NOW)
        fresh = mcp.sync_freshness(conn, NOW)
        series = mcp.daily_series(conn, "weight", date(2025, 3, 1), date(2025, 3, 31))
        detail_series = {name: mcp.daily_series(conn, name, date(2025, 3, 1), date(2025, 3, 31)) for name in DETAIL}
        night = mcp.sleep_night(conn, date(2025, 3, 10))
        default = conn.execute(select(Account.id).where(Account.name == "default")).scalar_one()
        detail_of_account = {
            name: mcp.daily_series(conn, name, date(2025, 3, 1), date(2025, 3, 31), default) for name in DETAIL
        }
    assert detail_of_account == detail_series  # the account's own days: here, all of them
    export_tables(engine, ["daily", "daily_detail"], "jsonl", str(tmp_path))
    exported = [json.loads(line) for line in (tmp_path / "daily.jsonl").read_text().splitlines()]
    detail = [json.loads(line) for line in (tmp_path / "daily_detail.jsonl").read_text().splitlines()]
    return {
        "status": collect_status(engine, NOW),
        "check": checked,
        "page": page,
        "mcp": latest,
        "mcp_fresh": fresh,
        "mcp_series": series,
        "daily": exported,
        "daily_detail": detail,
        "mcp_detail_series": detail_series,
        "mcp_night": night,
        "mqtt": _published(engine, settings, port),
    }


# The catalog's metrics from the Withings series, workouts and ECGs (the `daily_detail` view's own columns).
DETAIL = (
    "night_lowest_hr",
    "night_average_hr",
    "night_hrv",
    "night_breathing_rate",
    "intraday_steps",
    "withings_workouts",
    "ecg_count",
    "ecg_classification",
)


def _last(rows: list[dict], column: str) -> dict:
    return [r for r in rows if r[column] is not None][-1]


def test_every_reader_gives_the_same_answers(seeded, tmp_path, broker_port):
    r = _readers(seeded, tmp_path, broker_port)
    status, check, page = r["status"], r["check"]["latest"], r["page"]
    mcp_latest, daily = r["mcp"]["metrics"], r["daily"]
    # Weight: not the deleted, flagged, 2999 or maybe-someone-else's ones; of two in the same second, the higher id.
    weights = {
        status["latest_weight"]["kg"],
        check["weight"]["kg"],
        page["weight"]["kg"],
        mcp_latest["weight"]["value"],
        _last(daily, "weight")["weight"],
        r["mcp_series"]["days"][-1]["value"],
    }
    assert weights == {79.4}
    assert _last(daily, "weight")["day"] == "2025-03-09" and r["mcp_series"]["days"][-1]["date"] == "2025-03-09"
    # Blood pressure: the attrib-8 reading of a New York evening, filed under its local day.
    bp = _last(daily, "bp_systolic")
    assert {
        (status["latest_blood_pressure"]["systolic"], status["latest_blood_pressure"]["diastolic"]),
        (check["blood_pressure"]["systolic"], check["blood_pressure"]["diastolic"]),
        (page["blood_pressure"]["latest"]["systolic"], page["blood_pressure"]["latest"]["diastolic"]),
        (mcp_latest["bp_systolic"]["value"], mcp_latest["bp_diastolic"]["value"]),
        (bp["bp_systolic"], bp["bp_diastolic"]),
    } == {(118, 76)}
    assert bp["day"] == "2025-03-09"
    # Recovery: the newest SCORED one; the pending one (all nulls) is nobody's latest.
    assert {
        status["latest_recovery"]["score"],
        check["recovery"]["score"],
        page["trends"]["recovery"]["score"][-1],
        mcp_latest["recovery"]["value"],
        _last(daily, "recovery")["recovery"],
    } == {49.0}
    assert _last(daily, "recovery")["day"] == page["trends"]["recovery"]["day"][-1] == "2025-03-09"
    assert [d["day"] for d in daily if d["recovery"] is not None] == ["2025-03-08", "2025-03-09"]
    # Last night's sleep: WHOOP (the pending recovery's sleep is scored) and Withings, by the New York wake-up day.
    whoop = round(_last(daily, "sleep_hours")["sleep_hours"], 3)
    assert {
        round(status["last_sleep"]["hours"], 3),
        round(check["sleep"]["hours"], 3),
        round(mcp_latest["sleep_hours"]["value"], 3),
        whoop,
    } == {round((30272735 - 1403507) / 3_600_000, 3)}
    assert page["trends"]["sleep"]["hours"][-1] == round(whoop, 1)
    assert _last(daily, "sleep_hours")["day"] == page["trends"]["sleep"]["day"][-1] == "2025-03-10"
    assert {
        status["last_withings_sleep"]["hours"],
        check["withings_sleep"]["hours"],
        mcp_latest["withings_sleep_hours"]["value"],
        _last(daily, "withings_sleep_hours")["withings_sleep_hours"],
        page["sleep_compare"]["withings_hours"][-1],
    } == {7.0}
    assert [(d["day"], d["steps"]) for d in daily if d["steps"]] == [("2025-03-09", 12000), ("2025-03-10", 3000)]
    # One row a day: WHOOP's and Withings' ids for the same person side by side.
    assert len({d["day"] for d in daily}) == len(daily)
    assert {(d["whoop_user_id"], d["withings_user_id"]) for d in daily if d["day"] == "2025-03-09"} == {
        (f.USER_ID, USER)
    }
    _same_freshness(r)
    _flagged_noted(r)
    _details_agree(r)
    if r["mqtt"] is not None:
        _home_assistant_reads_the_same(r)


def _details_agree(r: dict) -> None:
    """The night's figures, intraday steps, workouts and ECGs: the same in the catalog's latest, the
    `daily_detail` view (exported), MCP's daily series and its `sleep_night` tool; `daily` unchanged."""
    detail, mcp_latest = r["daily_detail"], r["mcp"]["metrics"]
    daily_columns = set(r["daily"][0])
    assert set(detail[0]) == daily_columns | set(DETAIL) and not daily_columns & set(DETAIL)
    # The columns `daily` has are the same values, day by day.
    assert [{k: d[k] for k in daily_columns} for d in detail] == r["daily"]
    per_day = {name: [(d["day"], d[name]) for d in detail if d[name] is not None] for name in DETAIL}
    assert per_day == {name: [(d["date"], d["value"]) for d in r["mcp_detail_series"][name]["days"]] for name in DETAIL}
    assert per_day["night_lowest_hr"] == [("2025-03-10", 49)]  # not the minute before the night, nor the -1
    assert [(day, round(v, 2)) for day, v in per_day["night_average_hr"]] == [("2025-03-10", 53.75)]
    assert [(day, round(v, 2)) for day, v in per_day["night_hrv"]] == [("2025-03-10", 50.0)]
    assert [(day, round(v, 2)) for day, v in per_day["night_breathing_rate"]] == [("2025-03-10", 14.0)]
    assert per_day["intraday_steps"] == [("2025-03-08", 1200)]  # the 10th's activity steps stand alone
    assert per_day["withings_workouts"] == [("2025-03-07", 1), ("2025-03-09", 2)]
    assert per_day["ecg_count"] == [("2025-03-09", 1), ("2025-03-10", 2)]
    assert per_day["ecg_classification"] == [("2025-03-09", "negative"), ("2025-03-10", "inconclusive")]
    for name in DETAIL:
        assert mcp_latest[name]["value"] == per_day[name][-1][1], name
    night = r["mcp_night"]["night"]
    assert (night["lowest_hr"], night["average_hr"], night["average_rmssd"], night["average_rr"]) == (
        49,
        round(mcp_latest["night_average_hr"]["value"], 1),
        round(mcp_latest["night_hrv"]["value"], 1),
        round(mcp_latest["night_breathing_rate"]["value"], 1),
    )
    if r["mqtt"] is not None:
        assert {name: r["mqtt"][name]["value"] for name in DETAIL} == {
            name: mcp_latest[name]["value"] for name in DETAIL
        }
        assert r["mqtt"]["ecg_classification"]["attributes"]["local_day"] == "2025-03-10"


def _home_assistant_reads_the_same(r: dict) -> None:
    """The MQTT states: the latest values and their local days, the problem sensor as `status --check`."""
    mqtt, status = r["mqtt"], r["status"]
    assert mqtt["weight"]["value"] == status["latest_weight"]["kg"] == 79.4
    assert mqtt["weight"]["attributes"]["local_day"] == "2025-03-09"
    assert mqtt["weight"]["attributes"]["flagged"] is True  # a flagged weigh-in exists, and is left out
    assert (mqtt["bp_systolic"]["value"], mqtt["bp_diastolic"]["value"]) == (118, 76)
    assert mqtt["recovery"]["value"] == status["latest_recovery"]["score"] == 49.0
    assert round(mqtt["sleep_hours"]["value"], 3) == round(status["last_sleep"]["hours"], 3)
    assert mqtt["withings_sleep_hours"]["value"] == 7.0
    assert mqtt["steps"]["value"] == 3000 and mqtt["steps"]["attributes"]["local_day"] == "2025-03-10"
    assert (mqtt["problem"]["state"] == "ON") == bool(r["check"]["exit_code"])


def _same_freshness(r: dict) -> None:
    """Each resource's own newest record and staleness, the same for every reader."""

    def stamp(value):
        return None if value is None else datetime.fromisoformat(str(value)).astimezone(timezone.utc)

    status = {(x["source"], x["resource"]): (stamp(x["newest_record"]), x["stale"]) for x in r["status"]["resources"]}
    check = {(x["source"], x["resource"]): (stamp(x["newest_record"]), x["stale"]) for x in r["check"]["resources"]}
    page = {
        (row["source"], x["resource"]): (stamp(x["newest_record_at"]), x["stale"])
        for row in r["page"]["freshness"]
        for x in row["resources"]
    }
    mcp_fresh = {(x["source"], x["resource"]): (stamp(x["newest_record"]), x["stale"]) for x in r["mcp_fresh"]}
    assert status == check == page == mcp_fresh and len(status) == len(resources.RESOURCES)
    # The 2999 weigh-in says nothing about freshness; workouts, never received, are stale on every reader.
    assert status[("withings", "measures")][0] < NOW + timedelta(days=2)
    assert status[("whoop", "workout")] == (datetime(2025, 3, 1, 16, tzinfo=timezone.utc), True)
    flagged_by_check = {(p["source"], p["resource"]) for p in r["check"]["problems"] if p["kind"] == "stale"}
    assert (
        flagged_by_check
        == {key for key, (_, stale) in page.items() if stale}
        == {("whoop", "workout"), ("whoop", "body")}
    )


def _flagged_noted(r: dict) -> None:
    """A flagged value is left out of every latest, and every reader says flagged values exist."""
    assert [f["resource"] for f in r["status"]["flagged"]] == ["measures", "sleep_series"]  # the -1 minute
    assert r["status"]["flagged"] == r["check"]["flagged"]
    assert "flagged as implausible" in format_status(r["status"])
    withings = next(row for row in r["page"]["freshness"] if row["source"] == "withings")
    assert withings["flagged"] == r["mcp"]["flagged"] and "2 values flagged" in withings["flagged"][0]
