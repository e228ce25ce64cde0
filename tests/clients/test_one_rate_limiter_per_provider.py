"""The providers' limits are the app's, not a client's: every client of a process (each account
has its own) takes its slots from one limiter per provider."""

from __future__ import annotations

import time

from api_clients.whoop import WhoopClient
from api_clients.withings import WithingsClient
from tests.helpers.api import provider, store_with


def test_every_client_of_a_provider_shares_one_limiter_and_the_providers_do_not():
    alice, bob = (WhoopClient(provider("whoop"), store_with("whoop")) for _ in range(2))
    withings = WithingsClient(provider("withings"), store_with("withings", user_id=3141592))
    assert alice.http.limiter is bob.http.limiter
    assert withings.http.limiter is not alice.http.limiter
    # A request of one account counts against the other's window too.
    per_minute = alice.http.limiter.per_minute
    for _ in range(per_minute):
        alice.http.limiter.acquire()
    assert len(bob.http.limiter._sent) == per_minute


def test_a_fake_clock_gets_a_limiter_of_its_own():
    real = WhoopClient(provider("whoop"), store_with("whoop"))
    fake = WhoopClient(provider("whoop"), store_with("whoop"), clock=lambda: 0.0, sleep=time.sleep)
    assert fake.http.limiter is not real.http.limiter
