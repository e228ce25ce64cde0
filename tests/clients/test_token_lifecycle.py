"""Token lifecycle: the refresh margin scales with the lifetime; refused tokens are adopted or
refreshed a bounded number of times; only a refused refresh token asks to re-connect."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from responses import matchers

from api_clients.errors import ApiError, ReconnectRequired, reconnect_command
from api_clients.oauth import Token, refresh_margin
from api_clients.whoop import WhoopClient
from readers.read_model import needs_reconnect
from tests.helpers.api import (
    CLIENT_SECRET,
    OLD_ACCESS,
    OLD_REFRESH,
    WHOOP_URL,
    MemoryTokenStore,
    NoSleep,
    fixture,
    provider,
)

CYCLE_URL = f"{WHOOP_URL}/developer/v2/cycle"
TOKEN_URL = f"{WHOOP_URL}/oauth/oauth2/token"
NEW = fixture("whoop/refresh_response.json")


def _now():
    return datetime.now(timezone.utc)


def _auth(token):
    return matchers.header_matcher({"Authorization": f"Bearer {token}"})


def _form(refresh_token):
    return matchers.urlencoded_params_matcher(
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": "whoop-client",
            "client_secret": CLIENT_SECRET,
            "scope": "offline",
        }
    )


def _client(store):
    sleep = NoSleep()
    return WhoopClient(provider("whoop"), store, sleep=sleep, clock=sleep.clock)


def _store(access=OLD_ACCESS["whoop"], seconds_left=50.0, lifetime=60.0):
    return MemoryTokenStore(
        {
            "whoop": Token(
                access, OLD_REFRESH["whoop"], _now() + timedelta(seconds=seconds_left), "scope", 10129, lifetime
            )
        }
    )


def test_margin_is_a_tenth_of_a_short_lifetime_and_at_most_two_minutes():
    assert refresh_margin(1) == timedelta(seconds=0.1)
    assert refresh_margin(3600) == refresh_margin(None) == timedelta(seconds=120)
    one_second = Token("a", "r", _now() + timedelta(seconds=0.5), lifetime=1)
    assert not one_second.expired()  # used for most of its life, not refreshed on every request
    hour = Token("a", "r", _now() + timedelta(seconds=100), lifetime=3600)
    assert hour.expired()


def test_a_short_lived_token_is_used_without_refreshing(mock):
    mock.get(CYCLE_URL, json={"records": []}, match=[_auth(OLD_ACCESS["whoop"])])
    client = _client(_store(seconds_left=50, lifetime=60))
    for _ in range(3):
        assert list(client.iter_collection("/developer/v2/cycle")) == [[]]  # no token endpoint is mocked: no refresh


def test_a_401_on_a_token_replaced_elsewhere_adopts_the_current_one(mock):
    store = _store()
    client = _client(store)
    mock.get(CYCLE_URL, json={"records": []}, match=[_auth(OLD_ACCESS["whoop"])])
    assert list(client.iter_collection("/developer/v2/cycle")) == [[]]
    # Another process refreshes (WHOOP kills our access token) and stores a 60-second token.
    store.save(
        "whoop", Token("rotated-elsewhere-1", "rotated-refresh-1", _now() + timedelta(seconds=55), "scope", 10129)
    )
    mock.replace("GET", CYCLE_URL, status=401, match=[_auth(OLD_ACCESS["whoop"])])
    mock.get(CYCLE_URL, json={"records": [{"id": 1}]}, match=[_auth("rotated-elsewhere-1")])
    assert list(client.iter_collection("/developer/v2/cycle")) == [[{"id": 1}]]
    assert store.load("whoop").refresh_token == "rotated-refresh-1"  # adopted, not refreshed


def test_a_401_right_after_our_refresh_is_retried(mock):
    store = _store()
    second = {**NEW, "access_token": "second-access-789", "refresh_token": "second-refresh-789"}
    mock.get(CYCLE_URL, status=401, match=[_auth(OLD_ACCESS["whoop"])])
    mock.post(TOKEN_URL, json=NEW, match=[_form(OLD_REFRESH["whoop"])])
    mock.get(CYCLE_URL, status=401, match=[_auth(NEW["access_token"])])  # killed by a refresh elsewhere
    mock.post(TOKEN_URL, json=second, match=[_form(NEW["refresh_token"])])
    mock.get(CYCLE_URL, json={"records": []}, match=[_auth("second-access-789")])
    assert list(_client(store).iter_collection("/developer/v2/cycle")) == [[]]


def test_a_token_refused_again_and_again_is_an_api_error_not_a_reconnect(mock):
    mock.get(CYCLE_URL, status=401)
    mock.post(TOKEN_URL, json=NEW)
    with pytest.raises(ApiError) as err:
        list(_client(_store()).iter_collection("/developer/v2/cycle"))
    assert not isinstance(err.value, ReconnectRequired)
    assert "refused 3 access tokens" in str(err.value) and "connect" not in str(err.value)
    assert len([c for c in mock.calls if c.request.url.startswith(CYCLE_URL)]) == 3


def test_a_refused_refresh_token_is_the_reconnect_case(mock):
    mock.get(CYCLE_URL, status=401)
    mock.post(TOKEN_URL, status=400, json={"error": "invalid_grant"})
    with pytest.raises(ReconnectRequired, match=reconnect_command("whoop").replace(".", r"\.")):
        list(_client(_store()).iter_collection("/developer/v2/cycle"))


def test_reconnect_command_is_built_in_one_place():
    assert reconnect_command("withings") == "python etl.py connect withings"
    assert ReconnectRequired("withings", "x").command == reconnect_command("withings")


@pytest.mark.parametrize("what", ["refresh", "connect"])
def test_a_wrong_client_secret_names_the_settings_and_never_asks_to_reconnect(mock, what):
    mock.post(TOKEN_URL, status=401, json={"error": "invalid_client"})
    client = _client(_store())
    with pytest.raises(ApiError) as err:
        client.exchange_code("code") if what == "connect" else client.tokens.refresh(rejected=OLD_ACCESS["whoop"])
    message = str(err.value)
    assert not isinstance(err.value, ReconnectRequired) and "connect" not in message
    assert "WHOOP_CLIENT_ID and WHOOP_CLIENT_SECRET in " in message and ".env" in message
    assert not needs_reconnect("whoop", message)  # `accounts` and `status --check` keep the token alive
