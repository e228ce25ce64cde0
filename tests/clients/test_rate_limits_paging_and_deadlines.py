"""Bounded clients: shared rate-limit blocks with a wait budget, paging that must advance, deadlines."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests
import responses
from responses import matchers

from api_clients import deadline
from api_clients.errors import ApiError, RateLimited, ScopeMissing, TransientError, format_wait
from api_clients.http import HttpClient
from api_clients.whoop import WhoopClient
from api_clients.withings import WithingsClient
from configuration.version import __version__
from sync.resources import scopes_of
from tests.helpers.api import WHOOP_URL, WITHINGS_URL, NoSleep, provider, store_with

CYCLE_URL = f"{WHOOP_URL}/developer/v2/cycle"
RECOVERY_URL = f"{WHOOP_URL}/developer/v2/recovery"
MEASURE_URL = f"{WITHINGS_URL}/measure"


def _whoop(sleep=None, **kw):
    sleep = sleep or NoSleep()
    return WhoopClient(
        provider("whoop"), store_with("whoop"), sleep=sleep, clock=getattr(sleep, "clock", time.monotonic), **kw
    )


def _withings(sleep=None, **kw):
    sleep = sleep or NoSleep()
    return WithingsClient(
        provider("withings"), store_with("withings", user_id=3141592), sleep=sleep, clock=sleep.clock, **kw
    )


def _ok(records, more=0, offset=0, key="measuregrps"):
    return {
        "status": 0,
        "body": {"updatetime": 1, "timezone": "Europe/Berlin", key: records, "more": more, "offset": offset},
    }


# ---- rate limits ---------------------------------------------------------------------------


def test_format_wait():
    assert [format_wait(s) for s in (5, 125, 86399, 86400)] == ["5 s", "2 min", "23 h 59 min", "24 h 0 min"]


def test_a_429_with_retry_after_alone_blocks_every_thread(mock):
    """A gateway's 429 (Retry-After, no X-RateLimit-Remaining) holds back the other threads too."""
    sent = {}
    waiting = threading.Event()
    mock.get(CYCLE_URL, status=429, headers={"Retry-After": "1"})
    mock.get(CYCLE_URL, json={"records": []})

    def recovery(request):
        sent["recovery"] = time.monotonic()
        return (200, {}, '{"records": []}')

    mock.add_callback(responses.GET, RECOVERY_URL, callback=recovery)

    def sleep(seconds):
        sent.setdefault("blocked", time.monotonic())
        waiting.set()
        time.sleep(seconds)

    client = _whoop(sleep=sleep)
    client.http.sleep = client.http.limiter.sleep = sleep
    first = threading.Thread(target=lambda: list(client.iter_collection("/developer/v2/cycle")))
    first.start()
    assert waiting.wait(10)
    assert list(client.iter_collection("/developer/v2/recovery")) == [[]]
    first.join(10)
    assert sent["recovery"] - sent["blocked"] >= 0.9  # it waited for the window, as the first thread did


def test_a_daily_reset_fails_at_once_without_sleeping(mock):
    sleep = NoSleep()
    mock.get(
        CYCLE_URL,
        json={"records": [], "next_token": "MTIz"},
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "86399"},
    )
    with pytest.raises(RateLimited, match="rate limit: next window in 23 h 59 min") as err:
        list(_whoop(sleep=sleep, max_wait=300).iter_collection("/developer/v2/cycle"))
    assert sleep.calls == [] and err.value.retry_after == pytest.approx(86399)
    assert "\n" not in str(err.value)


def test_a_429_beyond_the_budget_fails_at_once(mock):
    sleep = NoSleep()
    mock.get(CYCLE_URL, status=429, headers={"X-RateLimit-Reset": "86400"})
    with pytest.raises(RateLimited, match="next window in 24 h"):
        list(_whoop(sleep=sleep, max_wait=300).iter_collection("/developer/v2/cycle"))
    assert sleep.calls == []


def test_withings_601_wait_seconds_is_honoured(mock):
    sleep = NoSleep()
    mock.post(MEASURE_URL, json={"status": 601, "body": {"wait_seconds": 42}, "error": "Too many requests"})
    mock.post(MEASURE_URL, json=_ok([]))
    assert len(list(_withings(sleep=sleep).iter_measure_pages("/measure", lastupdate=0))) == 1
    assert any(42 <= s <= 43.01 for s in sleep.calls), sleep.calls


