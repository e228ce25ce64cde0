"""The sandbox serves many people: each token is one person's, and the rate limits are the app's."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sandbox import SandboxServer

NOW = datetime(2025, 3, 10, 9, 30, tzinfo=timezone.utc)
WINDOW_START = 1_741_600_800  # a multiple of 60: a minute window opens here
COLLECTIONS = (
    "/developer/v2/cycle",
    "/developer/v2/recovery",
    "/developer/v2/activity/sleep",
    "/developer/v2/activity/workout",
)


class Clock:
    """The rate windows' clock, moved only by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def crowd():
    """Three people with 40 days each, read-only."""
    with SandboxServer(people=3, days=40, seed=7, now=NOW) as sb:
        yield sb


def whoop_token(sb, person: int) -> str:
    creds = sb.whoop_credentials
    body = requests.post(
        f"{sb.url}/oauth/oauth2/token",
        timeout=5,
        data={
            "grant_type": "refresh_token",
            "refresh_token": sb.mint_refresh_token("whoop", person),
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        },
    ).json()
    return body["access_token"]


def withings_token(sb, person: int) -> dict:
    creds = sb.withings_credentials
    return requests.post(
        f"{sb.url}/v2/oauth2",
        timeout=5,
        data={
            "action": "requesttoken",
            "grant_type": "refresh_token",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "refresh_token": sb.mint_refresh_token("withings", person),
        },
    ).json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def whoop_get(sb, token: str, path: str, **params) -> requests.Response:
    return requests.get(f"{sb.url}{path}", headers=bearer(token), params=params, timeout=5)


def whoop_records(sb, token: str, path: str) -> list[dict]:
    records, following = [], None
    while True:
        page = whoop_get(sb, token, path, limit=25, **({"nextToken": following} if following else {})).json()
        records += page["records"]
        following = page.get("next_token")
        if not following:
            return records


def withings_post(sb, token: str, path: str, **form) -> dict:
    response = requests.post(f"{sb.url}{path}", headers=bearer(token), data=form, timeout=5)
    assert response.status_code == 200
    return response.json()


def whoop_fingerprint(sb, token: str) -> dict:
    return {path: whoop_records(sb, token, path) for path in COLLECTIONS}


def withings_fingerprint(sb, token: str) -> dict:
    return {
        "groups": withings_post(sb, token, "/measure", action="getmeas", lastupdate=0)["body"]["measuregrps"],
        "activity": withings_post(sb, token, "/v2/measure", action="getactivity", lastupdate=0)["body"],
        "sleep": withings_post(sb, token, "/v2/sleep", action="getsummary", lastupdate=0)["body"],
    }


# ---- distinct people ----


def test_two_people_have_different_user_ids_and_records(crowd):
    alice, bob = whoop_token(crowd, 1), whoop_token(crowd, 2)
    profiles = [whoop_get(crowd, token, "/developer/v2/user/profile/basic").json() for token in (alice, bob)]
    assert [p["user_id"] for p in profiles] == [crowd.people[1].whoop_user_id, crowd.people[2].whoop_user_id]
    assert profiles[0]["user_id"] != profiles[1]["user_id"] and profiles[0]["email"] != profiles[1]["email"]
    cycles = [whoop_records(crowd, token, "/developer/v2/cycle") for token in (alice, bob)]
    assert len(cycles[0]) == len(cycles[1]) == 40
    assert not {c["id"] for c in cycles[0]} & {c["id"] for c in cycles[1]}  # ids are unique across members
    assert [c["start"] for c in cycles[0]] != [c["start"] for c in cycles[1]]
    userids = [withings_token(crowd, person)["body"]["userid"] for person in (1, 2)]
    assert userids == [str(crowd.people[1].withings_userid), str(crowd.people[2].withings_userid)]


def test_one_persons_token_reads_only_that_persons_data(crowd):
    token = whoop_token(crowd, 1)
    mine = whoop_fingerprint(crowd, token)
    user_id = crowd.people[1].whoop_user_id
    assert all(record["user_id"] == user_id for records in mine.values() for record in records)
    assert {c["id"] for c in mine["/developer/v2/cycle"]} == {
        c["id"] for c in crowd.history_of(1).collections["cycle"].all()
    }
    someone_elses = crowd.history_of(0).collections["cycle"].newest(2)[1]
    assert whoop_get(crowd, whoop_token(crowd, 0), f"/developer/v2/cycle/{someone_elses['id']}").status_code == 200
    assert whoop_get(crowd, token, f"/developer/v2/cycle/{someone_elses['id']}").status_code == 404
    measures = withings_fingerprint(crowd, withings_token(crowd, 1)["body"]["access_token"])
    assert {g["grpid"] for g in measures["groups"]} == {g["grpid"] for g in crowd.history_of(1).groups}
    others = withings_fingerprint(crowd, withings_token(crowd, 2)["body"]["access_token"])
    assert not {g["grpid"] for g in measures["groups"]} & {g["grpid"] for g in others["groups"]}
    assert not {n["id"] for n in measures["sleep"]["series"]} & {n["id"] for n in others["sleep"]["series"]}
    assert measures["activity"] != others["activity"]


