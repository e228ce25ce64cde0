"""Per-client rate limiting: at least 60 requests a minute from one client go through, then 429."""

from __future__ import annotations

from tests.webhooks.conftest import asgi_call, config
from webhooks.ratelimit import MAX_CLIENTS, RateLimiter
from webhooks.receiver import create_app
from webhooks.sink import Outcome


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _NoSink:
    def accept(self, event):
        return Outcome.STORED


def test_sixty_requests_a_minute_from_one_client_all_pass_at_the_lowest_setting():
    clock = _Clock()
    limiter = RateLimiter(60, monotonic=clock)
    for _ in range(60 * 5):  # five minutes of one request a second
        assert limiter.wait_for("198.51.100.1") == 0
        clock.now += 1.0


def test_a_burst_past_the_limit_gets_429_with_retry_after_and_other_clients_go_on():
    clock = _Clock()
    app = create_app(config(rate_per_minute=60), _NoSink(), RateLimiter(60, monotonic=clock))
    answers = [asgi_call(app, "POST", "/webhooks/whoop", {})[0] for _ in range(61)]
    assert answers[:60] == [401] * 60  # through the limiter, refused for having no signature
    status, headers, body = asgi_call(app, "POST", "/webhooks/whoop", {})
    assert (status, body) == (429, b"Too Many Requests\n") and int(headers[b"retry-after"]) >= 1
    assert asgi_call(app, "GET", "/healthz", {})[0] == 200  # probes are never limited
    clock.now += 60
    assert asgi_call(app, "POST", "/webhooks/whoop", {})[0] == 401


def test_the_limiter_forgets_its_oldest_clients_beyond_its_bound():
    limiter = RateLimiter(60, monotonic=_Clock())
    for n in range(MAX_CLIENTS + 50):
        limiter.wait_for(f"client-{n}")
    assert len(limiter._buckets) == MAX_CLIENTS


def test_behind_a_local_proxy_each_forwarded_client_has_its_own_limit():
    import requests

    from tests.webhooks.conftest import running

    app = create_app(config(rate_per_minute=60), _NoSink(), RateLimiter(60, monotonic=_Clock()))
    with running(app) as url, requests.Session() as http:

        def post(client: str) -> int:
            return http.post(f"{url}/webhooks/whoop", headers={"X-Forwarded-For": client}, timeout=10).status_code

        assert [post("198.51.100.1") for _ in range(61)][-2:] == [401, 429]
        assert post("198.51.100.2") == 401  # the proxy's other client is not held back
