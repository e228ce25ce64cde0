"""The Withings client's notification calls through `responses` (strict): list, subscribe, revoke, and their errors."""

from __future__ import annotations

import pytest
from responses import matchers

from api_clients.errors import ApiError, InvalidRequest
from api_clients.withings import WithingsClient
from tests.helpers.api import OLD_ACCESS, WITHINGS_URL, NoSleep, fixture, provider, store_with

NOTIFY_URL = f"{WITHINGS_URL}/notify"
CALLBACK = "https://push.example.org/webhooks/withings/Xq3vT9mKp2Lw8Zr5Nb7Yc4Hd6Jf1Gs0A"
AUTH = matchers.header_matcher({"Authorization": f"Bearer {OLD_ACCESS['withings']}"})


def _client() -> WithingsClient:
    sleep = NoSleep()
    return WithingsClient(provider("withings"), store_with("withings", user_id=3141592), sleep=sleep, clock=sleep.clock)


def test_list_returns_every_profile(mock):
    mock.post(
        NOTIFY_URL,
        json=fixture("withings/notify_list.json"),
        match=[AUTH, matchers.urlencoded_params_matcher({"action": "list"})],
    )
    profiles = _client().fetch_subscriptions()
    assert [(p["appli"], p["callbackurl"]) for p in profiles] == [
        (1, CALLBACK),
        (44, "https://other.example.net/withings"),
    ]


def test_subscribe_and_revoke_send_the_url_and_the_category(mock):
    subscribe = {"action": "subscribe", "callbackurl": CALLBACK, "appli": "50", "comment": "whoop-etl"}
    revoke = {"action": "revoke", "callbackurl": CALLBACK, "appli": "50"}
    mock.post(NOTIFY_URL, json={"status": 0, "body": {}}, match=[AUTH, matchers.urlencoded_params_matcher(subscribe)])
    mock.post(NOTIFY_URL, json={"status": 0, "body": {}}, match=[AUTH, matchers.urlencoded_params_matcher(revoke)])
    client = _client()
    client.subscribe(CALLBACK, 50, comment="whoop-etl")
    client.revoke(CALLBACK, 50)


@pytest.mark.parametrize(
    ("answer", "error", "text"),
    [
        ({"status": 293, "body": {}, "error": "callback check failed"}, ApiError, "status 293"),
        ({"status": 503, "body": {}, "error": "Invalid Params"}, ApiError, "status 503"),
        ({"status": 2554, "body": {}}, ApiError, "status 2554"),
        ({"status": 205, "body": {}}, InvalidRequest, "status 205"),
    ],
)
def test_a_refusal_inside_http_200_is_an_error_naming_its_status(mock, answer, error, text):
    mock.post(NOTIFY_URL, json=answer)
    with pytest.raises(error, match=text) as refused:
        _client().subscribe(CALLBACK, 1)
    assert "/notify" in str(refused.value)


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"profile": []}, "no profiles list"),
        ({"profiles": [{"appli": "weight", "callbackurl": CALLBACK}]}, "without a numeric appli"),
        ({"profiles": [{"appli": 1}]}, "or a callbackurl"),
    ],
)
def test_a_list_of_another_shape_is_an_error(mock, body, text):
    mock.post(NOTIFY_URL, json={"status": 0, "body": body})
    with pytest.raises(ApiError, match=text):
        _client().fetch_subscriptions()
