"""Withings v2 actions and the WHOOP body measurement through strict `responses` mocks; scopes."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from responses import matchers

from api_clients.errors import ApiError, ScopeMissing
from api_clients.whoop import WhoopClient
from api_clients.withings import WithingsClient
from sync.resources import get
from sync.windows import Window
from tests.helpers.api import OLD_ACCESS, WHOOP_URL, WITHINGS_URL, NoSleep, fixture, provider, store_with

ACTIVITY_URL = f"{WITHINGS_URL}/v2/measure"
SLEEP_URL = f"{WITHINGS_URL}/v2/sleep"
BODY_URL = f"{WHOOP_URL}/developer/v2/user/measurement/body"
FIELDS = ",".join(get("withings", "activity").data_fields)


def _withings(scope="user.info,user.metrics,user.activity"):
    store = store_with("withings", user_id=3141592)
    store.tokens["withings"].scope = scope
    sleep = NoSleep()
    return WithingsClient(provider("withings"), store, sleep=sleep, clock=sleep.clock)


def _whoop(scope="offline read:cycles read:body_measurement"):
    store = store_with("whoop")
    store.tokens["whoop"].scope = scope
    return WhoopClient(provider("whoop"), store, sleep=NoSleep())


def _auth(name):
    return matchers.header_matcher({"Authorization": f"Bearer {OLD_ACCESS[name]}"})


def _params(**extra):
    return matchers.urlencoded_params_matcher(
        {"action": "getactivity", "lastupdate": "1773000000", "data_fields": FIELDS, **extra}
    )


def test_getactivity_pages_follow_more_and_offset_and_the_cursor_is_the_run_start(mock):
    last = {"status": 0, "body": {"activities": [], "more": False, "offset": 0}}
    mock.post(ACTIVITY_URL, json=fixture("withings/getactivity_page.json"), match=[_params(), _auth("withings")])
    mock.post(ACTIVITY_URL, json=last, match=[_params(offset="2"), _auth("withings")])
    window = Window(
        datetime.fromtimestamp(1773000000, timezone.utc),
        datetime.fromtimestamp(1773600000, timezone.utc),
        "incremental",
    )
    pages = list(get("withings", "activity").pages(_withings(), window))
    assert [len(p.records) for p in pages] == [2, 0]
    # getactivity carries no `updatetime`: the cursor is the window's end, the run's start.
    assert {p.updatetime for p in pages} == {1773600000}


def test_getsummary_page_shape(mock):
    mock.post(
        SLEEP_URL,
        json=fixture("withings/getsummary_page.json"),
        match=[matchers.urlencoded_params_matcher({"action": "getsummary", "lastupdate": "0"})],
    )
    pages = list(_withings().iter_action_pages("/v2/sleep", "getsummary", {"lastupdate": 0}, "series"))
    assert len(pages) == 1 and pages[0].records[0]["id"] == 2843019911 and pages[0].more is False


def test_more_without_a_new_offset_is_an_error_not_a_loop(mock):
    body = {"status": 0, "body": {"series": [], "more": True, "offset": 0}}
    mock.post(SLEEP_URL, json=body)
    with pytest.raises(ApiError, match="the offset must grow"):
        list(_withings().iter_action_pages("/v2/sleep", "getsummary", {"lastupdate": 0}, "series"))


def test_withings_insufficient_scope_is_scope_missing(mock):
    mock.post(
        SLEEP_URL,
        json={
            "status": 403,
            "body": {},
            "error": "XRequestID: Not provided insufficient_scope: The request requires higher privileges",
        },
    )
    with pytest.raises(ScopeMissing) as caught:
        list(
            _withings().iter_action_pages("/v2/sleep", "getsummary", {"lastupdate": 0}, "series", scope="user.activity")
        )
    assert caught.value.scope == "user.activity" and "python etl.py connect withings" in str(caught.value)


def test_a_token_without_the_scope_skips_before_any_request(mock):
    window = Window(None, datetime.now(timezone.utc), "full")
    with pytest.raises(ScopeMissing, match=r"re-connect withings to allow Withings daily activity \(steps"):
        next(get("withings", "activity").pages(_withings(scope="user.metrics"), window))
    with pytest.raises(ScopeMissing, match="re-connect withings to allow Withings sleep summaries: run") as sleep:
        next(get("withings", "sleep_summary").pages(_withings(scope="user.metrics"), window))
    assert "activity" not in str(sleep.value).replace("user.activity", "")  # its own words, not its scope's
    assert str(sleep.value).endswith("(the token lacks the `user.activity` scope)")  # no request was made
    with pytest.raises(ScopeMissing, match="re-connect whoop to allow WHOOP body measurements"):
        next(get("whoop", "body").pages(_whoop(scope="offline read:cycles"), window))


def test_whoop_body_measurement_and_its_403(mock):
    mock.get(BODY_URL, json=fixture("whoop/body_measurement.json"), match=[_auth("whoop")])
    mock.get(BODY_URL, status=403, json={"error": "insufficient_scope"})
    client = _whoop()
    assert client.get_object("/developer/v2/user/measurement/body")["max_heart_rate"] == 200
    with pytest.raises(ScopeMissing, match="read:body_measurement"):
        client.get_object("/developer/v2/user/measurement/body", scope="read:body_measurement")