def test_withings_601_beyond_the_budget_fails_at_once(mock):
    sleep = NoSleep()
    mock.post(MEASURE_URL, json={"status": 601, "body": {"wait_seconds": 3600}})
    with pytest.raises(RateLimited, match="next window in 1 h 0 min"):
        list(_withings(sleep=sleep, max_wait=300).iter_measure_pages("/measure", lastupdate=0))
    assert sleep.calls == []


# ---- paging --------------------------------------------------------------------------------


def test_a_repeating_next_token_stops_with_an_error(mock):
    calls = []

    def page(request):
        calls.append(request.url)
        assert len(calls) < 20, "paging did not stop"
        return (200, {}, '{"records": [{"id": 1}], "next_token": "MTIzOjEyMw"}')

    mock.add_callback(responses.GET, CYCLE_URL, callback=page)
    with pytest.raises(ApiError, match="repeated a next_token"):
        list(_whoop().iter_collection("/developer/v2/cycle"))
    assert len(calls) == 2


def test_whoop_paging_stops_at_max_pages(mock):
    counter = iter(range(1000))
    mock.add_callback(
        responses.GET, CYCLE_URL, callback=lambda r: (200, {}, f'{{"records": [], "next_token": "t{next(counter)}"}}')
    )
    with pytest.raises(ApiError, match="more than 5 pages"):
        list(_whoop().iter_collection("/developer/v2/cycle", max_pages=5))
    assert len(mock.calls) == 5


def test_withings_offsets_that_do_not_grow_stop_with_an_error(mock):
    offsets = iter([1, 2, 1, 2, 1, 2] * 5)
    mock.add_callback(
        responses.POST,
        MEASURE_URL,
        callback=lambda r: (200, {}, json.dumps(_ok([{"grpid": 1}], more=1, offset=next(offsets)))),
    )
    with pytest.raises(ApiError, match="offset must grow"):
        list(_withings().iter_measure_pages("/measure", lastupdate=0))
    assert len(mock.calls) == 3


def test_withings_paging_stops_at_max_pages(mock):
    counter = iter(range(1, 1000))
    mock.add_callback(
        responses.POST, MEASURE_URL, callback=lambda r: (200, {}, json.dumps(_ok([], more=1, offset=next(counter))))
    )
    with pytest.raises(ApiError, match="more than 4 pages"):
        list(_withings().iter_measure_pages("/measure", lastupdate=0, max_pages=4))


@pytest.mark.parametrize(
    "path, action, key",
    [
        ("/measure", "getmeas", "measuregrps"),
        ("/v2/measure", "getactivity", "activities"),
        ("/v2/sleep", "getsummary", "series"),
    ],
)
def test_generic_withings_pager(mock, path, action, key):
    url = f"{WITHINGS_URL}{path}"
    mock.post(
        url,
        json=_ok([{"id": 1}], more=1, offset=1, key=key),
        match=[matchers.urlencoded_params_matcher({"action": action, "lastupdate": "7"})],
    )
    mock.post(
        url,
        json=_ok([{"id": 2}], key=key),
        match=[matchers.urlencoded_params_matcher({"action": action, "lastupdate": "7", "offset": "1"})],
    )
    pages = list(_withings().iter_action_pages(path, action, {"lastupdate": 7}, key))
    assert [p.records for p in pages] == [[{"id": 1}], [{"id": 2}]]
    assert pages[0].timezone == "Europe/Berlin" and pages[0].more and not pages[1].more


def test_generic_whoop_collection(mock):
    url = f"{WHOOP_URL}/developer/v2/user/measurement/body"
    mock.get(url, json={"records": [{"height_meter": 1.8}]}, match=[matchers.query_param_matcher({"limit": "25"})])
    assert list(_whoop().iter_collection("/developer/v2/user/measurement/body")) == [[{"height_meter": 1.8}]]


# ---- missing scopes ------------------------------------------------------------------------


