"""Token lifecycle: rotation persisted before use, serialised refreshes, nothing secret in logs."""

from __future__ import annotations

import logging
import multiprocessing as mp
import threading
from datetime import datetime, timedelta, timezone

import pytest
import responses

from api_clients.errors import ReconnectRequired
from api_clients.oauth import Token, TokenManager
from api_clients.whoop import WhoopClient
from tests.helpers.api import (
    CLIENT_SECRET,
    OLD_ACCESS,
    OLD_REFRESH,
    WHOOP_URL,
    MemoryTokenStore,
    fixture,
    provider,
    store_with,
)

NEW = fixture("whoop/refresh_response.json")


def test_two_threads_refreshing_at_once_refresh_once():
    store = store_with("whoop")
    calls = []
    barrier = threading.Barrier(2)

    def refresh(refresh_token):
        calls.append(refresh_token)
        return Token("new-access-123456", "new-refresh-123456", datetime.now(timezone.utc) + timedelta(hours=1))

    managers = [TokenManager("whoop", store, refresh) for _ in range(2)]
    results = []

    def worker(manager):
        barrier.wait()
        results.append(manager.refresh(rejected=OLD_ACCESS["whoop"]))

    threads = [threading.Thread(target=worker, args=(m,)) for m in managers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [OLD_REFRESH["whoop"]]
    assert results == ["new-access-123456"] * 2


def test_missing_token_asks_to_connect():
    manager = TokenManager("withings", MemoryTokenStore(), lambda rt: None)
    with pytest.raises(ReconnectRequired, match="python etl.py connect withings"):
        manager.access_token()


def test_token_repr_and_errors_hide_secrets():
    token = Token(OLD_ACCESS["whoop"], OLD_REFRESH["whoop"], None, "s", 1)
    assert OLD_ACCESS["whoop"] not in repr(token) and OLD_REFRESH["whoop"] not in repr(token)
    client = WhoopClient(provider("whoop"), store_with("whoop"))
    assert CLIENT_SECRET not in repr(client) and CLIENT_SECRET not in repr(provider("whoop"))


def test_no_token_or_secret_in_debug_logs(caplog):
    caplog.set_level(logging.DEBUG)
    store = store_with("whoop", expired=True)
    with responses.RequestsMock() as mock:
        mock.post(f"{WHOOP_URL}/oauth/oauth2/token", json=NEW)
        mock.get(f"{WHOOP_URL}/developer/v2/cycle", json={"records": [], "next_token": "abc"})
        mock.get(f"{WHOOP_URL}/developer/v2/cycle", status=401)
        mock.post(f"{WHOOP_URL}/oauth/oauth2/token", status=400, json={"error": "invalid_grant"})
        with pytest.raises(ReconnectRequired) as err:
            list(WhoopClient(provider("whoop"), store).iter_collection("/developer/v2/cycle"))
    text = caplog.text + str(err.value)
    assert "refreshed" in caplog.text  # the run was logged...
    for secret in (OLD_ACCESS["whoop"], OLD_REFRESH["whoop"], NEW["access_token"], NEW["refresh_token"], CLIENT_SECRET):
        assert secret not in text  # ...without a single secret


# ---- across processes, against the sandbox's real rotation, with the database store ------------


def _refresh_in_process(db_url: str, base_url: str, start, out) -> None:
    from configuration.settings import ProviderSettings
    from storage.engine import make_engine
    from storage.tokens import DbTokenStore

    settings = ProviderSettings(
        "whoop", base_url, base_url, "http://127.0.0.1:1/cb", "sandbox-whoop-client", "sandbox-whoop-secret"
    )
    engine = make_engine(db_url)
    start.wait(10)
    try:
        out.put(("ok", WhoopClient(settings, DbTokenStore(engine)).get_profile()["user_id"]))
    except Exception as exc:
        out.put(("error", str(exc)))
    finally:
        engine.dispose()


def test_two_processes_refreshing_at_once_keep_one_valid_token(db_url, sandbox):
    from storage.engine import make_engine
    from storage.tokens import DbTokenStore

    engine = make_engine(db_url)
    store = DbTokenStore(engine)
    store.save("whoop", Token("", sandbox.mint_refresh_token("whoop"), datetime(1970, 1, 1, tzinfo=timezone.utc)))
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_refresh_in_process, args=(db_url, sandbox.url, start, out)) for _ in range(2)]
    for p in procs:
        p.start()
    start.set()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(10)
    assert results == [("ok", 10129), ("ok", 10129)]
    refreshes = [r for r in sandbox.requests if r["path"] == "/oauth/oauth2/token"]
    assert len(refreshes) == 1  # the second process adopted the first one's rotated token
    stored = store.load("whoop")
    assert stored.refresh_token and stored.access_token
    engine.dispose()