def test_a_refresh_or_revoke_of_one_person_leaves_the_others_tokens_alive():
    with SandboxServer(people=2, days=5, seed=3, now=NOW) as sb:
        first, second = whoop_token(sb, 0), whoop_token(sb, 1)
        whoop_token(sb, 1)  # person 1 refreshes again: only person 1's older access tokens die
        assert whoop_get(sb, second, "/developer/v2/cycle").status_code == 401
        assert whoop_get(sb, first, "/developer/v2/cycle").status_code == 200
        latest = whoop_token(sb, 1)
        revoked = requests.delete(f"{sb.url}/developer/v2/user/access", headers=bearer(latest), timeout=5)
        assert revoked.status_code == 204
        assert whoop_get(sb, latest, "/developer/v2/cycle").status_code == 401
        assert whoop_get(sb, first, "/developer/v2/cycle").status_code == 200


def test_the_signed_in_person_approves_the_authorization_code():
    with SandboxServer(people=3, days=5, seed=3, now=NOW) as sb:
        sb.sign_in(2)
        creds = sb.whoop_credentials
        redirect = requests.get(
            f"{sb.url}/oauth/oauth2/auth",
            allow_redirects=False,
            timeout=5,
            params={
                "response_type": "code",
                "client_id": creds.client_id,
                "redirect_uri": creds.redirect_uri,
                "scope": "offline read:profile",
                "state": "abcdefgh",
            },
        )
        code = parse_qs(urlsplit(redirect.headers["Location"]).query)["code"][0]
        tokens = requests.post(
            f"{sb.url}/oauth/oauth2/token",
            timeout=5,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": creds.redirect_uri,
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
            },
        ).json()
        profile = whoop_get(sb, tokens["access_token"], "/developer/v2/user/profile/basic").json()
        assert profile["user_id"] == sb.people[2].whoop_user_id == sb.credentials("whoop", 2).user_id
        assert [r["person"] for r in sb.requests if r["path"].startswith("/developer/")] == [2]
        with pytest.raises(KeyError, match="no sandbox person 3"):
            sb.sign_in(3)


# ---- one app-wide limit ----


def test_the_per_minute_limit_counts_the_requests_of_all_people_together():
    clock = Clock(WINDOW_START - 30)
    with SandboxServer(
        people=3, days=5, seed=3, now=NOW, whoop_rate_limit=5, withings_rate_limit=4, rate_clock=clock
    ) as sb:
        whoop = [whoop_token(sb, person) for person in range(3)]
        withings = [withings_token(sb, person)["body"]["access_token"] for person in range(3)]
        clock.now = WINDOW_START + 10  # a fresh minute for WHOOP and Withings alike
        answers = [whoop_get(sb, whoop[n % 3], "/developer/v2/cycle", limit=1) for n in range(6)]
        assert [a.status_code for a in answers] == [200] * 5 + [429]  # no person made more than 2
        assert answers[-1].headers["X-RateLimit-Remaining"] == "0" and answers[-1].headers["X-RateLimit-Reset"] == "50"
        assert answers[0].headers["X-RateLimit-Limit"] == "5, 5;window=60, 10000;window=86400"
        statuses = [
            withings_post(sb, withings[n % 3], "/measure", action="getmeas", meastype=1)["status"] for n in range(5)
        ]
        assert statuses == [0, 0, 0, 0, 601]
        assert [r["person"] for r in sb.requests if r["status"] == 429] == [2]
        clock.now = WINDOW_START + 60
        assert whoop_get(sb, whoop[2], "/developer/v2/cycle", limit=1).status_code == 200
        assert withings_post(sb, withings[1], "/measure", action="getmeas", meastype=1)["status"] == 0


