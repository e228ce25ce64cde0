"""The sandbox's hostile-server faults drive the real clients into their bounds."""

from __future__ import annotations

import time

import pytest
import requests

from api_clients.errors import ApiError, RateLimited, TransientError
from api_clients.oauth import Token
from api_clients.whoop import WhoopClient
from api_clients.withings import WithingsClient
from configuration.settings import ProviderSettings
from tests.helpers.api import MemoryTokenStore, NoSleep


def _client(sandbox, name, sleep=None, **kw):
    creds = sandbox.whoop_credentials if name == "whoop" else sandbox.withings_credentials
    settings = ProviderSettings(
        name, creds.api_base_url, creds.auth_base_url, creds.redirect_uri, creds.client_id, creds.client_secret
    )
    store = MemoryTokenStore({name: Token("", sandbox.mint_refresh_token(name), None)})
    sleep = sleep or NoSleep()
    cls = WhoopClient if name == "whoop" else WithingsClient
    return cls(settings, store, sleep=sleep, clock=sleep.clock, **kw)


def test_repeat_token_fault_ends_whoop_paging(sandbox):
    sandbox.add_fault("repeat_token", "/developer/v2/cycle")
    with pytest.raises(ApiError, match="repeated a next_token"):
        list(_client(sandbox, "whoop").iter_collection("/developer/v2/cycle"))
    assert len([r for r in sandbox.requests if r["path"] == "/developer/v2/cycle"]) == 2


def test_alternate_offset_fault_ends_withings_paging(sandbox):
    sandbox.add_fault("alternate_offset", "/measure")
    with pytest.raises(ApiError, match="offset must grow"):
        list(_client(sandbox, "withings").iter_measure_pages("/measure", lastupdate=0))
    assert len([r for r in sandbox.requests if r["path"] == "/measure"]) == 3


@pytest.mark.parametrize("style", ["no_remaining", "retry_after", "bare"])
def test_429_styles_are_waited_out(sandbox, style):
    sleep = NoSleep()
    sandbox.add_fault("rate_limit", "/developer/v2/recovery", times=1, style=style, reset=7)
    pages = list(_client(sandbox, "whoop", sleep).iter_collection("/developer/v2/recovery"))
    assert pages and sum(sleep.calls) >= (7 if style != "bare" else 60)


def test_a_daily_reset_fails_the_run_at_once(sandbox):
    sleep = NoSleep()
    sandbox.add_fault("rate_limit", "/developer/v2/cycle", times=1, style="exhausted", reset=86400)
    with pytest.raises(RateLimited, match="next window in 24 h 0 min"):
        list(_client(sandbox, "whoop", sleep, max_wait=300).iter_collection("/developer/v2/cycle"))
    assert sleep.calls == []


def test_withings_601_with_wait_seconds(sandbox):
    sleep = NoSleep()
    sandbox.add_fault("withings_status", "/measure", times=1, status=601, wait_seconds=9)
    assert list(_client(sandbox, "withings", sleep).iter_measure_pages("/measure", lastupdate=0))
    assert any(9 <= s <= 10.01 for s in sleep.calls), sleep.calls


def test_trickle_fault_ends_within_the_deadline(sandbox):
    client = _client(sandbox, "whoop", timeout=1.0, deadline=2.0, max_retries=0)
    client.tokens.access_token()  # refresh first, outside the fault
    sandbox.add_fault("trickle", "/developer/v2/cycle", ms=300)
    started = time.monotonic()
    with pytest.raises(TransientError, match="deadline"):
        list(client.iter_collection("/developer/v2/cycle"))
    assert time.monotonic() - started < 10


def test_access_token_lifetime_is_configurable_over_admin(sandbox):
    answer = requests.post(f"{sandbox.url}/_sandbox/token-ttl", json={"seconds": 1, "provider": "whoop"}, timeout=5)
    assert answer.json() == {"access_ttl": 1.0, "provider": "whoop"}
    client = _client(sandbox, "whoop")
    client.get_profile()
    assert client.tokens._token.lifetime == 1 and sandbox.refresh_count("whoop") == 1
    assert sandbox.state()["refreshes"] == {"whoop": 1, "withings": 0}