def test_whoop_403_is_a_missing_scope(mock):
    mock.get(f"{WHOOP_URL}/developer/v2/user/measurement/body", status=403, json={"error": "forbidden"})
    with pytest.raises(ScopeMissing) as err:
        _whoop().get_object("/developer/v2/user/measurement/body", scope="read:body_measurement")
    assert err.value.scope == "read:body_measurement" and err.value.command == "python etl.py connect whoop"


def test_withings_2555_is_a_missing_scope(mock):
    mock.post(f"{WITHINGS_URL}/v2/sleep", json={"status": 2555, "body": {}, "error": "Unauthorized"})
    with pytest.raises(ScopeMissing) as err:
        list(
            _withings().iter_action_pages("/v2/sleep", "getsummary", {"lastupdate": 0}, "series", scope="user.activity")
        )
    assert err.value.scope == "user.activity"


def test_connect_asks_for_the_scopes_of_every_resource():
    assert set(WhoopClient.scope_text(scopes_of("whoop")).split()) >= {
        "offline",
        "read:cycles",
        "read:recovery",
        "read:sleep",
        "read:workout",
        "read:profile",
        "read:body_measurement",
    }
    assert WithingsClient.scope_text(scopes_of("withings")) == "user.metrics,user.activity,user.info"


# ---- deadlines -----------------------------------------------------------------------------


def _trickling_server(headers_first: bool):
    """A local server that answers one byte every 0.3 s (a read timeout never fires)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n"
            if headers_first:
                conn.sendall(answer)
                answer = b"{" + b" " * 398 + b"}"
            for byte in answer:
                if stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.3)

    threading.Thread(target=serve, daemon=True).start()
    return listener, stop


@pytest.mark.parametrize("headers_first", [False, True])
def test_a_trickling_server_ends_within_the_deadline(headers_first):
    listener, stop = _trickling_server(headers_first)
    client = HttpClient("whoop", timeout=1.0, deadline=2.0, max_retries=0)
    started = time.monotonic()
    try:
        with pytest.raises(TransientError, match="deadline"):
            client.request("GET", f"http://127.0.0.1:{listener.getsockname()[1]}/developer/v2/cycle")
    finally:
        stop.set()
        listener.close()
    assert time.monotonic() - started < 10


def test_a_request_within_the_deadline_is_untouched(monkeypatch):
    ours, fired, done_when_fired = [], threading.Event(), []
    enter, fire = deadline.Watchdog.__enter__, deadline.Watchdog._fire

    def armed(watchdog):
        ours.append(watchdog)
        return enter(watchdog)

    def watched_fire(watchdog):
        if watchdog not in ours:  # another test's request
            return fire(watchdog)
        done_when_fired.append(watchdog._done)
        fire(watchdog)
        fired.set()

    monkeypatch.setattr(deadline.Watchdog, "__enter__", armed)
    monkeypatch.setattr(deadline.Watchdog, "_fire", watched_fire)
    with responses.RequestsMock() as mock:
        mock.get(CYCLE_URL, json={"records": []})
        assert HttpClient("whoop", timeout=1.0, deadline=0.5).request("GET", CYCLE_URL).status_code == 200
    # Its deadline comes after the answer: the watchdog fires disarmed and shuts nothing down.
    assert fired.wait(timeout=30) and done_when_fired == [True]


def test_every_call_sends_the_user_agent(mock):
    mock.get(
        CYCLE_URL,
        json={"records": []},
        match=[matchers.header_matcher({"User-Agent": f"whoop-data-platform/{__version__}"}, strict_match=False)],
    )
    assert list(_whoop().iter_collection("/developer/v2/cycle")) == [[]]
    assert requests  # the module is what the clients use underneath


@pytest.mark.parametrize(
    "header, expected",
    [
        ("1000, 1000;window=60, 10000;window=86400", 1000),
        ("40, 40;window=60", 40),
        ("10000;window=86400", 100),  # no per-minute entry: the configured pacing stays
        ("garbage", 100),
        (None, 100),
    ],
)
def test_the_client_paces_at_the_limit_the_server_states(header, expected):
    from api_clients.http import RateLimiter

    limiter = RateLimiter(100, clock=lambda: 0.0, sleep=lambda s: None, name="whoop")
    limiter.server_limit(header)
    assert limiter.per_minute == expected
