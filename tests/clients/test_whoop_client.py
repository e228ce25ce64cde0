"""WHOOP v2 client through `responses` (strict): paging, params, auth header, errors, refresh."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

import pytest
import requests
import responses
from responses import matchers

from api_clients.errors import ApiError, InvalidRequest, RateLimited, ReconnectRequired, TransientError
from api_clients.whoop import WhoopClient
from tests.conftest import shared_data
from tests.helpers.api import CLIENT_SECRET, OLD_ACCESS, OLD_REFRESH, WHOOP_URL, NoSleep, fixture, provider, store_with
from tests.helpers.factories import MAPPED_AT as NOW

CYCLE_URL = f"{WHOOP_URL}/developer/v2/cycle"
TOKEN_URL = f"{WHOOP_URL}/oauth/oauth2/token"
NEW = fixture("whoop/refresh_response.json")


def _client(store=None, **kw):
    sleep = kw.pop("sleep", NoSleep())
    return WhoopClient(provider("whoop"), store or store_with("whoop"), sleep=sleep, clock=sleep.clock, **kw)


def _auth(token):
    return matchers.header_matcher({"Authorization": f"Bearer {token}"})


def test_pages_to_the_end_with_the_right_parameters(mock):
    start = datetime(2025, 3, 1, tzinfo=timezone.utc)
    base = {"limit": "25", "start": "2025-03-01T00:00:00.000Z"}
    mock.get(
        CYCLE_URL,
        json=fixture("whoop/cycles_page_1.json"),
        match=[matchers.query_param_matcher(base), _auth(OLD_ACCESS["whoop"])],
    )
    mock.get(
        CYCLE_URL,
        json=fixture("whoop/cycles_page_2.json"),
        match=[matchers.query_param_matcher({**base, "nextToken": "MTIzOjEyMzEyMw"}), _auth(OLD_ACCESS["whoop"])],
    )
    pages = list(_client().iter_collection("/developer/v2/cycle", start=start))
    assert [len(p) for p in pages] == [2, 1]
    assert [r["id"] for p in pages for r in p] == [93848, 93847, 93846]


def test_end_is_sent_exclusive_in_utc(mock):
    end = datetime(2025, 3, 8, 1, 0, tzinfo=timezone.utc)
    mock.get(
        f"{WHOOP_URL}/developer/v2/activity/workout",
        json={"records": []},
        match=[matchers.query_param_matcher({"limit": "25", "end": "2025-03-08T01:00:00.000Z"})],
    )
    assert list(_client().iter_collection("/developer/v2/activity/workout", end=end)) == [[]]


def test_missing_next_token_means_done(mock):
    mock.get(f"{WHOOP_URL}/developer/v2/recovery", json=fixture("whoop/recovery_page.json"))
    pages = list(_client().iter_collection("/developer/v2/recovery"))
    assert len(pages) == 1 and "id" not in pages[0][0] and pages[0][0]["cycle_id"] == 93847


def test_openapi_examples_page_through(mock):
    spec = json.loads(shared_data("whoop_openapi_v2.json").read_text())
    schema = spec["components"]["schemas"]["Cycle"]["properties"]
    record = {k: v.get("example") for k, v in schema.items() if "example" in v}
    record["score"] = {k: v["example"] for k, v in spec["components"]["schemas"]["CycleScore"]["properties"].items()}
    mock.get(CYCLE_URL, json={"records": [record], "next_token": None})
    (page,) = list(_client().iter_collection("/developer/v2/cycle"))
    from mapping.whoop import cycle_to_row

    assert cycle_to_row(page[0], now=NOW)["whoop_id"] == record["id"]


def test_expired_token_is_refreshed_and_saved_before_use(mock):
    store = store_with("whoop", expired=True)
    mock.post(
        TOKEN_URL,
        json=NEW,
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "grant_type": "refresh_token",
                    "refresh_token": OLD_REFRESH["whoop"],
                    "client_id": "whoop-client",
                    "client_secret": CLIENT_SECRET,
                    "scope": "offline",
                }
            )
        ],
    )

    def check_saved(request):
        assert store.tokens["whoop"].access_token == NEW["access_token"]  # persisted first
        assert store.tokens["whoop"].refresh_token == NEW["refresh_token"]
        return (200, {}, json.dumps({"records": []}))

    mock.add_callback(responses.GET, CYCLE_URL, callback=check_saved, match=[_auth(NEW["access_token"])])
    list(_client(store).iter_collection("/developer/v2/cycle"))
    assert store.tokens["whoop"].user_id == 10129  # kept across the refresh


def test_401_refreshes_once_then_retries(mock):
    store = store_with("whoop")
    mock.get(CYCLE_URL, status=401, match=[_auth(OLD_ACCESS["whoop"])])
    mock.post(TOKEN_URL, json=NEW)
    mock.get(CYCLE_URL, json={"records": []}, match=[_auth(NEW["access_token"])])
    assert list(_client(store).iter_collection("/developer/v2/cycle")) == [[]]
    assert len(store.saves) == 1


def test_token_expiring_mid_pagination(mock):
    store = store_with("whoop")
    mock.get(CYCLE_URL, json=fixture("whoop/cycles_page_1.json"), match=[_auth(OLD_ACCESS["whoop"])])
    mock.get(CYCLE_URL, status=401, match=[_auth(OLD_ACCESS["whoop"])])
    mock.post(TOKEN_URL, json=NEW)
    mock.get(
        CYCLE_URL,
        json=fixture("whoop/cycles_page_2.json"),
        match=[
            _auth(NEW["access_token"]),
            matchers.query_param_matcher({"limit": "25", "nextToken": "MTIzOjEyMzEyMw"}),
        ],
    )
    assert sum(len(p) for p in _client(store).iter_collection("/developer/v2/cycle")) == 3


def test_invalid_grant_asks_to_reconnect(mock):
    mock.post(
        TOKEN_URL, status=400, json={"error": "invalid_grant", "error_description": "The refresh token is invalid"}
    )
    with pytest.raises(ReconnectRequired) as err:
        list(_client(store_with("whoop", expired=True)).iter_collection("/developer/v2/cycle"))
    assert "python etl.py connect whoop" in str(err.value)
    assert OLD_REFRESH["whoop"] not in str(err.value)


def test_429_waits_as_the_reset_header_says(mock):
    sleep = NoSleep()
    mock.get(CYCLE_URL, status=429, headers={"X-RateLimit-Reset": "17", "X-RateLimit-Remaining": "0"})
    mock.get(CYCLE_URL, json={"records": []})
    assert list(_client(sleep=sleep).iter_collection("/developer/v2/cycle")) == [[]]
    assert any(16 <= s <= 18.5 for s in sleep.calls), sleep.calls


def test_429_forever_gives_a_clear_error_within_the_wait_budget(mock):
    mock.get(CYCLE_URL, status=429, headers={"X-RateLimit-Reset": "60"})
    sleep = NoSleep()
    with pytest.raises(RateLimited, match="429"):
        list(_client(sleep=sleep, max_wait=300).iter_collection("/developer/v2/cycle"))
    assert sum(sleep.calls) <= 300


def test_500_is_retried_then_succeeds(mock):
    mock.get(CYCLE_URL, status=500)
    mock.get(CYCLE_URL, status=503)
    mock.get(CYCLE_URL, json={"records": []})
    sleep = NoSleep()
    assert list(_client(sleep=sleep).iter_collection("/developer/v2/cycle")) == [[]]
    assert len(sleep.calls) == 2 and sleep.calls[1] > sleep.calls[0] * 0.9


def test_persistent_500_gives_up(mock):
    mock.get(CYCLE_URL, status=500)
    with pytest.raises(TransientError, match="HTTP 500"):
        list(_client().iter_collection("/developer/v2/cycle"))


def test_dropped_connection_is_retried(mock):
    mock.get(CYCLE_URL, body=requests.ConnectionError("connection reset by peer"))
    mock.get(CYCLE_URL, json={"records": []})
    assert list(_client().iter_collection("/developer/v2/cycle")) == [[]]


def test_400_is_an_invalid_request(mock):
    mock.get(CYCLE_URL, status=400, json={"message": "limit must be <= 25"})
    with pytest.raises(InvalidRequest):
        list(_client().iter_collection("/developer/v2/cycle"))


def test_non_json_body_is_an_error_not_a_crash(mock):
    mock.get(CYCLE_URL, body="<html>oops</html>", status=200)
    with pytest.raises(ApiError):
        list(_client(max_wait=0).iter_collection("/developer/v2/cycle"))


def test_profile(mock):
    mock.get(
        f"{WHOOP_URL}/developer/v2/user/profile/basic",
        json={"user_id": 10129, "email": "a@b.c", "first_name": "A", "last_name": "B"},
    )
    assert _client().get_profile()["user_id"] == 10129


def test_pacing_keeps_100_per_minute_and_says_so_once(caplog):
    from api_clients.http import RateLimiter

    caplog.set_level(logging.INFO, logger="api_clients.http")
    sleep = NoSleep()
    limiter = RateLimiter(100, sleep.clock, sleep, "whoop")
    for _ in range(250):
        limiter.acquire()
    assert sum(sleep.calls) == pytest.approx(120)  # requests 101 and 201 wait for their minute
    waits = [r.getMessage() for r in caplog.records if "rate limit" in r.getMessage()]
    assert waits == ["whoop: rate limit (100 requests/minute): waiting 60s"] * 2
