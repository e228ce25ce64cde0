"""A process that syncs account after account (a worker) paces them with one limiter per provider."""

from __future__ import annotations

from api_clients.http import HttpClient, shared_rate_limits


def test_clients_made_inside_the_block_share_their_providers_limiter():
    with shared_rate_limits({"whoop": 100, "withings": 120}) as limiters:
        first, second = HttpClient("whoop", per_minute=100), HttpClient("whoop", per_minute=100)
        withings = HttpClient("withings", per_minute=120)
        assert first.limiter is second.limiter is limiters["whoop"]
        assert withings.limiter is limiters["withings"]
        first.limiter.acquire()
        assert len(second.limiter._sent) == 1  # a request of one account counts for the next
    outside = HttpClient("whoop", per_minute=100)
    assert outside.limiter is not limiters["whoop"]  # a run outside a worker keeps its own
