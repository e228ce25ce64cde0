"""The sandbox stand-ins, exercised with plain HTTP requests against an in-process server."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sandbox import SandboxServer
from sandbox.history import History

PROJECT_DIR = Path(__file__).resolve().parents[2]
NOW = datetime(2025, 3, 10, 9, 30, tzinfo=timezone.utc)
COLLECTIONS = {
    "cycle": "/developer/v2/cycle",
    "recovery": "/developer/v2/recovery",
    "sleep": "/developer/v2/activity/sleep",
    "workout": "/developer/v2/activity/workout",
}


@pytest.fixture(scope="module")
def shared():
    """A read-only server shared by the tests that do not change its state."""
    with SandboxServer(days=120, seed=7, now=NOW) as sb:
        yield sb


@pytest.fixture
def sb():
    """A fresh server for tests that advance the clock, mutate data or inject faults."""
    with SandboxServer(days=60, seed=11, now=NOW, withings_page_size=50) as server:
        yield server


def whoop_refresh(sb, refresh_token: str) -> requests.Response:
    creds = sb.whoop_credentials
    return requests.post(
        f"{sb.url}/oauth/oauth2/token",
        timeout=5,
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "scope": "offline",
        },
    )


def whoop_headers(sb) -> dict[str, str]:
    token = whoop_refresh(sb, sb.mint_refresh_token("whoop")).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def withings_refresh(sb, refresh_token: str) -> dict:
    creds = sb.withings_credentials
    return requests.post(
        f"{sb.url}/v2/oauth2",
        timeout=5,
        data={
            "action": "requesttoken",
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        },
    ).json()


def withings_headers(sb) -> dict[str, str]:
    token = withings_refresh(sb, sb.mint_refresh_token("withings"))["body"]["access_token"]
    return {"Authorization": f"Bearer {token}"}


def getmeas(sb, headers, **params) -> dict:
    response = requests.post(f"{sb.url}/measure", headers=headers, timeout=5, data={"action": "getmeas", **params})
    assert response.status_code == 200  # Withings errors are HTTP 200 too
    return response.json()


def all_pages(sb, headers, path: str, **params) -> list[dict]:
    records, token = [], None
    while True:
        query = {**params, **({"nextToken": token} if token else {})}
        response = requests.get(f"{sb.url}{path}", headers=headers, params=query, timeout=5)
        assert response.status_code == 200, response.text
        records += response.json()["records"]
        token = response.json().get("next_token")
        if not token:
            return records


def record_key(record: dict):
    return record.get("id", record.get("cycle_id"))


# ---- WHOOP collections ----


@pytest.mark.parametrize("resource", sorted(COLLECTIONS))
def test_whoop_paging_to_the_end_has_no_duplicates(shared, resource):
    headers = whoop_headers(shared)
    records = all_pages(shared, headers, COLLECTIONS[resource], limit=25)
    keys = [record_key(r) for r in records]
    assert len(keys) == len(set(keys)) == len(shared.history.collections[resource])
    if resource != "recovery":
        starts = [r["start"] for r in records]
        assert starts == sorted(starts, reverse=True)  # newest first


def test_whoop_default_limit_and_limit_bounds(shared):
    headers = whoop_headers(shared)
    url = f"{shared.url}/developer/v2/cycle"
    assert len(requests.get(url, headers=headers, timeout=5).json()["records"]) == 10
    assert len(requests.get(url, headers=headers, params={"limit": 25}, timeout=5).json()["records"]) == 25
    for bad in (26, 0, "ten"):
        assert requests.get(url, headers=headers, params={"limit": bad}, timeout=5).status_code == 400
    assert requests.get(url, headers=headers, params={"nextToken": "@@"}, timeout=5).status_code == 400


def test_whoop_start_is_inclusive_and_end_exclusive(shared):
    headers = whoop_headers(shared)
    cycles = all_pages(shared, headers, COLLECTIONS["cycle"], limit=25)
    middle = cycles[20]["start"]
    later = all_pages(shared, headers, COLLECTIONS["cycle"], limit=25, start=middle)
    earlier = all_pages(shared, headers, COLLECTIONS["cycle"], limit=25, end=middle)
    assert later[-1]["start"] == middle and len(later) == 21
    assert all(c["start"] < middle for c in earlier) and len(earlier) == len(cycles) - 21


def test_whoop_recovery_filters_on_its_sleeps_start(shared):
    headers = whoop_headers(shared)
    sleeps = [s for s in all_pages(shared, headers, COLLECTIONS["sleep"], limit=25) if not s["nap"]]
    window = {"start": sleeps[5]["start"], "end": sleeps[2]["start"]}
    recoveries = all_pages(shared, headers, COLLECTIONS["recovery"], limit=25, **window)
    assert [r["sleep_id"] for r in recoveries] == [s["id"] for s in sleeps[3:6]]


def test_whoop_record_shapes_follow_the_v2_spec(shared):
    headers = whoop_headers(shared)
    cycle, older = requests.get(
        f"{shared.url}/developer/v2/cycle", headers=headers, params={"limit": 2}, timeout=5
    ).json()["records"]
    assert cycle["score_state"] == "PENDING_SCORE" and "score" not in cycle and "end" not in cycle
    assert older["score_state"] == "SCORED" and set(older["score"]) == {
        "strain",
        "kilojoule",
        "average_heart_rate",
        "max_heart_rate",
    }
    workout = requests.get(
        f"{shared.url}/developer/v2/activity/workout", headers=headers, params={"limit": 25}, timeout=5
    ).json()["records"][-1]
    assert len(workout["id"]) == 36 and isinstance(workout["sport_name"], str)
    assert set(workout["score"]["zone_durations"]) == {
        f"zone_{z}_milli" for z in ("zero", "one", "two", "three", "four", "five")
    }
    recovery = requests.get(
        f"{shared.url}/developer/v2/cycle/{older['id']}/recovery", headers=headers, timeout=5
    ).json()
    assert "id" not in recovery and recovery["cycle_id"] == older["id"]


def test_whoop_profile_body_and_auth_errors(shared):
    headers = whoop_headers(shared)
    profile = requests.get(f"{shared.url}/developer/v2/user/profile/basic", headers=headers, timeout=5)
    body = requests.get(f"{shared.url}/developer/v2/user/measurement/body", headers=headers, timeout=5)
    assert profile.json()["user_id"] == 10129 and 60 < body.json()["weight_kilogram"] < 100
    unauthorized = requests.get(f"{shared.url}/developer/v2/cycle", timeout=5, headers={"Authorization": "Bearer nope"})
    assert unauthorized.status_code == 401
    assert unauthorized.headers["X-RateLimit-Limit"] == "100, 100;window=60, 10000;window=86400"
    assert int(unauthorized.headers["X-RateLimit-Reset"]) > 0
    assert requests.get(f"{shared.url}/developer/v1/recovery", headers=headers, timeout=5).status_code == 404


# ---- OAuth ----


def test_whoop_refresh_rotation_kills_the_old_tokens(sb):
    first = whoop_refresh(sb, sb.mint_refresh_token("whoop")).json()
    second = whoop_refresh(sb, first["refresh_token"]).json()
    assert second["token_type"] == "bearer" and second["expires_in"] == 3600
    assert second["refresh_token"] != first["refresh_token"]
    reused = whoop_refresh(sb, first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    url = f"{sb.url}/developer/v2/cycle"
    assert requests.get(url, headers={"Authorization": f"Bearer {first['access_token']}"}, timeout=5).status_code == 401
    assert (
        requests.get(url, headers={"Authorization": f"Bearer {second['access_token']}"}, timeout=5).status_code == 200
    )


def test_whoop_wrong_client_secret_is_401(sb):
    response = requests.post(
        f"{sb.url}/oauth/oauth2/token",
        timeout=5,
        data={
            "grant_type": "refresh_token",
            "refresh_token": sb.mint_refresh_token("whoop"),
            "client_id": sb.whoop_credentials.client_id,
            "client_secret": "wrong",
        },
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("scope, gets_refresh_token", [("offline read:cycles", True), ("read:cycles", False)])
def test_whoop_authorize_redirects_with_a_code(sb, scope, gets_refresh_token):
    creds = sb.whoop_credentials
    redirect = requests.get(
        f"{sb.url}/oauth/oauth2/auth",
        allow_redirects=False,
        timeout=5,
        params={
            "response_type": "code",
            "client_id": creds.client_id,
            "redirect_uri": creds.redirect_uri,
            "scope": scope,
            "state": "abcdefgh",
        },
    )
    assert redirect.status_code == 302
    location = urlsplit(redirect.headers["Location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == creds.redirect_uri
    assert query["state"] == ["abcdefgh"]
    tokens = requests.post(
        f"{sb.url}/oauth/oauth2/token",
        timeout=5,
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": creds.redirect_uri,
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        },
    ).json()
    assert ("refresh_token" in tokens) is gets_refresh_token and tokens["scope"] == scope


def test_withings_refresh_token_dies_when_the_new_access_token_is_used(sb):
    old = sb.mint_refresh_token("withings")
    new = withings_refresh(sb, old)
    assert new["status"] == 0 and new["body"]["expires_in"] == 10800 and new["body"]["userid"] == "3141592"
    assert withings_refresh(sb, old)["status"] == 0  # still alive: the new access token is unused
    headers = {"Authorization": f"Bearer {new['body']['access_token']}"}
    assert getmeas(sb, headers, meastype=1)["status"] == 0
    assert withings_refresh(sb, old)["status"] == 503


def test_withings_old_refresh_token_dies_after_eight_hours(sb):
    old = sb.mint_refresh_token("withings")
    assert withings_refresh(sb, old)["status"] == 0
    sb.advance_token_clock(8 * 3600 + 1)
    assert withings_refresh(sb, old)["status"] == 503


def test_withings_authorize_and_code_exchange(sb):
    creds = sb.withings_credentials
    redirect = requests.get(
        f"{sb.url}/oauth2_user/authorize2",
        allow_redirects=False,
        timeout=5,
        params={
            "response_type": "code",
            "client_id": creds.client_id,
            "redirect_uri": creds.redirect_uri,
            "scope": "user.metrics,user.activity",
            "state": "xyz",
        },
    )
    code = parse_qs(urlsplit(redirect.headers["Location"]).query)["code"][0]
    exchange = {
        "action": "requesttoken",
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": creds.redirect_uri,
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
    }
    first = requests.post(f"{sb.url}/v2/oauth2", data=exchange, timeout=5)
    assert first.json()["status"] == 0 and first.json()["body"]["token_type"] == "Bearer"
    again = requests.post(f"{sb.url}/v2/oauth2", data=exchange, timeout=5)
    assert again.status_code == 200 and again.json()["status"] == 503  # codes are single-use


# ---- Withings getmeas ----


def test_withings_offset_paging_returns_every_group_once(sb):
    headers = withings_headers(sb)
    grpids, offset, pages = [], 0, 0
    while True:
        body = getmeas(sb, headers, lastupdate=0, offset=offset)["body"]
        grpids += [g["grpid"] for g in body["measuregrps"]]
        pages += 1
        if not body["more"]:
            break
        offset = body["offset"]
    assert pages > 1 and body["offset"] == 0
    assert len(grpids) == len(set(grpids)) == len(sb.history.groups)


def test_withings_lastupdate_and_date_window(sb):
    headers = withings_headers(sb)
    groups = sorted(sb.history.groups, key=lambda g: g["modified"])
    cutoff = groups[-10]["modified"]
    recent = getmeas(sb, headers, lastupdate=cutoff)["body"]["measuregrps"]
    assert {g["grpid"] for g in recent} == {g["grpid"] for g in groups if g["modified"] >= cutoff}
    dates = sorted(g["date"] for g in groups)
    window = getmeas(sb, headers, startdate=dates[5], enddate=dates[15])["body"]["measuregrps"]
    assert all(dates[5] <= g["date"] <= dates[15] for g in window) and len(window) >= 11
    assert [g["date"] for g in window] == sorted((g["date"] for g in window), reverse=True)


def test_withings_meastype_narrows_measures(sb):
    body = getmeas(sb, withings_headers(sb), meastypes="9,10")["body"]
    assert body["measuregrps"] and body["timezone"] == "Europe/Berlin"
    assert all({m["type"] for m in g["measures"]} == {9, 10} for g in body["measuregrps"])


def test_withings_errors_are_http_200_with_a_status(sb):
    invalid = getmeas(sb, {"Authorization": "Bearer expired"}, lastupdate=0)
    assert invalid["status"] == 401 and "invalid_token" in invalid["error"]
    assert getmeas(sb, withings_headers(sb), action="getnothing")["status"] == 2554
    assert withings_refresh(sb, "never-issued")["status"] == 503


def test_withings_generated_groups_look_real(shared):
    groups = shared.history.groups
    kinds = {tuple(sorted(m["type"] for m in g["measures"])) for g in groups}
    assert {(1, 5, 6, 8, 76, 77, 88), (9, 10, 11)} <= kinds and (91, 155) in kinds
    manual = [g for g in groups if g["attrib"] == 2]
    assert manual and all(g["deviceid"] is None and g["modelid"] is None for g in manual)
    weights = [m["value"] * 10 ** m["unit"] for g in groups for m in g["measures"] if m["type"] == 1]
    assert 70 < sum(weights) / len(weights) < 90
    assert 1.0 < len(groups) / 120 < 1.6


# ---- The virtual clock and mutations ----


def test_advance_day_scores_the_pending_day_and_adds_a_new_one(sb):
    headers = whoop_headers(sb)
    url = f"{sb.url}/developer/v2/cycle"
    pending = requests.get(url, headers=headers, params={"limit": 1}, timeout=5).json()["records"][0]
    sleeps_before = len(sb.history.collections["sleep"])
    summary = requests.post(f"{sb.url}/_sandbox/advance", params={"days": 1}, timeout=5).json()
    newest, scored = requests.get(url, headers=headers, params={"limit": 2}, timeout=5).json()["records"]
    assert scored["id"] == pending["id"] and scored["score_state"] in ("SCORED", "UNSCORABLE")
    assert scored["updated_at"] > pending["updated_at"] and "end" in scored
    assert newest["id"] == summary["advanced"][0]["cycle_id"] and newest["score_state"] == "PENDING_SCORE"
    assert len(sb.history.collections["sleep"]) > sleeps_before
    recovery = requests.get(f"{sb.url}/developer/v2/recovery", headers=headers, params={"limit": 1}, timeout=5).json()[
        "records"
    ][0]
    assert recovery["cycle_id"] == newest["id"] and recovery["score_state"] == "PENDING_SCORE"


def test_every_advanced_day_brings_a_workout_and_a_synced_weigh_in(sb):
    for summary in sb.advance_day(days=8):
        day_end = sb.history.person.day_end(datetime.fromisoformat(summary["day"]).date())
        assert summary["workouts"] >= 1
        assert any(
            g["measures"][0]["type"] == 1
            and day_end - timedelta(days=1) < datetime.fromtimestamp(g["date"], timezone.utc) <= day_end
            for g in sb.history.groups
        )
    now = sb.history.now.timestamp()
    assert all(g["created"] <= now for g in sb.history.groups)  # nothing shows up before it synced


def test_rescore_latest_changes_scores_and_updated_at(sb):
    headers = whoop_headers(sb)
    url = f"{sb.url}/developer/v2/recovery"
    before = requests.get(url, headers=headers, params={"limit": 2}, timeout=5).json()["records"][1]
    cycle_id = requests.post(f"{sb.url}/_sandbox/rescore", timeout=5).json()["cycle_id"]
    after = requests.get(url, headers=headers, params={"limit": 2}, timeout=5).json()["records"][1]
    assert cycle_id == before["cycle_id"] == after["cycle_id"]
    assert after["updated_at"] > before["updated_at"]
    assert after.get("score") != before.get("score") or before["score_state"] == "UNSCORABLE"


def test_weigh_in_and_edit_show_up_through_lastupdate(sb):
    headers = withings_headers(sb)
    updatetime = getmeas(sb, headers, lastupdate=0)["body"]["updatetime"]
    added = requests.post(f"{sb.url}/_sandbox/weigh-in", params={"kg": 81.2}, timeout=5).json()["grpid"]
    assert added > max(g["grpid"] for g in sb.history.groups if g["grpid"] != added)
    fresh = getmeas(sb, headers, lastupdate=updatetime)["body"]
    assert [g["grpid"] for g in fresh["measuregrps"]] == [added]
    weight = next(m for m in fresh["measuregrps"][0]["measures"] if m["type"] == 1)
    assert weight["value"] * 10 ** weight["unit"] == pytest.approx(81.2)
    old = min(
        sb.history.groups,
        key=lambda g: g["date"] if g["attrib"] == 0 and g["measures"][0]["type"] == 1 else float("inf"),
    )
    edited = requests.post(
        f"{sb.url}/_sandbox/edit-weigh-in", params={"grpid": old["grpid"], "kg": 77.7}, timeout=5
    ).json()
    assert edited["modified"] > fresh["updatetime"]
    changed = getmeas(sb, headers, lastupdate=fresh["updatetime"] + 1)["body"]["measuregrps"]
    assert [g["grpid"] for g in changed] == [old["grpid"]] and changed[0]["modified"] > changed[0]["created"]
    assert changed[0]["measures"][0]["value"] == 77700


def test_manual_weigh_in_has_no_device(sb):
    grpid = sb.add_weigh_in(80.4, manual=True)
    group = next(g for g in sb.history.groups if g["grpid"] == grpid)
    assert group["attrib"] == 2 and group["deviceid"] is None and len(group["measures"]) == 1


def test_admin_refresh_token_state_and_request_log(sb):
    token = requests.post(f"{sb.url}/_sandbox/refresh-token", params={"provider": "whoop"}, timeout=5).json()
    access = whoop_refresh(sb, token["refresh_token"]).json()["access_token"]
    requests.get(
        f"{sb.url}/developer/v2/cycle", params={"limit": 5}, timeout=5, headers={"Authorization": f"Bearer {access}"}
    )
    log = requests.get(f"{sb.url}/_sandbox/requests", timeout=5).json()["requests"]
    assert [(e["method"], e["path"]) for e in log] == [("POST", "/oauth/oauth2/token"), ("GET", "/developer/v2/cycle")]
    assert log[1]["query"] == {"limit": "5"} and log[1]["status"] == 200
    requests.post(f"{sb.url}/_sandbox/clear-requests", timeout=5)
    assert sb.requests == []
    state = requests.get(f"{sb.url}/_sandbox/state", timeout=5).json()
    assert state["whoop"]["user_id"] == 10129 and state["withings"]["userid"] == 3141592
    assert requests.post(f"{sb.url}/_sandbox/weigh-in", timeout=5).status_code == 400  # kg missing
    env = sb.environment()
    assert env["WHOOP_API_BASE_URL"] == sb.url and env["WITHINGS_REFRESH_TOKEN"]


# ---- Faults ----


def test_fault_rate_limit_then_recovers(sb):
    headers = whoop_headers(sb)
    requests.post(
        f"{sb.url}/_sandbox/fault",
        json={"kind": "rate_limit", "path": "/developer/v2/cycle", "times": 1, "reset": 7},
        timeout=5,
    )
    limited = requests.get(f"{sb.url}/developer/v2/cycle", headers=headers, timeout=5)
    assert limited.status_code == 429 and limited.headers["X-RateLimit-Reset"] == "7"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert requests.get(f"{sb.url}/developer/v2/cycle", headers=headers, timeout=5).status_code == 200


def test_fault_http_error_only_on_its_path(sb):
    headers = whoop_headers(sb)
    sb.add_fault("http_error", "/developer/v2/recovery", status=503, times=2)
    for _ in range(2):
        assert requests.get(f"{sb.url}/developer/v2/recovery", headers=headers, timeout=5).status_code == 503
    assert requests.get(f"{sb.url}/developer/v2/cycle", headers=headers, timeout=5).status_code == 200
    assert requests.get(f"{sb.url}/developer/v2/recovery", headers=headers, timeout=5).status_code == 200


def test_fault_dropped_connection(sb):
    sb.add_fault("drop", "/measure", times=1)
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{sb.url}/measure", data={"action": "getmeas"}, timeout=5)
    assert sb.requests[-1]["status"] is None and sb.requests[-1]["fault"] == "drop"
    assert getmeas(sb, withings_headers(sb), meastype=1)["status"] == 0


@pytest.mark.parametrize("status", [601, 401, 522, 503])
def test_fault_withings_body_status(sb, status):
    headers = withings_headers(sb)
    sb.add_fault("withings_status", "/measure", status=status, times=1)
    assert getmeas(sb, headers, meastype=1)["status"] == status
    assert getmeas(sb, headers, meastype=1)["status"] == 0


def test_fault_latency_and_probability(sb):
    headers = whoop_headers(sb)
    sb.add_fault("latency", "/developer/", ms=150)
    started = time.monotonic()
    requests.get(f"{sb.url}/developer/v2/user/profile/basic", headers=headers, timeout=5)
    assert time.monotonic() - started >= 0.15
    sb.reset_faults()
    sb.add_fault("http_error", "/developer/v2/cycle", status=500, probability=0.5)
    codes = [requests.get(f"{sb.url}/developer/v2/cycle", headers=headers, timeout=5).status_code for _ in range(40)]
    assert 5 < codes.count(500) < 35 and codes.count(200) == 40 - codes.count(500)


def test_enforced_rate_limits():
    with SandboxServer(days=5, seed=1, now=NOW, whoop_rate_limit=3, withings_rate_limit=2) as sb:
        codes = [requests.get(f"{sb.url}/developer/v2/cycle", timeout=5).status_code for _ in range(4)]
        assert codes[:3] == [401, 401, 401] and codes[3] == 429
        statuses = [getmeas(sb, {}, meastype=1)["status"] for _ in range(3)]
        assert statuses == [401, 401, 601]


# ---- Determinism, speed, command line ----


def test_same_seed_same_history_different_seed_differs():
    def fingerprint(seed):
        history = History(seed=seed, days=90, now=NOW)
        return [history.collections[name].newest(90) for name in sorted(history.collections)], history.groups

    assert fingerprint(5) == fingerprint(5)
    assert fingerprint(5) != fingerprint(6)


def test_same_seed_same_http_responses():
    bodies = []
    for _ in range(2):
        with SandboxServer(days=30, seed=3, now=NOW) as sb:
            headers = whoop_headers(sb)
            bodies.append(
                (
                    requests.get(
                        f"{sb.url}/developer/v2/activity/sleep", headers=headers, params={"limit": 25}, timeout=5
                    ).text,
                    requests.post(
                        f"{sb.url}/measure",
                        headers=withings_headers(sb),
                        timeout=5,
                        data={"action": "getmeas", "lastupdate": 0},
                    ).text,
                )
            )
    assert bodies[0] == bodies[1]


def test_ten_years_of_history_hold_one_cycle_a_day():
    # How fast it generates is a benchmark's question (bench/), never a test's.
    history = History(seed=42, days=3650, now=NOW)
    assert len(history.collections["cycle"]) == 3650


def test_command_line_prints_its_url_and_serves():
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", "0", "--days", "10", "--seed", "2"],
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        url = line.split()[-1]
        assert line.startswith("sandbox listening on http://127.0.0.1:")
        assert requests.get(f"{url}/_sandbox/state", timeout=5).json()["seed"] == 2
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_lastupdate_read_skips_only_records_it_would_filter_out():
    # The sandbox builds only the days a `lastupdate` may select (so a routine read costs the same
    # for 10 years as for 2); what it answers must be exactly the full list filtered.
    from sandbox.withings_daily import WithingsDaily

    daily = WithingsDaily(History(seed=5, days=90, now=NOW))
    old = NOW.date() - timedelta(days=60)
    daily.edit_activity(old, 4321)
    daily.edit_sleep_score(old, 77)
    for days_back in (0, 1, 2, 7, 30, 120):
        since = int((NOW - timedelta(days=days_back)).timestamp())
        for path, action, key in (("/v2/measure", "getactivity", "activities"), ("/v2/sleep", "getsummary", "series")):
            everything = daily.query(path, {"action": action, "startdateymd": "2000-01-01", "enddateymd": "2100-01-01"})
            expected = [r for r in everything[1] if r["modified"] >= since]
            assert daily.query(path, {"action": action, "lastupdate": str(since)}) == (key, expected)