def test_the_whoop_daily_limit_counts_all_people_and_renews_with_the_day():
    day_start = WINDOW_START - WINDOW_START % 86_400
    clock = Clock(day_start + 3600)
    with SandboxServer(people=2, days=5, seed=3, now=NOW, whoop_daily_limit=6, rate_clock=clock) as sb:
        tokens = [whoop_token(sb, person) for person in range(2)]  # 2 of the day's 6
        codes = []
        for minute in range(5):  # one request a minute, far below the minute limit
            clock.now = day_start + 3600 + 60 * (minute + 1)
            codes.append(whoop_get(sb, tokens[minute % 2], "/developer/v2/cycle", limit=1))
        assert [c.status_code for c in codes] == [200, 200, 200, 200, 429]
        assert codes[3].headers["X-RateLimit-Remaining"] == "0"
        assert int(codes[4].headers["X-RateLimit-Reset"]) == 86_400 - 3600 - 300
        assert codes[4].headers["X-RateLimit-Limit"] == "100, 100;window=60, 6;window=86400"
        clock.now = day_start + 86_400
        assert whoop_get(sb, tokens[1], "/developer/v2/cycle", limit=1).status_code == 200


# ---- one person is the sandbox of old; many stay small ----


def test_person_zero_of_a_crowd_is_the_single_member_of_old():
    def everything(**options):
        with SandboxServer(days=20, seed=5, now=NOW, **options) as sb:
            assert sb.state()["whoop"]["user_id"] == 10129 and sb.state()["withings"]["userid"] == 3141592
            whoop, withings = whoop_token(sb, 0), withings_token(sb, 0)
            return (
                whoop_fingerprint(sb, whoop),
                withings_fingerprint(sb, withings["body"]["access_token"]),
                whoop_get(sb, whoop, "/developer/v2/user/profile/basic").json(),
                withings["body"]["userid"],
                [(p.whoop_user_id, p.withings_userid) for p in sb.people],
            )

    alone, crowd = everything(), everything(people=4)
    assert alone[:4] == crowd[:4]
    assert (
        alone[2] == {"user_id": 10129, "email": "sam.sandbox@example.com", "first_name": "Sam", "last_name": "Sandbox"}
        and alone[3] == "3141592"
    )
    assert alone[4] == [(10129, 3141592)] and len(crowd[4]) == 4
    with SandboxServer(days=5, seed=5, now=NOW) as sb, pytest.raises(KeyError, match="people are 0..0"):
        sb.mint_refresh_token("whoop", person=1)


def test_histories_are_built_on_first_use_and_a_dropped_one_comes_back_the_same():
    with SandboxServer(people=200, days=30, seed=9, now=NOW, held_histories=2) as sb:
        assert sb.state()["people"] == {
            "count": 200,
            "held": 0,
            "pinned": 1,
            "built": 1,
            "signed_in": 0,
            "days_advanced": 0,
        }
        sb.advance_day()
        first = {n: whoop_fingerprint(sb, whoop_token(sb, n)) for n in (10, 11, 12)}
        assert sb.state()["people"]["held"] == 2  # person 10 was dropped for 12
        grpid = sb.add_weigh_in(77.7, person=11)  # a changed history is kept for good
        again = {n: whoop_fingerprint(sb, whoop_token(sb, n)) for n in (10, 12, 13, 14)}
        assert again[10] == first[10] and again[12] == first[12]
        assert len(again[10]["/developer/v2/cycle"]) == 31  # the day advanced before it was built
        assert sb.state()["people"] == {
            "count": 200,
            "held": 2,
            "pinned": 2,
            "built": 7,
            "signed_in": 0,
            "days_advanced": 1,
        }
        groups = withings_post(
            sb, withings_token(sb, 11)["body"]["access_token"], "/measure", action="getmeas", lastupdate=0
        )["body"]["measuregrps"]
        assert grpid in {g["grpid"] for g in groups}


def test_admin_endpoints_name_the_person():
    with SandboxServer(people=2, days=5, seed=3, now=NOW) as sb:
        people = requests.get(f"{sb.url}/_sandbox/people", timeout=5).json()["people"]
        assert [p["whoop_user_id"] for p in people] == [10129, 10130]
        minted = requests.post(f"{sb.url}/_sandbox/refresh-token?provider=withings&person=1", timeout=5).json()
        creds = sb.withings_credentials
        body = requests.post(
            f"{sb.url}/v2/oauth2",
            timeout=5,
            data={
                "action": "requesttoken",
                "grant_type": "refresh_token",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
                "refresh_token": minted["refresh_token"],
            },
        ).json()["body"]
        assert body["userid"] == "3141593"
        assert requests.post(f"{sb.url}/_sandbox/sign-in?person=5", timeout=5).status_code == 400
