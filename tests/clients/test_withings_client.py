"""Withings client through `responses` (strict): getmeas paging, every body status family, refresh."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from responses import matchers

from api_clients.errors import (
    ApiError,
    ClientRejected,
    InvalidRequest,
    NotImplementedByApi,
    RateLimited,
    ReconnectRequired,
    TransientError,
    Unauthorized,
)
from api_clients.withings import MEASTYPES, WithingsClient
from tests.conftest import shared_data
from tests.helpers.api import (
    CLIENT_SECRET,
    OLD_ACCESS,
    OLD_REFRESH,
    WITHINGS_URL,
    NoSleep,
    fixture,
    provider,
    store_with,
)

MEASURE_URL = f"{WITHINGS_URL}/measure"
TOKEN_URL = f"{WITHINGS_URL}/v2/oauth2"
NEW = fixture("withings/refresh_response.json")["body"]
BASE_PARAMS = {"action": "getmeas", "meastypes": ",".join(map(str, MEASTYPES)), "category": "1"}


def _client(store=None, **kw):
    sleep = kw.pop("sleep", NoSleep())
    return WithingsClient(
        provider("withings"), store or store_with("withings", user_id=3141592), sleep=sleep, clock=sleep.clock, **kw
    )


def _auth(token=OLD_ACCESS["withings"]):
    return matchers.header_matcher({"Authorization": f"Bearer {token}"})


def _ok(groups, more=0, offset=0, updatetime=1741500000):
    return {
        "status": 0,
        "body": {
            "updatetime": updatetime,
            "timezone": "Europe/Berlin",
            "measuregrps": groups,
            "more": more,
            "offset": offset,
        },
    }


def test_lastupdate_sync_follows_more_and_offset(mock):
    mock.post(
        MEASURE_URL,
        json=fixture("withings/getmeas_page_1.json"),
        match=[matchers.urlencoded_params_matcher({**BASE_PARAMS, "lastupdate": "1741000000"}), _auth()],
    )
    mock.post(
        MEASURE_URL,
        json=fixture("withings/getmeas_page_2.json"),
        match=[matchers.urlencoded_params_matcher({**BASE_PARAMS, "lastupdate": "1741000000", "offset": "2"}), _auth()],
    )
    pages = list(_client().iter_measure_pages("/measure", lastupdate=1741000000))
    assert [len(p.records) for p in pages] == [2, 1]
    assert pages[0].timezone == "Europe/Berlin" and pages[-1].updatetime == 1741500000


def test_date_window_when_asked(mock):
    mock.post(
        MEASURE_URL,
        json=_ok([]),
        match=[matchers.urlencoded_params_matcher({**BASE_PARAMS, "startdate": "10", "enddate": "20"})],
    )
    assert len(list(_client().iter_measure_pages("/measure", startdate=10, enddate=20))) == 1


def test_real_capture_split_over_pages(mock):
    groups = json.loads(shared_data("withings_getmeas_real_2021_2023.json").read_text())
    chunks = [groups[i : i + 500] for i in range(0, len(groups), 500)]
    for n, chunk in enumerate(chunks):
        more = n < len(chunks) - 1
        params = {**BASE_PARAMS, "lastupdate": "0", **({"offset": str(n * 500)} if n else {})}
        mock.post(
            MEASURE_URL,
            json=_ok(chunk, more=True if more else False, offset=(n + 1) * 500 if more else 0),
            match=[matchers.urlencoded_params_matcher(params)],
        )
    fetched = [g for page in _client().iter_measure_pages("/measure", lastupdate=0) for g in page.records]
    assert [g["grpid"] for g in fetched] == [g["grpid"] for g in groups]


@pytest.mark.parametrize(
    "status, error",
    [
        (100, ApiError),
        (200, ApiError),
        (201, InvalidRequest),
        (213, InvalidRequest),
        (503, InvalidRequest),
        (214, Unauthorized),
        (2553, Unauthorized),
        (2555, Unauthorized),
        (2554, NotImplementedByApi),
        (215, ApiError),
        (9000, ApiError),
    ],
)
def test_every_status_family_on_a_data_call(mock, status, error):
    if status in (100, 200):  # auth failures: one refresh, then the same status again
        mock.post(MEASURE_URL, json={"status": status, "body": {}})
        mock.post(TOKEN_URL, json=fixture("withings/refresh_response.json"))
    mock.post(MEASURE_URL, json={"status": status, "body": {}, "error": "something"})
    with pytest.raises(error) as err:
        list(_client().iter_measure_pages("/measure", lastupdate=0))
    assert str(status) in str(err.value) or status in (100, 200)
    assert not isinstance(err.value, ReconnectRequired)  # only a refused refresh token means re-connect


def test_601_rate_limit_is_retried_with_backoff(mock):
    sleep = NoSleep()
    mock.post(MEASURE_URL, json={"status": 601, "body": {}})
    mock.post(MEASURE_URL, json=_ok([]))
    assert len(list(_client(sleep=sleep).iter_measure_pages("/measure", lastupdate=0))) == 1
    assert sleep.calls and sleep.calls[0] >= 2


def test_601_forever_is_rate_limited(mock):
    mock.post(MEASURE_URL, json={"status": 601, "body": {}})
    with pytest.raises(RateLimited):
        list(_client().iter_measure_pages("/measure", lastupdate=0))


def test_522_is_transient_and_retried(mock):
    mock.post(MEASURE_URL, json={"status": 522, "body": {}})
    mock.post(MEASURE_URL, json=_ok([]))
    assert len(list(_client().iter_measure_pages("/measure", lastupdate=0))) == 1
    mock.post(MEASURE_URL, json={"status": 522, "body": {}})
    with pytest.raises(TransientError):
        list(_client(max_retries=0).iter_measure_pages("/measure", lastupdate=0))


def test_expired_access_token_in_a_200_body_refreshes_and_persists(mock):
    store = store_with("withings", user_id=None)
    mock.post(MEASURE_URL, json=fixture("withings/expired_access.json"), match=[_auth()])
    mock.post(
        TOKEN_URL,
        json=fixture("withings/refresh_response.json"),
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "action": "requesttoken",
                    "grant_type": "refresh_token",
                    "client_id": "withings-client",
                    "client_secret": CLIENT_SECRET,
                    "refresh_token": OLD_REFRESH["withings"],
                }
            )
        ],
    )

    def saved_first(request):
        assert store.tokens["withings"].refresh_token == NEW["refresh_token"]
        return (200, {}, json.dumps(_ok([])))

    mock.add_callback(responses.POST, MEASURE_URL, callback=saved_first, match=[_auth(NEW["access_token"])])
    list(_client(store).iter_measure_pages("/measure", lastupdate=0))
    assert store.tokens["withings"].user_id == 3141592


def test_token_expiring_mid_pagination(mock):
    store = store_with("withings")
    mock.post(MEASURE_URL, json=fixture("withings/getmeas_page_1.json"), match=[_auth()])
    mock.post(MEASURE_URL, json=fixture("withings/expired_access.json"), match=[_auth()])
    mock.post(TOKEN_URL, json=fixture("withings/refresh_response.json"))
    mock.post(MEASURE_URL, json=fixture("withings/getmeas_page_2.json"), match=[_auth(NEW["access_token"])])
    assert sum(len(p.records) for p in _client(store).iter_measure_pages("/measure", lastupdate=0)) == 3


@pytest.mark.parametrize("status", [503, 401])
def test_dead_refresh_token_asks_to_reconnect(mock, status):
    mock.post(TOKEN_URL, json={"status": status, "body": {}, "error": "invalid refresh_token"})
    with pytest.raises(ReconnectRequired) as err:
        list(_client(store_with("withings", expired=True)).iter_measure_pages("/measure", lastupdate=0))
    assert "python etl.py connect withings" in str(err.value)


def test_http_5xx_and_dropped_connection_are_retried(mock):
    mock.post(MEASURE_URL, status=502)
    mock.post(MEASURE_URL, body=requests.ConnectionError("reset"))
    mock.post(MEASURE_URL, json=_ok([]))
    assert len(list(_client().iter_measure_pages("/measure", lastupdate=0))) == 1


def test_more_without_a_new_offset_is_an_error_not_a_loop(mock):
    mock.post(MEASURE_URL, json=_ok([], more=1, offset=None))
    with pytest.raises(ApiError, match="offset"):
        list(_client().iter_measure_pages("/measure", lastupdate=0))


def test_a_wrong_client_secret_names_the_settings_not_a_reconnect(mock):
    mock.post(
        TOKEN_URL, json={"status": 503, "body": {}, "error": "Invalid Params: invalid client_id or client_secret"}
    )
    with pytest.raises(ClientRejected) as err:
        list(_client(store_with("withings", expired=True)).iter_measure_pages("/measure", lastupdate=0))
    assert "WITHINGS_CLIENT_ID and WITHINGS_CLIENT_SECRET in " in str(err.value) and "connect" not in str(err.value)
