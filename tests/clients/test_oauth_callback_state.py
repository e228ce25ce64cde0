"""The OAuth callback under forged requests: each gets 400 and a log line, the real redirect still lands."""

from __future__ import annotations

import logging

import requests

from tests.clients.test_authorization_code_flow import _provider, _run_connect, _wait_for_url
from tests.helpers.api import MemoryTokenStore


def test_a_wrong_or_missing_state_is_refused_and_the_flow_keeps_waiting(sandbox, caplog):
    caplog.set_level(logging.WARNING, logger="api_clients.oauth_flow")
    provider = _provider(sandbox, "whoop")
    store = MemoryTokenStore()
    thread, lines, result = _run_connect(provider, store)
    url = _wait_for_url(lines)
    # What any web page can send with an <img> while `connect` waits.
    forged = requests.get(f"{provider.redirect_uri}?code=stolen&state=AAAAAAAA", timeout=10)
    bare = requests.get(f"{provider.redirect_uri}?code=stolen", timeout=10)
    assert (forged.status_code, bare.status_code) == (400, 400)
    assert thread.is_alive() and store.load("whoop") is None  # nothing ended, nothing stored
    assert requests.get(url, timeout=10).status_code == 200  # the user's real redirect
    thread.join(20)
    assert not thread.is_alive() and "error" not in result, result
    assert store.load("whoop").refresh_token
    refused = [r.getMessage() for r in caplog.records if "refused (400)" in r.getMessage()]
    assert len(refused) == 2 and "wrong state" in refused[0] and "missing state" in refused[1]
    assert all("stolen" not in line for line in refused)
